#include "replay/replay.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "eventlog/open_guard.h"
#include "eventlog/timefmt.h"
#include "replay/recover_cmd.h"
#include "replay/args.h"
#include "replay/render.h"
#include "replay/terminal.h"

#ifdef TWIN_HAVE_FORENSICS
#include "replay/forensics_cmd.h"
#endif

namespace twin {

namespace {
template <typename E>
bool FilterMatches(const EventFilter& f, const E& e) {
  const auto& kinds = f.kinds;
  const auto& pid = f.pid;
  const auto& unit = f.unit;
  const auto& port = f.port;
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), e.kind) == kinds.end()) return false;
  if (pid && e.pid != *pid) return false;
  if (unit && std::string_view(e.unit) != *unit) return false;
  if (port) {
    const bool sock = e.kind == EventKind::kSocketBind || e.kind == EventKind::kSocketListen ||
                      e.kind == EventKind::kListenerClose ||
                      (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kListener);
    if (!sock || e.port != *port) return false;
  }
  return true;
}
}  // namespace

bool EventFilter::Matches(const Event& e) const { return FilterMatches(*this, e); }
bool EventFilter::Matches(const EventView& e) const { return FilterMatches(*this, e); }

Status ParseKinds(const std::vector<std::string>& names, std::vector<EventKind>* out) {
  for (const auto& item : names) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string name = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? item.size() + 1 : comma + 1;
      if (name.empty()) continue;
      auto k = KindFromName(name);
      if (!k) {
        std::string valid;
        for (int i = 1; i <= kEventKindMax; ++i) {
          valid += (i > 1 ? ", " : "") + std::string(KindName(static_cast<EventKind>(i)));
        }
        return Status::InvalidArgument("unknown event kind '" + name + "'; valid kinds: " + valid);
      }
      out->push_back(*k);
    }
  }
  return Status::Ok();
}

int ReportReadError(const Status& s, const std::string& data_dir) {
  std::string msg = s.message();
  const bool corrupt =
      s.code() == Status::Code::kCorruption || s.code() == Status::Code::kTampered;
  if (corrupt && msg.find("twin-replay verify") == std::string::npos) {
    msg += "; " + CorruptionAdvice(data_dir);
  }
  PrintError("twin-replay: ", msg);
  return corrupt ? 1 : 2;
}

std::unique_ptr<EventLog> OpenForReplayOrExplain(const std::string& data_dir, bool for_verify,
                                                 int* exit_code) {
  if (Status s = CheckDataDirArg("--data-dir", data_dir); !s.ok()) {
    PrintError("twin-replay: ", s.message());
    if (exit_code) *exit_code = 2;
    return nullptr;
  }
  auto log = EventLog::OpenReader(data_dir);
  Status problem = log.ok() ? log.value()->OpenProblem() : log.status();
  if (log.ok() && for_verify) problem = Status::Ok();  // verify reports it among the rest
  if (!problem.ok()) {
    const int rc = ReportReadError(problem, data_dir);
    if (exit_code) *exit_code = rc;
    return nullptr;
  }
  return std::move(log).value();
}

Status ForEachFiltered(const EventLog& log, const EventFilter& f,
                       const std::function<bool(const EventKey&, const Event&)>& fn) {
  return log.Scan({f.since_ns, 0}, {f.until_ns, UINT64_MAX},
                  [&](const EventKey& k, const Event& e) { return !f.Matches(e) || fn(k, e); });
}

namespace {

constexpr int kExitProblem = 1;
constexpr int kExitUsage = 2;

struct Common {
  std::string data_dir = kDefaultDataDir;
  bool json = false;
};

class Output {
 public:
  ~Output() { Flush(); }
  std::string& buf() { return buf_; }
  void MaybeFlush() {
    if (buf_.size() > (1 << 16)) Flush();
  }
  void Flush() {
    if (!buf_.empty()) fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
  }

