#include "replay/forensics_cmd.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "eventlog/timefmt.h"
#include "forensics/audit.h"
#include "forensics/bundle.h"
#include "forensics/export.h"
#include "forensics/redact.h"
#include "forensics/seal.h"
#include "replay/args.h"
#include "replay/json_writer.h"
#include "replay/replay.h"
#include "replay/terminal.h"

namespace twin {
namespace {

constexpr int kExitProblem = 1;
constexpr int kExitUsage = 2;

// Set while `verify` without --key is handed back to ReplayMain's own implementation.
bool g_plain_verify = false;

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// An optional time argument: empty keeps *out.
bool ParseOptionalTime(const char* cmd, const char* what, const std::string& text, uint64_t now,
                       uint64_t* out) {
  if (text.empty()) return true;
  auto r = ParseTimeArg(what, text, now);
  if (!r.ok()) {
    PrintError(cmd, r.status().message());
    return false;
  }
  *out = r.value();
  return true;
}

Result<uint64_t> ParseDuration(const std::string& s) {
  if (s.empty()) return Status::InvalidArgument("empty duration");
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (v > 1'000'000'000ull) return Status::InvalidArgument("duration too large: " + s);
    ++i;
  }
  if (i == 0) return Status::InvalidArgument("duration must start with a number: " + s);
  const std::string unit = s.substr(i);
  uint64_t mul;
  if (unit.empty() || unit == "s") mul = 1'000'000'000ull;
  else if (unit == "m") mul = 60'000'000'000ull;
  else if (unit == "h") mul = 3'600'000'000'000ull;
  else if (unit == "d") mul = 86'400'000'000'000ull;
  else return Status::InvalidArgument("duration unit must be s, m, h or d: " + s);
  if (v == 0) return Status::InvalidArgument("duration must be more than 0: " + s);
  if (v > UINT64_MAX / mul) return Status::InvalidArgument("duration too large: " + s);
  return v * mul;
}

// Reads K, or the first line of the file when K is "@path".
Result<VerificationKey> LoadKeyArg(const std::string& k) {
  std::string text = k;
  if (!k.empty() && k[0] == '@') {
    std::ifstream f(k.substr(1));
    if (!f) return Status::NotFound("cannot read the key file " + k.substr(1));
    std::getline(f, text);
  }
  return ParseVerificationKey(text);
}

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)), t0_(std::chrono::steady_clock::now()) {}
  void Tick(uint64_t n, const char* what) {
    if (!enabled_) return;
    const double s = SecondsSince(t0_);
    fmt::print(stderr, "\r{} {} ({:.0f}/s)   ", n, what, s > 0 ? n / s : 0.0);
    shown_ = true;
  }
  void Done() {
    if (shown_) fmt::print(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point t0_;
};

struct RangeArgs {
  std::string data_dir = kDefaultDataDir;
  std::string since, until;
  std::vector<std::string> redact;
  bool no_default_redact = false;
  bool no_progress = false;
};

Redactor MakeRedactor(const RangeArgs& a) {
  std::vector<std::string> rules = a.redact;
  if (!a.no_default_redact) {
    for (auto& r : DefaultRedactRules()) rules.push_back(r);
  }
  return Redactor(std::move(rules), !a.no_default_redact);
}

std::string JoinRules(const Redactor& r) {
  std::string s = r.keyword_defaults() ? "defaults" : "";
  for (const auto& x : r.rules()) s += (s.empty() ? "" : ",") + x;
  return s.empty() ? "none" : s;
}

void ReportAudit(const std::string& data_dir, const Event& audit) {
  auto r = RecordAudit(data_dir, audit);
  if (!r.ok()) {
    PrintError("twin-replay: warning: ",
               "this " + (audit.attrs.empty() ? std::string("action") : audit.attrs[0].second) +
                   " could not be recorded in the log's audit trail: " + r.status().message());
  }
}

// Parses argv. Returns the exit code to return now (after --help or a usage error, explained on
// stderr in one line), or nullopt to go on.
std::optional<int> ParseArgsOrExplain(CLI::App& app, int argc, char** argv, std::string_view cmd) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    PrintError(fmt::format("twin-replay {}: ", cmd),
               fmt::format("{} (see twin-replay {} --help)", e.what(), cmd));
    return kExitUsage;
  }
  return std::nullopt;
}

