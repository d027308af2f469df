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

// `vm` runs in twin-replay-vm, installed next to this binary, with the same arguments: only that
// command loads libvirt (vm/CMakeLists.txt). Returns only if the exec failed.
int ExecVmCommand(char** argv) {
  std::string self(PATH_MAX, '\0');
  const ssize_t n = readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0) {
    PrintError("twin-replay: vm: ", std::string("cannot find this program's path in /proc/self/exe: ") +
                                        std::strerror(errno));
    return kExitProblem;
  }
  self.resize(static_cast<size_t>(n));
  const std::string helper = self.substr(0, self.rfind('/') + 1) + "twin-replay-vm";
  execv(helper.c_str(), argv);
  PrintError("twin-replay: vm: ", "cannot run " + helper + ": " + std::strerror(errno) +
                                     " (it is installed with twin-replay; reinstall safetytwin)");
  return kExitProblem;
}

// `vm` is registered here as a pass-through: its own options are parsed by twin-replay-vm.
void AddVmPassThrough(CLI::App& app, CliContext& ctx, char** argv) {
  auto* vm = app.add_subcommand("vm", "the twin VM at any time (--at T), the snapshot catalogue (--list)");
  vm->prefix_command();   // everything after `vm` is twin-replay-vm's
  vm->set_help_flag();    // including --help
  vm->callback([&ctx, argv] { ctx.rc = ExecVmCommand(argv); });
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
  AddFleetCommands(app, ctx);
  AddLineageCommands(app, ctx);
  AddSqlCommands(app, ctx);
  AddUiCommands(app, ctx);
  AddVmPassThrough(app, ctx, argv);
  return RunCli(app, ctx, argc, argv);
}

}  // namespace twin