 private:
  std::string buf_;
};

bool ParseTimeOrExplain(const std::string& what, const std::string& text, uint64_t now,
                        uint64_t* out) {
  auto r = ParseTimeArg(what, text, now);
  if (!r.ok()) {
    PrintError("twin-replay: ", r.status().message());
    return false;
  }
  *out = r.value();
  return true;
}

// Usage errors (a bad argument) exit 2, a damaged log exits 1.
int ReportScanError(const Status& s) {
  PrintError("twin-replay: ", s.message());
  return s.code() == Status::Code::kCorruption || s.code() == Status::Code::kTampered ? kExitProblem
                                                                                     : kExitUsage;
}

// Parses an optional numeric option given as text; false (explained) on a bad value.
template <typename T>
bool ParseOptionalArg(const std::optional<std::string>& text, Result<T> (*parse)(std::string_view, std::string_view),
                      std::string_view what, std::optional<T>* out) {
  if (!text) return true;
  auto r = parse(what, *text);
  if (!r.ok()) {
    PrintError("twin-replay: ", r.status().message());
    return false;
  }
  *out = r.value();
  return true;
}

int CmdState(const Common& c, const std::string& at_text) {
  uint64_t at = 0;
  if (!ParseTimeOrExplain("--at", at_text, WallNowNs(), &at)) return kExitUsage;
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (Status s = CheckWithinLog(*log, "--at", at); !s.ok()) return ReportScanError(s);
  auto st = StateAt(*log, at);
  if (!st.ok()) return ReportReadError(st.status(), c.data_dir);
  Output out;
  if (c.json) {
    JsonWriter w(out.buf());
    StateToJson(st.value(), at, w);
    out.buf() += '\n';
  } else {
    out.buf() = StateTable(st.value(), at);
  }
  return 0;
}

int CmdDiff(const Common& c, const std::string& t1_text, const std::string& t2_text) {
  const uint64_t now = WallNowNs();
  uint64_t t1 = 0, t2 = 0;
  if (!ParseTimeOrExplain("T1", t1_text, now, &t1) || !ParseTimeOrExplain("T2", t2_text, now, &t2)) {
    return kExitUsage;
  }
  if (Status s = CheckTimeOrder("T1", t1, "T2", t2); !s.ok()) return ReportScanError(s);
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (Status s = CheckWithinLog(*log, "T1", t1); !s.ok()) return ReportScanError(s);
  auto a = StateAt(*log, t1);
  if (!a.ok()) return ReportReadError(a.status(), c.data_dir);
  auto b = StateAt(*log, t2);
  if (!b.ok()) return ReportReadError(b.status(), c.data_dir);
  StateDiff d = Diff(a.value(), b.value());
  Output out;
  if (c.json) {
    JsonWriter w(out.buf());
    DiffToJson(d, t1, t2, w);
    out.buf() += '\n';
  } else {
    out.buf() = DiffTable(d, t1, t2);
  }
  return 0;
}

int CmdEvents(const Common& c, const std::string& since, const std::string& until,
              const std::vector<std::string>& kinds, const std::optional<std::string>& pid_text,
              std::optional<std::string> unit, const std::optional<std::string>& port_text,
              const std::optional<std::string>& limit_text) {
  EventFilter f;
  const uint64_t now = WallNowNs();
  if (!since.empty() && !ParseTimeOrExplain("--since", since, now, &f.since_ns)) return kExitUsage;
  if (!until.empty() && !ParseTimeOrExplain("--until", until, now, &f.until_ns)) return kExitUsage;
  if (Status s = CheckTimeOrder("--since", f.since_ns, "--until", f.until_ns); !s.ok()) {
    return ReportScanError(s);
  }
  Status ks = ParseKinds(kinds, &f.kinds);
  if (!ks.ok()) {
    PrintError("twin-replay: --kind: ", ks.message());
    return kExitUsage;
  }
  std::optional<uint64_t> limit_opt;
  if (!ParseOptionalArg(pid_text, ParsePidArg, "--pid", &f.pid) ||
      !ParseOptionalArg(port_text, ParsePortArg, "--port", &f.port) ||
      !ParseOptionalArg(limit_text, ParseCountArg, "--limit", &limit_opt)) {
    return kExitUsage;
  }
  const uint64_t limit = limit_opt.value_or(0);  // 0: no limit (a given --limit is >= 1)
  f.unit = unit;
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  Output out;
  if (!c.json) out.buf() += fmt::format("{:<30} {:<12} {}\n", "TIME", "KIND", "DETAIL");
  uint64_t n = 0;
  Status s;
  if (c.json) {
    // JSON Lines straight from each record (no copy of its strings into an Event).
    s = log->ScanViews({f.since_ns, 0}, {f.until_ns, UINT64_MAX},
                       [&](const EventKey& k, const EventView& e) {
                         if (!f.Matches(e)) return true;
                         JsonWriter w(out.buf());
                         EventToJson(k, e, w);
                         out.buf() += '\n';
                         out.MaybeFlush();
                         return limit == 0 || ++n < limit;
                       });
  } else {
    s = ForEachFiltered(*log, f, [&](const EventKey& k, const Event& e) {
      out.buf() += fmt::format("{:<30} {:<12} {}\n", FormatRfc3339Ns(e.ts_ns), KindName(e.kind),
                               EventSummary(e));
      out.MaybeFlush();
      return limit == 0 || ++n < limit;
    });
  }
  out.Flush();
  if (!s.ok()) return ReportReadError(s, c.data_dir);
  return 0;
}

int CmdVerify(const Common& c) {
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, /*for_verify=*/true, &open_rc);
  if (!log) return open_rc;
  VerifyReport rep = log->Verify();
  ChainHead head = log->Head();
  if (c.json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().FieldB("ok", rep.ok()).FieldU("records", rep.records)
        .FieldU("seals_checked", rep.seals_checked).Field("head", HashHex(head.head))
        .Key("problems").BeginArray();
    for (const auto& p : rep.problems) w.BeginObject().Field("key", p.key).Field("what", p.what).EndObject();
    w.EndArray().EndObject();
    fmt::print("{}\n", s);
  } else if (rep.ok()) {
    fmt::print("OK: {} records, {} seals checked, chain head {} at {}\n", rep.records,
               rep.seals_checked, HashHex(head.head), KeyToString(head.key));
  } else {
    fmt::print("FAILED: first bad key {}: {}\n", EscapeForTerminal(rep.problems[0].key),
               EscapeForTerminal(rep.problems[0].what));
    for (size_t i = 1; i < rep.problems.size() && i < 20; ++i) {
      fmt::print("  also {}: {}\n", EscapeForTerminal(rep.problems[i].key),
                 EscapeForTerminal(rep.problems[i].what));
    }
    if (rep.problems.size() > 20) fmt::print("  ... {} problems in all\n", rep.problems.size());
    fmt::print("{} records read, {} seals checked\n", rep.records, rep.seals_checked);
  }
  return rep.ok() ? 0 : kExitProblem;
}