int CmdExport(int argc, char** argv) {
  CLI::App app{"twin-replay export: the event timeline for Timesketch, Elastic (ECS), OCSF or a spreadsheet"};
  auto* sub = app.add_subcommand("export", app.get_description());
  RangeArgs a;
  std::string format, out = "-";
  std::vector<std::string> kinds;
  std::optional<std::string> pid_text, port_text;  // checked by replay/args.h
  std::optional<std::string> unit;
  sub->add_option("--data-dir", a.data_dir, "safetytwin data dir")->capture_default_str();
  sub->add_option("--format", format, "timesketch | ecs | ocsf | csv")->required();
  sub->add_option("--out", out, "output file, - for stdout")->capture_default_str();
  sub->add_option("--since", a.since, "start time (inclusive)");
  sub->add_option("--until", a.until, "end time (inclusive)");
  sub->add_option("--kind", kinds, "event kinds (repeatable or comma-separated)")->allow_extra_args(false);
  sub->add_option("--pid", pid_text, "only this pid");
  sub->add_option("--unit", unit, "only this unit");
  sub->add_option("--port", port_text, "only sockets on this port");
  sub->add_option("--redact", a.redact, "redact argv values: NAME= (value after it) or NAME (next argument); repeatable")->allow_extra_args(false);
  sub->add_flag("--no-default-redact", a.no_default_redact, "do not apply the default secret patterns");
  sub->add_flag("--no-progress", a.no_progress, "no progress line on a terminal");
  app.require_subcommand(1);
  app.add_option("--data-dir", a.data_dir, "safetytwin data dir");
  if (auto rc = ParseArgsOrExplain(app, argc, argv, "export")) return *rc;
  auto fmt_r = ParseExportFormat(format);
  if (!fmt_r.ok()) {
    PrintError("twin-replay export: --format: ", fmt_r.status().message());
    return kExitUsage;
  }
  ExportOptions o;
  o.format = fmt_r.value();
  const uint64_t now = WallNowNs();
  if (!ParseOptionalTime("twin-replay export: ", "--since", a.since, now, &o.filter.since_ns) ||
      !ParseOptionalTime("twin-replay export: ", "--until", a.until, now, &o.filter.until_ns)) {
    return kExitUsage;
  }
  if (Status s = CheckTimeOrder("--since", o.filter.since_ns, "--until", o.filter.until_ns); !s.ok()) {
    PrintError("twin-replay export: ", s.message());
    return kExitUsage;
  }
  Status ks = ParseKinds(kinds, &o.filter.kinds);
  if (!ks.ok()) {
    PrintError("twin-replay export: --kind: ", ks.message());
    return kExitUsage;
  }
  if (pid_text) {
    auto p = ParsePidArg("--pid", *pid_text);
    if (!p.ok()) {
      PrintError("twin-replay export: ", p.status().message());
      return kExitUsage;
    }
    o.filter.pid = p.value();
  }
  if (port_text) {
    auto p = ParsePortArg("--port", *port_text);
    if (!p.ok()) {
      PrintError("twin-replay export: ", p.status().message());
      return kExitUsage;
    }
    o.filter.port = p.value();
  }
  o.filter.unit = unit;
  o.redactor = MakeRedactor(a);

  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(a.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (o.filter.since_ns > 0) {
    auto st = StateAt(*log, o.filter.since_ns - 1);
    if (st.ok()) o.host = st.value().host;
  }
  FILE* f = stdout;
  if (out != "-") {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
      PrintError("twin-replay export: ", "--out: cannot create " + out + ": " + std::strerror(errno));
      return kExitUsage;
    }
  }
  Progress progress(!a.no_progress);
  o.progress = [&](uint64_t n) { progress.Tick(n, "events exported"); };
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ExportEvents(*log, o, [&](std::string_view chunk) -> Status {
    if (fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size()) {
      return Status::IOError("cannot write " + out + ": " + std::strerror(errno));
    }
    return Status::Ok();
  });
  progress.Done();
  bool write_ok = fflush(f) == 0;
  if (f != stdout) write_ok = (fsync(fileno(f)) == 0 || errno == EINVAL) && fclose(f) == 0 && write_ok;
  if (!r.ok()) {
    PrintError("twin-replay export: ", r.status().message());
    return r.status().code() == Status::Code::kIOError ? kExitUsage : kExitProblem;
  }
  if (!write_ok) {
    PrintError("twin-replay export: ", "cannot finish writing " + out + ": " + std::strerror(errno));
    return kExitUsage;
  }
  const ExportStats& st = r.value();
  const double secs = SecondsSince(t0);
  log.reset();
  std::string kinds_text;
  for (auto k : o.filter.kinds) kinds_text += (kinds_text.empty() ? "" : ",") + std::string(KindName(k));
  ReportAudit(a.data_dir,
              MakeAuditEvent("export",
                             {{"format", std::string(ExportFormatName(o.format))},
                              {"since", FormatRfc3339Ns(o.filter.since_ns)},
                              {"until", FormatRfc3339Ns(o.filter.until_ns)},
                              {"kinds", kinds_text.empty() ? "all" : kinds_text},
                              {"pid", o.filter.pid ? std::to_string(*o.filter.pid) : ""},
                              {"unit", unit.value_or("")},
                              {"port", o.filter.port ? std::to_string(*o.filter.port) : ""},
                              {"events", std::to_string(st.events)},
                              {"output", out == "-" ? "stdout" : out},
                              {"output_bytes", std::to_string(st.bytes)},
                              {"output_sha256", HashHex(st.sha256)},
                              {"redaction", JoinRules(o.redactor)},
                              {"redacted_events", std::to_string(st.redacted_events)}},
                             WallNowNs()));
  fmt::print(stderr, "exported {} events as {} to {} in {:.2f}s ({:.0f} events/s); sha256 {}{}\n",
             st.events, ExportFormatName(o.format), out == "-" ? "stdout" : EscapeForTerminal(out), secs,
             secs > 0 ? st.events / secs : 0.0, HashHex(st.sha256),
             st.redacted_events ? fmt::format("; {} events redacted", st.redacted_events) : "");
  return 0;
}

