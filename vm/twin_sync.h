// Keeps the twin VM in line with the host without ever blocking capture. twind calls
// OnSnapshot() after each compaction; a worker thread owns the TwinVm, coalesces to the newest
// state, and when the diff from what the twin reflects is significant runs TwinVm::Sync
// (snapshot, then the delta playbook). Failures (libvirt down, boot timeout, failed tasks) are
// recorded as kTwinAction events and retried with exponential backoff; the next success catches
// the twin up from the newest state, not from the failed one.
//
// Thread safety: OnSnapshot, stats and Stop may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "eventlog/log.h"
#include "vm/twin.h"

namespace twin::vm {

struct TwinSyncOptions {
  std::chrono::milliseconds initial_backoff{5000};
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
};

struct TwinSyncStats {
  uint64_t received = 0;      // snapshots handed to OnSnapshot
  uint64_t syncs_ok = 0;
  uint64_t syncs_failed = 0;
  uint64_t skipped = 0;       // not significant against what the twin reflects
  double last_sync_ms = 0;
  std::string last_error;
  uint64_t applied_state_ts_ns = 0;
};

class TwinSync {
 public:
  // REQUIRES: log is the writer and outlives this object (Stop() before closing the log).
  // The catalogue is written to the log's "twin" column family; events are appended to it.
  TwinSync(TwinOptions twin_options, EventLog* log, TwinSyncOptions options = {});
  ~TwinSync();
  TwinSync(const TwinSync&) = delete;
  TwinSync& operator=(const TwinSync&) = delete;

  void Start();
  // Cancels the in-flight step (boot wait / Ansible run are interrupted) and joins the worker.
  void Stop();
  // Non-blocking: keeps a copy of the newest snapshot and wakes the worker.
  void OnSnapshot(const Snapshot& snap);
  TwinSyncStats stats() const;

 private:
  void Run();
  void RecordFailure(const std::string& what, std::chrono::milliseconds retry_in);

  TwinOptions twin_options_;
  EventLog* log_;
  TwinSyncOptions options_;
  EventLogTwinStore store_;
  Catalogue catalogue_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<State> pending_;  // newest state not yet applied
  bool stop_ = false;
  TwinSyncStats stats_;
  std::unique_ptr<TwinVm> twin_;  // owned by the worker; created lazily
  TwinVm* twin_raw_ = nullptr;    // for Stop() to cancel (guarded by mu_)
  std::thread worker_;
};

}  // namespace twin::vm