int CmdInfo(const Common& c) {
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  // A summary of the whole log vouches for all of it: every table block is read once.
  if (Status ts = log->CheckTables(); !ts.ok()) return ReportReadError(ts, c.data_dir);
  auto first = log->First();
  auto last = log->Last();
  auto snaps = log->SnapshotKeys();
  auto schema = log->GetMeta("schema_version");
  for (const Status* st : {&first.status(), &last.status(), &snaps.status(), &schema.status()}) {
    if (!st->ok()) return ReportReadError(*st, c.data_dir);
  }
  ChainHead head = log->Head();
  auto t = [](const std::optional<KeyedEvent>& ke) {
    return ke ? FormatRfc3339Ns(ke->key.ts_ns) : std::string("-");
  };
  if (c.json) {
    std::string s;
    JsonWriter w(s);
    w.BeginObject().Field("data_dir", c.data_dir).Field("schema_version", schema.value().value_or(""))
        .FieldU("events", head.count).Field("first", t(first.value())).Field("last", t(last.value()))
        .FieldU("snapshots", snaps.value().size()).Field("head", HashHex(head.head))
        .FieldU("approx_bytes", log->ApproximateSizeBytes()).EndObject();
    fmt::print("{}\n", s);
  } else {
    fmt::print("data dir      {}\nschema        {}\nevents        {}\nfirst         {}\nlast          {}\n"
               "snapshots     {}\nchain head    {}\nsize (approx) {} bytes\n",
               EscapeForTerminal(c.data_dir), EscapeForTerminal(schema.value().value_or("-")),
               head.count, t(first.value()), t(last.value()),
               snaps.value().size(), HashHex(head.head), log->ApproximateSizeBytes());
  }
  return 0;
}

