// Folds the event log into state snapshots. RunOnce() folds the events appended since the last
// snapshot onto it and, if anything was folded, writes a new snapshot with the diff against the
// previous one. By default it reads those events back from the log; after Follow() it folds
// them as they are committed, on a background thread (FoldFeed), and RunOnce only cuts.
// Not thread-safe: one compactor per writer. The log must outlive the compactor.
#pragma once

#include <memory>
#include <optional>

#include "eventlog/folder.h"
#include "eventlog/log.h"

namespace twin {

// A writer cuts a snapshot every compaction interval of wall clock (twind: 10 s) and also as
// soon as this many events were appended since the last cut, so that after a burst no reader
// (state --at, diff) folds much more than this many events on top of a snapshot. One cut of a
// following compactor costs about what folding 10 ms of a busy host does (docs/BENCHMARKS.md).
// 20,000 rather than 100,000: `state --at T` on a log written at 10,000 events/s went from
// 130 to 53 ms of CPU, for ~11% more log bytes while the rate stays that high (docs/BENCHMARKS.md,
// "twin-replay as a user times it"); below 2,000 events/s the 10 s clock cuts first.
inline constexpr uint64_t kSnapshotEveryEvents = 20'000;

class Compactor {
 public:
  explicit Compactor(EventLog& log, uint64_t snapshot_every_events = kSnapshotEveryEvents);
  ~Compactor();
  // REQUIRES: log opened as writer. Returns the snapshot written, or nullopt if no new events.
  Result<std::optional<Snapshot>> RunOnce(uint64_t now_ns);
  // Follow the log's commits from now on (REQUIRES: writer). If the feed ever fails, RunOnce
  // goes back to reading the log, so no snapshot is lost or wrong.
  Status Follow();
  bool following() const { return feed_ != nullptr; }
  // The writer reports the events it appended; DueByCount() is true once they reach the bound
  // since the last RunOnce (which resets the count, whether or not it succeeded).
  void Appended(uint64_t n) { appended_ += n; }
  bool DueByCount() const { return appended_ >= snapshot_every_events_; }
  const State& current() const { return current_; }

 private:
  Status LoadLatest();
  void StopFollowing();
  EventLog& log_;
  uint64_t snapshot_every_events_;
  uint64_t appended_ = 0;
  bool loaded_ = false;
  State current_;
  std::unique_ptr<FoldFeed> feed_;
};

}  // namespace twin
