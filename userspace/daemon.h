// twind: probes → ring buffer → reader thread → bounded queue → writer thread → EventLog, with
// gap/resync on loss, /proc reconciliation and compaction every interval.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "eventlog/log.h"
#include "format/terminal.h"  // LogEscape, for the daemon's log lines
#include "userspace/config.h"

namespace spdlog {
class logger;
}

namespace twin::capture {

// What other modules plug into the daemon; every member is optional.
struct DaemonHooks {
  // After the log is open and the start-up records are written; before capture threads run.
  std::function<void(EventLog&)> on_open;
  // After each compaction that wrote a snapshot. Must not block: the twin VM driver (vm/)
  // queues its work.
  std::function<void(const twin::Snapshot&)> on_snapshot;
  // After every compaction, in the writer thread (forward-secure sealing, retention). Keep it
  // short: capture waits meanwhile.
  std::function<void(EventLog&, uint64_t now_ns)> after_compaction;
  // Before the log is closed (stop workers that use it).
  std::function<void()> on_close;
  // More Prometheus text for the metrics endpoint (the fleet publisher's), on the metrics thread.
  std::function<std::string()> metrics;
};

// Told once whether start-up succeeded (the daemonizing parent waits for it).
using ReadyFn = std::function<void(bool ok)>;

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int RunDaemon(const DaemonConfig& cfg, std::shared_ptr<spdlog::logger> log, DaemonHooks hooks,
              ReadyFn ready = nullptr);
// `twind --check`: prints the readiness report; 0 when capture can work.
int RunCheck(const DaemonConfig& cfg);
// The thin main: flags, logging, daemonizing.
int TwindMain(int argc, char** argv);

}  // namespace twin::capture