#ifdef TWIN_HAVE_VM
// `vm` runs in twin-replay-vm, installed next to this binary, with the same arguments: only that
// command loads libvirt (vm/CMakeLists.txt). Returns only if the exec failed.
int ExecVmCommand(char** argv) {
  std::string self(PATH_MAX, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) {
    fmt::print(stderr, "twin-replay: vm: cannot find this program's path in /proc/self/exe: {}\n",
               std::strerror(errno));
    return kExitProblem;
  }
  self.resize(static_cast<size_t>(n));
  const std::string helper = self.substr(0, self.rfind('/') + 1) + "twin-replay-vm";
  execv(helper.c_str(), argv);
  fmt::print(stderr, "twin-replay: vm: cannot run {}: {} (it is installed with twin-replay; "
             "reinstall safetytwin)\n", helper, std::strerror(errno));
  return kExitProblem;
}
#endif

}  // namespace

int ReplayMain(int argc, char** argv) {
  // Subcommands implemented by other modules take the whole command line.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data-dir") { ++i; continue; }
    if (!a.empty() && a[0] == '-') continue;
#ifdef TWIN_HAVE_VM
    if (a == "vm") return ExecVmCommand(argv);
#endif
#ifdef TWIN_HAVE_FORENSICS
    if (IsForensicsCommand(a)) return RunForensicsCommand(argc, argv);
#endif
    break;
  }

  CLI::App app{"twin-replay: the host's state at any time, diffs, timelines and log verification"};
  app.require_subcommand(1);
  app.footer(
      "More commands (each has its own --help):\n"
#ifdef TWIN_HAVE_FORENSICS
      "  export         Timesketch / ECS / OCSF / CSV timelines\n"
      "  bundle         self-verifying case bundle (tar)\n"
      "  verify-bundle  verify a case bundle offline\n"
      "  setup-keys     create the forward-secure seal key\n"
      "  verify --key K also check the forward-secure seals\n"
#endif
#ifdef TWIN_HAVE_VM
      "  vm             the twin VM at any time (--at T), the snapshot catalogue (--list)\n"
#endif
      "Times: RFC 3339, epoch seconds or ns, now, or relative (-5m, -2h).");
  Common c;
  app.add_option("--data-dir", c.data_dir, "safetytwin data dir")->capture_default_str();
  app.add_flag("--json", c.json, "machine-readable output (JSON; JSON Lines for events)");

  std::string at = "now";
  auto* state = app.add_subcommand("state", "processes, units, listeners and host facts at T");
  state->add_option("--at", at, "time: RFC 3339, epoch s/ns, or relative (-5m)")->capture_default_str();

  std::string t1, t2;
  auto* diff = app.add_subcommand("diff", "what appeared, disappeared or changed between T1 and T2");
  diff->add_option("T1", t1)->required();
  diff->add_option("T2", t2)->required();

  std::string since, until;
  std::vector<std::string> kinds;
  // Numbers are taken as text and checked by replay/args.h, so that "-1", "0" and 23 digits get
  // the same one-line errors in every command.
  std::optional<std::string> pid;
  std::optional<std::string> unit;
  std::optional<std::string> port;
  std::optional<std::string> limit;
  auto* events = app.add_subcommand("events", "the event timeline");
  events->add_option("--since", since, "start time (inclusive)");
  events->add_option("--until", until, "end time (inclusive)");
  events->add_option("--kind", kinds, "event kinds (repeatable or comma-separated)");
  events->add_option("--pid", pid, "only this pid");
  events->add_option("--unit", unit, "only this unit");
  events->add_option("--port", port, "only sockets on this port");
  events->add_option("--limit", limit, "stop after N events");

  auto* verify = app.add_subcommand("verify", "check every record, the hash chain and the seals");
  auto* info = app.add_subcommand("info", "summary of the log");
  std::string recover_out;
  auto* recover = app.add_subcommand(
      "recover", "salvage a log that cannot be opened into a new dir (the original is only read)");
  recover->add_option("--out", recover_out, "new dir for the salvaged log (must not exist)")
      ->required();
  for (auto* sub : {state, diff, events, verify, info, recover}) {
    sub->add_option("--data-dir", c.data_dir, "safetytwin data dir");
    sub->add_flag("--json", c.json, "machine-readable output");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    PrintError("twin-replay: ", std::string(e.what()) + " (see twin-replay --help)");
    return kExitUsage;
  }
  if (*state) return CmdState(c, at);
  if (*diff) return CmdDiff(c, t1, t2);
  if (*events) return CmdEvents(c, since, until, kinds, pid, unit, port, limit);
  if (*verify) return CmdVerify(c);
  if (*info) return CmdInfo(c);
  if (*recover) return CmdRecover(c.data_dir, recover_out, c.json);
  return kExitUsage;
}

}  // namespace twin
