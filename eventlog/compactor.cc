#include "eventlog/compactor.h"

#include "eventlog/folder.h"

namespace twin {

Status Compactor::LoadLatest() {
  auto snap = log_.SnapshotAtOrBefore({UINT64_MAX, UINT64_MAX});
  if (!snap.ok()) return snap.status();
  current_ = snap.value() ? std::move(snap.value()->state) : State{};
  loaded_ = true;
  return Status::Ok();
}

Result<std::optional<Snapshot>> Compactor::RunOnce(uint64_t now_ns) {
  if (!loaded_) {
    Status s = LoadLatest();
    if (!s.ok()) return s;
  }
  const State before = current_;
  EventKey from = current_.last_key;
  from = from.seq == UINT64_MAX ? EventKey{from.ts_ns + 1, 0} : EventKey{from.ts_ns, from.seq + 1};
  if (current_.events_folded == 0) from = {0, 0};
  StateFolder folder(std::move(current_));
  Status s = FoldRange(log_, from, {UINT64_MAX, UINT64_MAX}, folder);
  current_ = folder.Finish();
  if (!s.ok()) {
    current_ = before;  // keep the last good state; the next run retries
    return s;
  }
  if (current_.events_folded == before.events_folded) return std::optional<Snapshot>();
  Snapshot snap;
  snap.state = current_;
  snap.diff = Diff(before, current_);
  snap.written_ns = now_ns;
  s = log_.PutSnapshot(snap);
  if (!s.ok()) return s;
  return std::optional<Snapshot>(std::move(snap));
}

}  // namespace twin
