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

class Compactor {
 public:
  explicit Compactor(EventLog& log);
  ~Compactor();
  // REQUIRES: log opened as writer. Returns the snapshot written, or nullopt if no new events.
  Result<std::optional<Snapshot>> RunOnce(uint64_t now_ns);
  // Follow the log's commits from now on (REQUIRES: writer). If the feed ever fails, RunOnce
  // goes back to reading the log, so no snapshot is lost or wrong.
  Status Follow();
  bool following() const { return feed_ != nullptr; }
  const State& current() const { return current_; }

 private:
  Status LoadLatest();
  void StopFollowing();
  EventLog& log_;
  bool loaded_ = false;
  State current_;
  std::unique_ptr<FoldFeed> feed_;
};

}  // namespace twin