int CmdBundle(int argc, char** argv) {
  CLI::App app{"twin-replay bundle: a self-verifying case file (tar) of a time range"};
  auto* sub = app.add_subcommand("bundle", app.get_description());
  RangeArgs a;
  std::string out;
  bool json = false;
  sub->add_option("--data-dir", a.data_dir, "safetytwin data dir")->capture_default_str();
  sub->add_option("--since", a.since, "start time (inclusive)");
  sub->add_option("--until", a.until, "end time (inclusive)");
  sub->add_option("--out", out, "the bundle to write (case.tar)")->required();
  sub->add_option("--redact", a.redact, "redact argv values: NAME= or NAME; repeatable")->allow_extra_args(false);
  sub->add_flag("--no-default-redact", a.no_default_redact, "do not apply the default secret patterns");
  sub->add_flag("--no-progress", a.no_progress, "no progress line on a terminal");
  sub->add_flag("--json", json, "machine-readable summary");
  app.require_subcommand(1);
  app.add_option("--data-dir", a.data_dir, "safetytwin data dir");
  if (auto rc = ParseArgsOrExplain(app, argc, argv, "bundle")) return *rc;
  BundleOptions o;
  const uint64_t now = WallNowNs();
  if (!ParseOptionalTime("twin-replay bundle: ", "--since", a.since, now, &o.since_ns) ||
      !ParseOptionalTime("twin-replay bundle: ", "--until", a.until, now, &o.until_ns)) {
    return kExitUsage;
  }
  if (a.until.empty()) o.until_ns = now;
  if (Status s = CheckTimeOrder("--since", o.since_ns, "--until", o.until_ns); !s.ok()) {
    PrintError("twin-replay bundle: ", s.message());
    return kExitUsage;
  }
  o.redactor = MakeRedactor(a);
  o.created_by = AuditWho();
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(a.data_dir, false, &open_rc);
  if (!log) return open_rc;
  Progress progress(!a.no_progress);
  o.progress = [&](uint64_t n) { progress.Tick(n, "records bundled"); };
  const auto t0 = std::chrono::steady_clock::now();
  auto r = WriteBundle(*log, o, out);
  progress.Done();
  if (!r.ok()) {
    PrintError("twin-replay bundle: ", r.status().message());
    unlink(out.c_str());
    return r.status().code() == Status::Code::kIOError ? kExitUsage : kExitProblem;
  }
  const double secs = SecondsSince(t0);
  log.reset();
  const BundleStats& st = r.value();
  ReportAudit(a.data_dir, MakeAuditEvent("bundle",
                                         {{"since", FormatRfc3339Ns(o.since_ns)},
                                          {"until", FormatRfc3339Ns(o.until_ns)},
                                          {"records", std::to_string(st.records)},
                                          {"output", out},
                                          {"output_bytes", std::to_string(st.bytes)},
                                          {"sha256sums_sha256", st.sums_sha256},
                                          {"redaction", JoinRules(o.redactor)},
                                          {"redacted_records", std::to_string(st.redacted_records)}},
                                         WallNowNs()));
  if (json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().Field("bundle", out).FieldU("records", st.records).FieldU("seals", st.seals)
        .FieldU("redacted_records", st.redacted_records).FieldU("bytes", st.bytes)
        .Field("sha256sums_sha256", st.sums_sha256).EndObject();
    fmt::print("{}\n", s);
  } else {
    fmt::print("wrote {}: {} records, {} seals, {} redacted, {} bytes in {:.2f}s; SHA256SUMS sha256 {}\n",
               EscapeForTerminal(out),
               st.records, st.seals, st.redacted_records, st.bytes, secs, st.sums_sha256);
  }
  return 0;
}

