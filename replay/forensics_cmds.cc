// twin-replay's forensic commands: export, bundle, verify-bundle, setup-keys.
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
#include "ui/report.h"
#include "forensics/export.h"
#include "forensics/redact.h"
#include "forensics/seal.h"
#include "eventlog/filter.h"
#include "format/json_writer.h"
#include "replay/args.h"
#include "replay/cli.h"
#include "format/terminal.h"

namespace twin {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// An optional time argument: empty keeps *out.
bool ParseOptionalTime(const char* cmd, const char* what, const std::string& text, uint64_t now,
                       uint64_t* out) {
  return text.empty() || ParseTimeOrExplain(cmd, what, text, now, out);
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

struct ExportArgs {
  RangeArgs range;
  std::string format, out = "-";
  std::vector<std::string> kinds;
  std::optional<std::string> pid_text, port_text;  // checked by replay/args.h
  std::optional<std::string> unit;
};

int CmdExport(const CliContext& c, const ExportArgs& x) {
  const RangeArgs& a = x.range;
  const std::string& format = x.format;
  const std::string& out = x.out;
  const std::vector<std::string>& kinds = x.kinds;
  const std::optional<std::string>& pid_text = x.pid_text;
  const std::optional<std::string>& port_text = x.port_text;
  const std::optional<std::string>& unit = x.unit;
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
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
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
  ReportAudit(c.data_dir,
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

struct BundleArgs {
  RangeArgs range;
  std::string out;
  bool no_report = false;
};

int CmdBundle(const CliContext& c, const BundleArgs& x) {
  const RangeArgs& a = x.range;
  const std::string& out = x.out;
  const bool json = c.json;
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
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  Progress progress(!a.no_progress);
  o.progress = [&](uint64_t n) { progress.Tick(n, "records bundled"); };
  const auto t0 = std::chrono::steady_clock::now();
  if (!x.no_report) {
    // The same window as a page (report.html), redacted as the bundle's events are.
    ui::ReportLimits rl;
    rl.redactor = &o.redactor;
    auto html = ui::BuildReport(*log, c.data_dir, o.since_ns, o.until_ns, rl);
    if (!html.ok()) return ReportReadError(html.status(), c.data_dir);
    o.report_html = std::move(html).value();
  }
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
  ReportAudit(c.data_dir, MakeAuditEvent("bundle",
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

struct VerifyBundleArgs {
  std::string path;
  std::optional<std::string> key;
};

int CmdVerifyBundle(const CliContext& c, const VerifyBundleArgs& x) {
  const std::string& path = x.path;
  const bool json = c.json;
  std::optional<VerificationKey> vk;
  if (x.key) {
    auto k = LoadVerificationKeyArg(*x.key);
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

struct SetupKeysArgs {
  std::string interval = "15m";
  bool force = false;
};

int CmdSetupKeys(const CliContext& c, const SetupKeysArgs& x) {
  const std::string& data_dir = c.data_dir;
  const std::string& interval = x.interval;
  const bool force = x.force;
  auto iv = ParseDuration(interval);
  if (iv.ok() && iv.value() == 0) iv = Status::InvalidArgument("the seal interval must be more than 0");
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

// The options every command over a time range takes.
void AddRangeOptions(CLI::App* sub, RangeArgs& a, const char* redact_help) {
  sub->add_option("--since", a.since, "start time (inclusive)");
  sub->add_option("--until", a.until, "end time (inclusive)");
  sub->add_option("--redact", a.redact, redact_help)->allow_extra_args(false);
  sub->add_flag("--no-default-redact", a.no_default_redact, "do not apply the default secret patterns");
  sub->add_flag("--no-progress", a.no_progress, "no progress line on a terminal");
}

// Commands that print no JSON refuse --json rather than ignore it.
bool RefuseJson(const CliContext& c, const char* cmd) {
  if (!c.json) return false;
  PrintError(std::string("twin-replay ") + cmd + ": ", "--json: this command has no JSON output");
  return true;
}

}  // namespace

void AddForensicsCommands(CLI::App& app, CliContext& ctx) {
  auto* exp = app.add_subcommand(
      "export", "the event timeline for Timesketch, Elastic (ECS), OCSF or a spreadsheet");
  auto e = std::make_shared<ExportArgs>();
  exp->add_option("--format", e->format, "timesketch | ecs | ocsf | csv")->required();
  exp->add_option("--out", e->out, "output file, - for stdout")->capture_default_str();
  exp->add_option("--kind", e->kinds, "event kinds (repeatable or comma-separated)")->allow_extra_args(false);
  exp->add_option("--pid", e->pid_text, "only this pid");
  exp->add_option("--unit", e->unit, "only this unit");
  exp->add_option("--port", e->port_text, "only sockets on this port");
  AddRangeOptions(exp, e->range,
                  "redact argv values: NAME= (value after it) or NAME (next argument); repeatable");
  AddCommonOptions(exp, ctx, /*with_json=*/false);
  exp->callback([&ctx, e] { ctx.rc = RefuseJson(ctx, "export") ? kExitUsage : CmdExport(ctx, *e); });

  auto* bundle = app.add_subcommand("bundle", "a self-verifying case file (tar) of a time range");
  auto b = std::make_shared<BundleArgs>();
  bundle->add_option("--out", b->out, "the bundle to write (case.tar)")->required();
  AddRangeOptions(bundle, b->range, "redact argv values: NAME= or NAME; repeatable");
  bundle->add_flag("--no-report", b->no_report, "leave out report.html (the window as a self-contained page)");
  AddCommonOptions(bundle, ctx);
  bundle->callback([&ctx, b] { ctx.rc = CmdBundle(ctx, *b); });

  auto* vb = app.add_subcommand("verify-bundle", "check a case bundle offline (no data dir needed)");
  auto v = std::make_shared<VerifyBundleArgs>();
  vb->add_option("BUNDLE", v->path, "case.tar")->required();
  vb->add_option("--key", v->key, "verification key from setup-keys (or @file)");
  vb->add_flag("--json", ctx.json, "machine-readable output");
  vb->callback([&ctx, v] { ctx.rc = CmdVerifyBundle(ctx, *v); });

  auto* keys = app.add_subcommand(
      "setup-keys", "create the forward-secure seal key; prints the verification key once");
  auto k = std::make_shared<SetupKeysArgs>();
  keys->add_option("--interval", k->interval, "seal interval (e.g. 15m, 900s, 1h)")->capture_default_str();
  keys->add_flag("--force", k->force, "replace an existing key (starts a new key chain)");
  AddCommonOptions(keys, ctx, /*with_json=*/false);
  keys->callback([&ctx, k] { ctx.rc = RefuseJson(ctx, "setup-keys") ? kExitUsage : CmdSetupKeys(ctx, *k); });
}

}  // namespace twin
