// twin-replay's commands on the log itself: state, diff, events, verify, info, recover.
#include <fmt/format.h>

#include "eventlog/filter.h"
#include "eventlog/timefmt.h"
#include "forensics/seal.h"
#include "format/codec.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "format/terminal.h"
#include "replay/args.h"
#include "replay/cli.h"
#include "replay/documents.h"
#include "replay/recover_cmd.h"

namespace twin {
namespace {

struct EventsArgs {
  std::string since, until;
  std::vector<std::string> kinds;
  // Numbers are taken as text and checked by replay/args.h, so that "-1", "0" and 23 digits get
  // the same one-line errors in every command.
  std::optional<std::string> pid, unit, port, limit;
};

// `state --at T --file PATH`: the bytes of a config file as they were at T, from the content
// store (raw on stdout; --json: the metadata and content_base64). Withheld secrets, files over
// the size cap and symlinks have no bytes to give: one line saying so, exit 1.
int PrintFileAt(const CliContext& c, const EventLog& log, const State& st, uint64_t at,
                const std::string& path) {
  constexpr std::string_view kPrefix = "twin-replay state --file: ";
  // A config file, else a file in a unit directory (/usr/local/lib/systemd/system is not under
  // the config roots).
  const ConfigFile* f = nullptr;
  const UnitConfig* u = nullptr;
  if (auto it = st.config_files.find(path); it != st.config_files.end()) f = &it->second;
  else if (auto ut = st.unit_config.find(path); ut != st.unit_config.end()) u = &ut->second;
  if (!f && !u) {
    PrintError(kPrefix, path + " is not a captured config or unit file at " + FormatRfc3339Ns(at) +
                            " (see the Config files and Unit files of 'twin-replay state --at')");
    return kExitProblem;
  }
  const std::string& content = f ? f->content : u->content;
  const std::string& sha256 = f ? f->sha256 : u->sha256;
  const std::string& type = f ? f->type : u->type;
  const std::string& target = f ? f->target : u->target;
  std::optional<std::string> bytes;
  std::string why;
  if (content == "stored") {
    auto got = log.GetContent(sha256);
    if (!got.ok()) return ReportReadError(got.status(), c.data_dir);
    bytes = std::move(*got);
    if (!bytes) why = "its content " + sha256 + " is missing from the content store";
  } else if (type == "symlink") {
    why = "it is a symlink to " + target;
  } else if (content == "package") {
    why = "it is as package " + u->package + " " + u->version + " ships it (sha256 " + sha256 +
          "; not stored)";
  } else {
    why = "its content was not stored (" + content + "; sha256 " + sha256 + ")";
  }
  Output out;
  if (c.json) {
    JsonWriter w(out.buf());
    w.BeginObject().Field("at", FormatRfc3339Ns(at)).Key("file");
    if (f) ConfigFileToJson(*f, w);
    else UnitConfigToJson(*u, w);
    if (bytes) w.Field("content_base64", Base64Encode(*bytes));
    else w.Field("content_unavailable", why);
    w.EndObject();
    out.buf() += '\n';
    return bytes ? 0 : kExitProblem;
  }
  if (!bytes) {
    PrintError(kPrefix, path + " at " + FormatRfc3339Ns(at) + ": " + why);
    return kExitProblem;
  }
  out.buf() = std::move(*bytes);
  return 0;
}

int CmdState(const CliContext& c, const std::string& at_text, const std::string& file) {
  uint64_t at = 0;
  if (!ParseTimeOrExplain("twin-replay: ", "--at", at_text, WallNowNs(), &at)) return kExitUsage;
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  if (c.json && file.empty()) {  // the document the UI's /api/state serves too
    Output out;
    if (Status s = StateDocument(*log, at, &out.buf()); !s.ok()) return ReportReadError(s, c.data_dir);
    return 0;
  }
  if (Status s = CheckWithinLog(*log, "--at", at); !s.ok()) return ReportScanError("twin-replay: ", s);
  auto st = StateAt(*log, at);
  if (!st.ok()) return ReportReadError(st.status(), c.data_dir);
  if (!file.empty()) return PrintFileAt(c, *log, st.value(), at, file);
  Output out;
  out.buf() = StateTable(st.value(), at);
  return 0;
}

int CmdDiff(const CliContext& c, const std::string& t1_text, const std::string& t2_text) {
  const uint64_t now = WallNowNs();
  uint64_t t1 = 0, t2 = 0;
  if (!ParseTimeOrExplain("twin-replay: ", "T1", t1_text, now, &t1) ||
      !ParseTimeOrExplain("twin-replay: ", "T2", t2_text, now, &t2)) {
    return kExitUsage;
  }
  if (Status s = CheckTimeOrder("T1", t1, "T2", t2); !s.ok()) return ReportScanError("twin-replay: ", s);
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  Output out;
  if (c.json) {
    if (Status s = DiffDocument(*log, t1, t2, &out.buf()); !s.ok()) return ReportReadError(s, c.data_dir);
    return 0;
  }
  if (Status s = CheckWithinLog(*log, "T1", t1); !s.ok()) return ReportScanError("twin-replay: ", s);
  auto a = StateAt(*log, t1);
  if (!a.ok()) return ReportReadError(a.status(), c.data_dir);
  auto b = StateAt(*log, t2);
  if (!b.ok()) return ReportReadError(b.status(), c.data_dir);
  out.buf() = DiffTable(Diff(a.value(), b.value()), t1, t2);
  return 0;
}

int CmdEvents(const CliContext& c, const std::string& since, const std::string& until,
              const std::vector<std::string>& kinds, const std::optional<std::string>& pid_text,
              std::optional<std::string> unit, const std::optional<std::string>& port_text,
              const std::optional<std::string>& limit_text) {
  EventFilter f;
  const uint64_t now = WallNowNs();
  if (!since.empty() && !ParseTimeOrExplain("twin-replay: ", "--since", since, now, &f.since_ns)) return kExitUsage;
  if (!until.empty() && !ParseTimeOrExplain("twin-replay: ", "--until", until, now, &f.until_ns)) return kExitUsage;
  if (Status s = CheckTimeOrder("--since", f.since_ns, "--until", f.until_ns); !s.ok()) {
    return ReportScanError("twin-replay: ", s);
  }
  Status ks = ParseKinds(kinds, &f.kinds);
  if (!ks.ok()) {
    PrintError("twin-replay: --kind: ", ks.message());
    return kExitUsage;
  }
  std::optional<uint64_t> limit_opt;
  if (!ParseOptionalArg("twin-replay: ", pid_text, ParsePidArg, "--pid", &f.pid) ||
      !ParseOptionalArg("twin-replay: ", port_text, ParsePortArg, "--port", &f.port) ||
      !ParseOptionalArg("twin-replay: ", limit_text, ParseCountArg, "--limit", &limit_opt)) {
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
    s = EventsJsonLines(*log, f, limit, &out.buf(), [&](std::string&) { out.Flush(); });
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

int CmdVerify(const CliContext& c, bool quick) {
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, /*for_verify=*/true, &open_rc);
  if (!log) return open_rc;
  if (c.json) {
    std::string doc;
    bool ok = false;
    VerifyDocument(*log, quick, &doc, &ok);
    fmt::print("{}", doc);
    return ok ? 0 : kExitProblem;
  }
  VerifyReport rep = quick ? log->QuickVerify() : log->Verify();
  ChainHead head = log->Head();
  if (rep.ok() && quick) {
    fmt::print("OK (quick): every table block's checksum, the chain head and {} seals checked, "
               "head {} at {} after {} records; the records were not re-hashed ('twin-replay "
               "verify' does that)\n",
               rep.seals_checked, HashHex(head.head), KeyToString(head.key), head.count);
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
    if (quick) {
      fmt::print("quick check: {} seals checked; run 'twin-replay verify' for every record\n",
                 rep.seals_checked);
    } else {
      fmt::print("{} records read, {} seals checked\n", rep.records, rep.seals_checked);
    }
  }
  return rep.ok() ? 0 : kExitProblem;
}

int CmdInfo(const CliContext& c) {
  int open_rc = kExitUsage;
  auto log = OpenForReplayOrExplain(c.data_dir, false, &open_rc);
  if (!log) return open_rc;
  // A summary, not a check: info reads the log's metadata and its first and last records, whose
  // blocks are checked; 'verify --quick' reads every table block, 'verify' every record.
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
    std::string doc;
    if (Status st = InfoDocument(*log, c.data_dir, &doc); !st.ok()) return ReportReadError(st, c.data_dir);
    fmt::print("{}", doc);
  } else {
    fmt::print("data dir      {}\nschema        {}\nevents        {}\nfirst         {}\nlast          {}\n"
               "snapshots     {}\nchain head    {}\nsize (approx) {} bytes\n"
               "integrity     not checked by info: 'twin-replay verify --quick' reads every table "
               "block, 'twin-replay verify' every record\n",
               EscapeForTerminal(c.data_dir), EscapeForTerminal(schema.value().value_or("-")),
               head.count, t(first.value()), t(last.value()),
               snaps.value().size(), HashHex(head.head), log->ApproximateSizeBytes());
  }
  return 0;
}

int CmdVerifyKeyed(const CliContext& c, const std::string& key) {
  const std::string& data_dir = c.data_dir;
  const bool json = c.json;
  auto vk = LoadVerificationKeyArg(key);
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

}  // namespace

void AddLogCommands(CLI::App& app, CliContext& ctx) {
  auto* state = app.add_subcommand(
      "state", "processes, units, listeners, host facts, packages, config files, users at T");
  auto at = std::make_shared<std::string>("now");
  auto file = std::make_shared<std::string>();
  state->add_option("--at", *at, "time: RFC 3339, epoch s/ns, or relative (-5m)")->capture_default_str();
  state->add_option("--file", *file, "print this config file's bytes as they were at T");
  state->callback([&ctx, at, file] { ctx.rc = CmdState(ctx, *at, *file); });

  auto* diff = app.add_subcommand("diff", "what appeared, disappeared or changed between T1 and T2");
  auto t = std::make_shared<std::pair<std::string, std::string>>();
  diff->add_option("T1", t->first)->required();
  diff->add_option("T2", t->second)->required();
  diff->callback([&ctx, t] { ctx.rc = CmdDiff(ctx, t->first, t->second); });

  auto* events = app.add_subcommand("events", "the event timeline");
  auto e = std::make_shared<EventsArgs>();
  events->add_option("--since", e->since, "start time (inclusive)");
  events->add_option("--until", e->until, "end time (inclusive)");
  events->add_option("--kind", e->kinds, "event kinds (repeatable or comma-separated)");
  events->add_option("--pid", e->pid, "only this pid");
  events->add_option("--unit", e->unit, "only this unit");
  events->add_option("--port", e->port, "only sockets on this port");
  events->add_option("--limit", e->limit, "stop after N events");
  events->callback([&ctx, e] {
    ctx.rc = CmdEvents(ctx, e->since, e->until, e->kinds, e->pid, e->unit, e->port, e->limit);
  });

  auto* verify = app.add_subcommand("verify", "check every record, the hash chain and the seals");
  auto key = std::make_shared<std::optional<std::string>>();
  verify->add_option("--key", *key,
                     "verification key from setup-keys (or @file): also check the seals' "
                     "forward-secure MACs");
  auto quick = std::make_shared<bool>(false);
  verify->add_flag("--quick", *quick,
                   "check every table block's checksum, the chain head and the seals without "
                   "re-hashing every record");
  verify->callback([&ctx, key, quick] {
    if (*key && *quick) {
      PrintError("twin-replay verify: ", "--quick and --key cannot be combined (--key checks every "
                                         "record and every seal's MAC)");
      ctx.rc = kExitUsage;
      return;
    }
    ctx.rc = *key ? CmdVerifyKeyed(ctx, **key) : CmdVerify(ctx, *quick);
  });

  auto* info = app.add_subcommand("info", "summary of the log");
  info->callback([&ctx] { ctx.rc = CmdInfo(ctx); });

  auto* recover = app.add_subcommand(
      "recover", "salvage a log that cannot be opened into a new dir (the original is only read)");
  auto out = std::make_shared<std::string>();
  recover->add_option("--out", *out, "new dir for the salvaged log (must not exist)")->required();
  recover->callback([&ctx, out] { ctx.rc = CmdRecover(ctx.data_dir, *out, ctx.json); });

  for (auto* sub : {state, diff, events, verify, info, recover}) AddCommonOptions(sub, ctx);
}

}  // namespace twin
