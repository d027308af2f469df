// Folds the event log into state snapshots. RunOnce() reads the events appended since the last
// snapshot, folds them onto it and, if anything was folded, writes a new snapshot with the diff
// against the previous one. Not thread-safe: one compactor per writer.
#pragma once

#include <optional>

#include "eventlog/log.h"

namespace twin {

class Compactor {
 public:
  explicit Compactor(EventLog& log) : log_(log) {}
  // REQUIRES: log opened as writer. Returns the snapshot written, or nullopt if no new events.
  Result<std::optional<Snapshot>> RunOnce(uint64_t now_ns);
  const State& current() const { return current_; }

 private:
  Status LoadLatest();
  EventLog& log_;
  bool loaded_ = false;
  State current_;
};

}  // namespace twin
