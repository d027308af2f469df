#include "replay/cli.h"

#include <cstdio>

#include "eventlog/codec.h"
#include "eventlog/event_view.h"
#include "eventlog/open_guard.h"
#include "replay/args.h"

namespace twin {

void Output::Flush() {
  if (!buf_.empty()) fwrite(buf_.data(), 1, buf_.size(), stdout);
  buf_.clear();
}

void AddCommonOptions(CLI::App* sub, CliContext& ctx, bool with_json) {
  sub->add_option("--data-dir", ctx.data_dir, "safetytwin data dir");
  if (with_json) sub->add_flag("--json", ctx.json, "machine-readable output");
}

int RunCli(CLI::App& app, CliContext& ctx, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Name the subcommand the user typed, so the hint points at its own --help.
    std::string cmd;
    for (const CLI::App* sub : app.get_subcommands()) cmd = sub->get_name();
    const std::string prog = cmd.empty() ? "twin-replay" : "twin-replay " + cmd;
    PrintError(prog + ": ", std::string(e.what()) + " (see " + prog + " --help)");
    return kExitUsage;
  }
  return ctx.rc;
}

int ReportReadError(const Status& s, const std::string& data_dir) {
  std::string msg = s.message();
  const bool corrupt =
      s.code() == Status::Code::kCorruption || s.code() == Status::Code::kTampered;
  if (corrupt && msg.find("twin-replay verify") == std::string::npos) {
    msg += "; " + CorruptionAdvice(data_dir);
  }
  PrintError("twin-replay: ", msg);
  return corrupt ? kExitProblem : kExitUsage;
}

Result<std::string> BootIdBefore(const EventLog& log, uint64_t t_ns) {
  if (t_ns == 0) return std::string();
  // The host facts of the snapshot before T, then of the host facts records after it: the other
  // records of the tail are only checked (chain, verifier) and skipped, not folded.
  const EventKey before{t_ns - 1, UINT64_MAX};
  auto snap = log.SnapshotKeyAtOrBefore(before);
  if (!snap.ok()) return snap.status();
  std::string boot;
  EventKey from{0, 0};
  if (snap.value()) {
    auto st = log.SnapshotStateAt(*snap.value());
    if (!st.ok()) return st.status();
    boot = std::move(st.value().host.boot_id);
    from = NextKey(*snap.value());
  }
  EventView v;
  Status bad;
  Status s = log.ScanRecords(
      from, before,
      [&](const EventKey& k, std::string_view record) {
        if (Status d = DecodeEventView(record, &v); !d.ok()) {
          bad = RecordCorruption(k, d);
          return false;
        }
        if (v.kind == EventKind::kHostFacts) boot = v.host.boot_id;
        return true;
      },
      nullptr, /*check_chain=*/true);
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return boot;
}

int ReportScanError(std::string_view prefix, const Status& s) {
  PrintError(prefix, s.message());
  return s.code() == Status::Code::kCorruption || s.code() == Status::Code::kTampered ? kExitProblem
                                                                                     : kExitUsage;
}

std::unique_ptr<EventLog> OpenForReplayOrExplain(const std::string& data_dir, bool for_verify,
                                                 int* exit_code) {
  if (Status s = CheckDataDirArg("--data-dir", data_dir); !s.ok()) {
    PrintError("twin-replay: ", s.message());
    if (exit_code) *exit_code = kExitUsage;
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

bool ParseTimeOrExplain(std::string_view prefix, std::string_view what, const std::string& text,
                        uint64_t now, uint64_t* out) {
  auto r = ParseTimeArg(what, text, now);
  if (!r.ok()) {
    PrintError(prefix, r.status().message());
    return false;
  }
  *out = r.value();
  return true;
}

}  // namespace twin