int CmdVerifyBundle(int argc, char** argv) {
  CLI::App app{"twin-replay verify-bundle: check a case bundle offline"};
  auto* sub = app.add_subcommand("verify-bundle", app.get_description());
  std::string path, key;
  bool json = false;
  sub->add_option("BUNDLE", path, "case.tar")->required();
  sub->add_option("--key", key, "verification key from setup-keys (or @file)");
  sub->add_flag("--json", json, "machine-readable output");
  app.require_subcommand(1);
  if (auto rc = ParseArgsOrExplain(app, argc, argv, "verify-bundle")) return *rc;
  std::optional<VerificationKey> vk;
  if (!key.empty()) {
    auto k = LoadKeyArg(key);
    if (!k.ok()) {
      PrintError("twin-replay verify-bundle: --key: ", k.status().message());
      return kExitUsage;
    }
    vk = k.value();
  }
  const auto t0 = std::chrono::steady_clock::now();
  BundleReport rep = VerifyBundle(path, vk ? &*vk : nullptr);
  const double secs = SecondsSince(t0);
  if (json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().FieldB("ok", rep.ok()).FieldU("records", rep.records)
        .FieldU("chain_verified", rep.chain_verified).FieldU("redacted", rep.redacted)
        .FieldU("seals", rep.seals).FieldU("seals_matched", rep.seals_matched)
        .Field("first_key", rep.first_key).Field("last_key", rep.last_key).Field("last_hash", rep.last_hash);
    if (rep.macs) {
      w.Key("keyed_seals").BeginObject().FieldU("keyed", rep.macs->keyed).FieldU("valid", rep.macs->valid)
          .FieldU("unkeyed", rep.macs->unkeyed).EndObject();
    }
    w.Key("problems").BeginArray();
    for (const auto& p : rep.problems) w.BeginObject().Field("file", p.file).Field("what", p.what).EndObject();
    if (rep.macs) {
      for (const auto& p : rep.macs->problems) w.BeginObject().Field("file", "manifest.json").Field("seal", p.key).Field("what", p.what).EndObject();
    }
    w.EndArray().Key("notes").BeginArray();
    for (const auto& n : rep.notes) w.String(n);
    if (rep.macs) for (const auto& n : rep.macs->notes) w.String(n);
    w.EndArray().FieldU("elapsed_us", static_cast<uint64_t>(secs * 1e6)).EndObject();
    fmt::print("{}\n", s);
  } else {
    if (rep.ok()) {
      fmt::print("OK: {} records ({} to {}), chain verified across {}, {} seals matched{}\n", rep.records,
                 EscapeForTerminal(rep.first_key), EscapeForTerminal(rep.last_key), rep.chain_verified,
                 rep.seals_matched,
                 rep.macs ? fmt::format(", {} keyed seals authentic", rep.macs->valid) : "");
    } else {
      fmt::print("FAILED: {}\n", EscapeForTerminal(path));
      for (const auto& p : rep.problems) {
        fmt::print("  {}: {}\n", EscapeForTerminal(p.file), EscapeForTerminal(p.what));
      }
      if (rep.macs) {
        for (const auto& p : rep.macs->problems) {
          fmt::print("  manifest.json: seal {}: {}\n", EscapeForTerminal(p.key), EscapeForTerminal(p.what));
        }
      }
    }
    for (const auto& n : rep.notes) fmt::print("  note: {}\n", EscapeForTerminal(n));
    if (rep.macs) for (const auto& n : rep.macs->notes) fmt::print("  note: {}\n", EscapeForTerminal(n));
    fmt::print("{} records checked in {:.2f}s\n", rep.records, secs);
  }
  return rep.ok() ? 0 : kExitProblem;
}

