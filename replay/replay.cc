// twin-replay's main: the one command tree (replay/cli.h) with every module's commands.
#include "replay/replay.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "format/terminal.h"
#include "replay/cli.h"

namespace twin {
namespace {

// `vm` and `fleet` run in binaries of their own installed next to this one (twin-replay-vm,
// twin-replay-fleet) with the same arguments: only they load libvirt and libcurl, and the ~40
// libraries each pulls in (several ms of dynamic linking per run: docs/BENCHMARKS.md). Returns
// only if the exec failed.
int ExecHelper(const char* command, const char* program, char** argv) {
  const std::string what = std::string("twin-replay: ") + command + ": ";
  std::string self(PATH_MAX, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) {
    PrintError(what, std::string("cannot find this program's path in /proc/self/exe: ") +
                         std::strerror(errno));
    return kExitProblem;
  }
  self.resize(static_cast<size_t>(n));
  const std::string helper = self.substr(0, self.rfind('/') + 1) + program;
  execv(helper.c_str(), argv);
  PrintError(what, "cannot run " + helper + ": " + std::strerror(errno) +
                       " (it is installed with twin-replay; reinstall safetytwin)");
  return kExitProblem;
}

// A pass-through: everything after the command, --help included, is parsed by the helper, which
// parses the whole command line again with the same global options.
void AddPassThrough(CLI::App& app, CliContext& ctx, char** argv, const char* command,
                    const char* program, const char* description) {
  auto* sub = app.add_subcommand(command, description);
  sub->prefix_command();
  sub->set_help_flag();
  sub->callback([&ctx, argv, command, program] { ctx.rc = ExecHelper(command, program, argv); });
}

}  // namespace

int ReplayMain(int argc, char** argv) {
  CLI::App app{"twin-replay: the host's state at any time, diffs, timelines and log verification"};
  app.require_subcommand(1);
  app.footer("Each command has its own --help.\n"
             "Times: RFC 3339, epoch seconds or ns, now, or relative (-5m, -2h).");
  CliContext ctx;
  app.add_option("--data-dir", ctx.data_dir, "safetytwin data dir")->capture_default_str();
  app.add_flag("--json", ctx.json, "machine-readable output (JSON; JSON Lines for events)");
  AddLogCommands(app, ctx);
  AddForensicsCommands(app, ctx);
  AddPassThrough(app, ctx, argv, "fleet", "twin-replay-fleet",
                 "the fleet in etcd: hosts, a host's state at T, drift, watch");
  AddLineageCommands(app, ctx);
  AddSqlCommands(app, ctx);
  AddUiCommands(app, ctx);
  AddPassThrough(app, ctx, argv, "vm", "twin-replay-vm",
                 "the twin VM at any time (--at T), the snapshot catalogue (--list)");
  return RunCli(app, ctx, argc, argv);
}

}  // namespace twin
