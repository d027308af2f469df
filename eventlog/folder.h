// The fold engine for replay and compaction: folds verified FlatBuffers event records straight
// from the log, without decoding them into Event. A process's image (comm, exe, cwd, argv,
// cgroup, unit, container id, uid, gid) stays a reference to the record that set it (exec,
// fork, resync) and is decoded only for the processes still alive at Finish(). Most processes
// of a busy window are born and gone inside it, so their strings are never materialised.
// Semantics are exactly Fold()'s (both instantiate eventlog/fold_core.h).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "eventlog/log.h"
#include "eventlog/state.h"
#include "eventlog/status.h"

namespace twin {

class StateFolder {
 public:
  // Records that set a process image are copied into an arena; past max_arena_bytes the live
  // processes are materialised and the arena is dropped, so a fold of any length runs in memory
  // bounded by the live state plus max_arena_bytes.
  explicit StateFolder(State base = {}, size_t max_arena_bytes = 64u << 20);
  ~StateFolder();
  StateFolder(const StateFolder&) = delete;
  StateFolder& operator=(const StateFolder&) = delete;

  // record = one event's FlatBuffers bytes (the value after its chain hash). It is verified
  // first; a record that fails is not applied and yields kCorruption (without the key: the
  // caller knows it). *kind, if given, receives the record's kind.
  Status Apply(const EventKey& key, std::string_view record, EventKind* kind = nullptr);

  // The state after every applied record. The folder is empty afterwards.
  State Finish();

  struct Impl;  // opaque; defined in folder.cc

 private:
  friend class FoldFeed;
  friend Status FoldRange(const EventLog&, const EventKey&, const EventKey&, StateFolder&, bool);
  friend Result<State> FoldRangeOnto(const EventLog&, const EventKey&, const EventKey&,
                                     const std::function<Result<State>()>&, bool);
  std::unique_ptr<Impl> impl_;
};

// Folds every event with from <= key <= to into folder. A corrupt record ends the fold with
// kCorruption naming its key (the folder then holds a partial fold: discard it). Ranges longer
// than a few thousand records are folded on a second thread while this one scans.
// check_chain: each record must also chain onto the one before it (an edited record is then a
// corruption, not folded as if it were good); readers answering for a log set it, a writer
// folding what it wrote itself need not.
Status FoldRange(const EventLog& log, const EventKey& from, const EventKey& to,
                 StateFolder& folder, bool check_chain = false);

// FoldRange onto a base state that load_base produces on the folding thread while this one
// already scans the range: StateAt reads and decodes its snapshot while it scans the tail.
Result<State> FoldRangeOnto(const EventLog& log, const EventKey& from, const EventKey& to,
                            const std::function<Result<State>()>& load_base,
                            bool check_chain = false);

// Folds records as they are handed to it, on its own thread. A writer's compactor follows the
// log with one (EventLog::SetCommitObserver), so a snapshot does not read back what was just
// written: the folding is spread over the interval and a cut only materialises the state.
class FoldFeed {
 public:
  FoldFeed();
  ~FoldFeed();
  FoldFeed(const FoldFeed&) = delete;
  FoldFeed& operator=(const FoldFeed&) = delete;

  // Copies and queues the records (cheap; safe from any thread).
  void Push(std::span<const EventLog::CommittedRecord> records);
  // The state the queued records fold onto; folding starts once it is set.
  void SetBase(State base);
  // Waits until every record pushed so far is folded and returns that state; the feed goes on
  // from it. Fails (for good) if a record does not verify or no base was set.
  Result<State> Cut();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twin
