// When systemd is PID 1: an sd-bus subscription that confirms unit states (JobRemoved,
// UnitNew/UnitRemoved → ActiveState), complementing the cgroup probes (which see every *.service
// cgroup, but not a unit that failed before its cgroup appeared, nor why it stopped).
// Thread safety: Start/Stop from one thread; fn runs on the watcher's own thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventlog/status.h"

struct sd_bus;

namespace twin::capture {

struct UnitSignal {
  std::string unit;
  std::string active_state;  // "active", "inactive", "failed", ...
  std::string cause;         // "JobRemoved:<result>", "UnitRemoved", "UnitNew"
  bool active() const {
    return active_state == "active" || active_state == "activating" || active_state == "reloading";
  }
};

bool SystemdIsPid1();

class SystemdWatcher {
 public:
  using Fn = std::function<void(const UnitSignal&)>;
  ~SystemdWatcher() { Stop(); }
  Status Start(Fn fn);
  void Stop();
  bool running() const { return running_; }
  // Asks systemd for the unit's ActiveState on the watcher's thread and reports it through fn.
  // The cgroup probe calls this when a unit's cgroup goes away: a unit may stay active without
  // processes (Type=oneshot + RemainAfterExit), and a unit may stop without any job (its main
  // process exited), so only systemd can say which it is. Thread safe.
  void Recheck(const std::string& unit);

 private:
  void Loop();
  void DrainRechecks();
  Fn fn_;
  std::atomic<bool> running_{false};
  std::mutex recheck_mu_;
  std::vector<std::string> rechecks_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  ::sd_bus* bus_ = nullptr;
};

}  // namespace twin::capture