int CmdSetupKeys(int argc, char** argv) {
  CLI::App app{"twin-replay setup-keys: create the forward-secure seal key; prints the verification key once"};
  auto* sub = app.add_subcommand("setup-keys", app.get_description());
  std::string data_dir = kDefaultDataDir, interval = "15m";
  bool force = false;
  sub->add_option("--data-dir", data_dir, "safetytwin data dir")->capture_default_str();
  sub->add_option("--interval", interval, "seal interval (e.g. 15m, 900s, 1h)")->capture_default_str();
  sub->add_flag("--force", force, "replace an existing key (starts a new key chain)");
  app.require_subcommand(1);
  app.add_option("--data-dir", data_dir, "safetytwin data dir");
  if (auto rc = ParseArgsOrExplain(app, argc, argv, "setup-keys")) return *rc;
  auto iv = ParseDuration(interval);
  if (!iv.ok()) {
    PrintError("twin-replay setup-keys: --interval: ", iv.status().message());
    return kExitUsage;
  }
  auto vk = SetupSealKeys(data_dir, iv.value(), WallNowNs(), force);
  if (!vk.ok()) {
    PrintError("twin-replay setup-keys: ", vk.status().message());
    return kExitUsage;
  }
  fmt::print("{}\n", FormatVerificationKey(vk.value()));
  fmt::print(stderr,
             "Seal key written to {} (0600); twind seals every {} with it and evolves it after each seal.\n"
             "The line above is the VERIFICATION KEY. It is shown only now and is not stored on this host:\n"
             "keep it off the host (password manager, paper). Check later with\n"
             "  twin-replay verify --key KEY      and     twin-replay verify-bundle case.tar --key KEY\n",
             EscapeForTerminal(SealKeyPath(data_dir)), EscapeForTerminal(interval));
  return 0;
}

