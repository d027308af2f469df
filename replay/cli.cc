#include "replay/cli.h"

#include <cstdio>

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
  auto first = log.First();
  if (!first.ok()) return first.status();
  if (!first.value() || t_ns <= first.value()->key.ts_ns) return std::string();
  auto st = StateAt(log, t_ns - 1);
  if (!st.ok()) return st.status();
  return std::move(st.value().host.boot_id);
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
