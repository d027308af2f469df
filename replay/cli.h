// The one twin-replay command tree. replay/replay.cc builds a single CLI::App and each module
// registers its subcommands on it:
//   AddLogCommands        state, diff, events, verify [--key], info, recover   (log_cmds.cc)
//   AddForensicsCommands  export, bundle, verify-bundle, setup-keys           (forensics_cmds.cc)
//   AddFleetCommands      fleet list|state|drift|watch|digest                  (fleet_cmds.cc)
//   AddLineageCommands    tree, lineage                                        (lineage_cmds.cc)
//   AddSqlCommands        sql (SQLite virtual tables over the log, sql.h)      (sql_cmd.cc)
//   AddUiCommands         ui (loopback web UI), report (self-contained HTML)   (ui_cmds.cc)
//   AddVmCommands         vm, in twin-replay-vm only (vm_cmd.cc); twin-replay registers a
//                         pass-through that execs it, so that libvirt loads only for `vm`.
// A subcommand's callback runs the command and leaves its exit status in CliContext::rc.
// Exit statuses: 0 ok, 1 a problem found (damaged log, failed verification), 2 a usage error or
// a missing/unreadable input. Every error is one line on stderr, escaped (PrintError).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "eventlog/log.h"
#include "eventlog/status.h"
#include "format/terminal.h"
#include "replay/replay.h"  // OpenForReplayOrExplain, ReportReadError

namespace twin {

constexpr int kExitOk = 0;
constexpr int kExitProblem = 1;
constexpr int kExitUsage = 2;

// Options every command shares (given before or after the subcommand's name).
struct CliContext {
  std::string data_dir = kDefaultDataDir;
  bool json = false;
  int rc = kExitUsage;
};

void AddLogCommands(CLI::App& app, CliContext& ctx);
void AddForensicsCommands(CLI::App& app, CliContext& ctx);
void AddVmCommands(CLI::App& app, CliContext& ctx);
void AddFleetCommands(CLI::App& app, CliContext& ctx);  // fleet_cmds.cc
void AddLineageCommands(CLI::App& app, CliContext& ctx);  // tree, lineage (lineage_cmds.cc)
void AddSqlCommands(CLI::App& app, CliContext& ctx);      // sql (sql_cmd.cc)
void AddUiCommands(CLI::App& app, CliContext& ctx);       // ui, report (ui_cmds.cc, ui/)

// Adds --data-dir and --json to a subcommand (the app has them too), bound to ctx.
void AddCommonOptions(CLI::App* sub, CliContext& ctx, bool with_json = true);

// Parses argv with the registered commands and returns the exit status: the command's, or 2
// after a usage error (one line naming it), or 0 after --help.
int RunCli(CLI::App& app, CliContext& ctx, int argc, char** argv);

// Buffered stdout for commands that print much: one large write per 64 KiB.
class Output {
 public:
  ~Output() { Flush(); }
  std::string& buf() { return buf_; }
  void MaybeFlush() {
    if (buf_.size() > (1 << 16)) Flush();
  }
  void Flush();

 private:
  std::string buf_;
};

// The host's boot id in effect just before t_ns (the state's host facts); empty when the log
// starts at or after t_ns or has recorded none. See eventlog/process_id.h.
Result<std::string> BootIdBefore(const EventLog& log, uint64_t t_ns);

// Prints a bad argument or a scan failure; 1 for a damaged log, 2 for the rest.
int ReportScanError(std::string_view prefix, const Status& s);

// A time argument (ParseTime's forms); false after printing the error with prefix.
bool ParseTimeOrExplain(std::string_view prefix, std::string_view what, const std::string& text,
                        uint64_t now, uint64_t* out);
// An optional numeric argument given as text, checked by one of replay/args.h's parsers;
// false after printing the error.
template <typename T>
bool ParseOptionalArg(std::string_view prefix, const std::optional<std::string>& text,
                      Result<T> (*parse)(std::string_view, std::string_view),
                      std::string_view what, std::optional<T>* out) {
  if (!text) return true;
  auto r = parse(what, *text);
  if (!r.ok()) {
    PrintError(prefix, r.status().message());
    return false;
  }
  *out = r.value();
  return true;
}

}  // namespace twin
