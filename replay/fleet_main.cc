// twin-replay-fleet: `twin-replay fleet ...` in a binary of its own. twin-replay execs it for the
// fleet subcommand (replay/replay.cc), so that its other commands do not load libcurl and the
// ~25 libraries it pulls in (TLS, HTTP/2, LDAP, Kerberos; docs/BENCHMARKS.md). It parses the
// same command line, global options included.
#include "replay/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"twin-replay fleet: the fleet's twins in etcd"};
  app.require_subcommand(1);
  twin::CliContext ctx;
  app.add_option("--data-dir", ctx.data_dir, "safetytwin data dir")->capture_default_str();
  app.add_flag("--json", ctx.json, "machine-readable output (JSON; JSON Lines for events)");
  twin::AddFleetCommands(app, ctx);
  return twin::RunCli(app, ctx, argc, argv);
}