int CmdVerifyKeyed(int argc, char** argv) {
  CLI::App app{"twin-replay verify --key: check records, chain, seals and the seals' forward-secure MACs"};
  auto* sub = app.add_subcommand("verify", app.get_description());
  std::string data_dir = kDefaultDataDir, key;
  bool json = false;
  sub->add_option("--data-dir", data_dir, "safetytwin data dir")->capture_default_str();
  sub->add_option("--key", key, "verification key from setup-keys (or @file)")->required();
  sub->add_flag("--json", json, "machine-readable output");
  app.require_subcommand(1);
  app.add_option("--data-dir", data_dir, "safetytwin data dir");
  if (auto rc = ParseArgsOrExplain(app, argc, argv, "verify")) return *rc;
  auto vk = LoadKeyArg(key);
  if (!vk.ok()) {
    PrintError("twin-replay verify: --key: ", vk.status().message());
    return kExitUsage;
  }
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(data_dir, /*for_verify=*/true, &open_rc);
  if (!log) return open_rc;
  VerifyReport rep = log->Verify();
  auto seals = log->Seals();
  SealCheck sc;
  auto first = log->First();
  const uint64_t first_ns = first.ok() && first.value() ? first.value()->key.ts_ns : 0;
  if (seals.ok()) {
    sc = CheckSealMacs(vk.value(), seals.value(), first_ns);
  } else {
    sc.problems.push_back({"meta:seals", seals.status().message()});
  }
  const ChainHead head = log->Head();
  std::vector<std::string> notes = sc.notes;
  if (sc.valid > 0 && sc.last_keyed_count < head.count) {
    notes.push_back(std::to_string(head.count - sc.last_keyed_count) +
                    " records after the last keyed seal are protected by the chain only");
  }
  const bool ok = rep.ok() && sc.ok();
  if (json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().FieldB("ok", ok).FieldU("records", rep.records).FieldU("seals_checked", rep.seals_checked)
        .FieldU("keyed_seals", sc.keyed).FieldU("keyed_seals_valid", sc.valid).FieldU("unkeyed_seals", sc.unkeyed)
        .Field("head", HashHex(head.head)).Key("problems").BeginArray();
    for (const auto& p : rep.problems) w.BeginObject().Field("key", p.key).Field("what", p.what).EndObject();
    for (const auto& p : sc.problems) w.BeginObject().Field("key", p.key).Field("what", p.what).EndObject();
    w.EndArray().Key("notes").BeginArray();
    for (const auto& n : notes) w.String(n);
    w.EndArray().EndObject();
    fmt::print("{}\n", s);
  } else {
    if (ok) {
      fmt::print("OK: {} records, {} seals checked, {} keyed seals authentic ({} unkeyed), chain head {} at {}\n",
                 rep.records, rep.seals_checked, sc.valid, sc.unkeyed, HashHex(head.head), KeyToString(head.key));
    } else {
      fmt::print("FAILED\n");
      size_t shown = 0;
      for (const auto& p : rep.problems) {
        if (shown++ < 20) fmt::print("  {}: {}\n", EscapeForTerminal(p.key), EscapeForTerminal(p.what));
      }
      for (const auto& p : sc.problems) {
        if (shown++ < 40) fmt::print("  seal {}: {}\n", EscapeForTerminal(p.key), EscapeForTerminal(p.what));
      }
      fmt::print("{} records read, {} seals checked, {} keyed seals authentic of {}\n", rep.records,
                 rep.seals_checked, sc.valid, sc.keyed);
    }
    for (const auto& n : notes) fmt::print("  note: {}\n", EscapeForTerminal(n));
  }
  return ok ? 0 : kExitProblem;
}

bool HasKeyOption(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--key") == 0 || std::strncmp(argv[i], "--key=", 6) == 0) return true;
  }
  return false;
}

}  // namespace

bool IsForensicsCommand(const std::string& word) {
  if (word == "verify") return !g_plain_verify;
  return word == "export" || word == "bundle" || word == "verify-bundle" || word == "setup-keys";
}

int RunForensicsCommand(int argc, char** argv) {
  std::string cmd;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    cmd = a;
    break;
  }
  if (cmd == "export") return CmdExport(argc, argv);
  if (cmd == "bundle") return CmdBundle(argc, argv);
  if (cmd == "verify-bundle") return CmdVerifyBundle(argc, argv);
  if (cmd == "setup-keys") return CmdSetupKeys(argc, argv);
  if (cmd == "verify") {
    if (HasKeyOption(argc, argv)) return CmdVerifyKeyed(argc, argv);
    g_plain_verify = true;  // the core implementation handles the unkeyed verify
    int rc = ReplayMain(argc, argv);
    g_plain_verify = false;
    return rc;
  }
  PrintError("twin-replay: ", "unknown command " + cmd);
  return kExitUsage;
}

}  // namespace twin
