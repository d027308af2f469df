#include "eventlog/compactor.h"

namespace twin {

namespace {
EventKey After(const State& s) {
  if (s.events_folded == 0) return {0, 0};
  return NextKey(s.last_key);
}
}  // namespace

Compactor::Compactor(EventLog& log, uint64_t snapshot_every_events)
    : log_(log), snapshot_every_events_(snapshot_every_events) {}

Compactor::~Compactor() { StopFollowing(); }

void Compactor::StopFollowing() {
  if (!feed_) return;
  log_.SetCommitObserver(nullptr);
  feed_.reset();
}

Status Compactor::Follow() {
  if (feed_) return Status::Ok();
  if (!loaded_) {
    Status s = LoadLatest();
    if (!s.ok()) return s;
  }
  feed_ = std::make_unique<FoldFeed>();
  // From here on every commit reaches the feed; what came before is folded from the log.
  const ChainHead head =
      log_.SetCommitObserver([f = feed_.get()](std::span<const EventLog::CommittedRecord> r) {
        f->Push(r);
      });
  StateFolder catch_up(current_);
  Status s = head.count == 0 ? Status::Ok() : FoldRange(log_, After(current_), head.key, catch_up);
  if (!s.ok()) {
    StopFollowing();
    return s;
  }
  feed_->SetBase(catch_up.Finish());
  return Status::Ok();
}

Status Compactor::LoadLatest() {
  auto snap = log_.SnapshotAtOrBefore({UINT64_MAX, UINT64_MAX});
  if (!snap.ok()) return snap.status();
  current_ = snap.value() ? std::move(snap.value()->state) : State{};
  loaded_ = true;
  return Status::Ok();
}

Result<std::optional<Snapshot>> Compactor::RunOnce(uint64_t now_ns) {
  appended_ = 0;  // a failed run is retried after the next interval or bound, not per batch
  if (!loaded_) {
    Status s = LoadLatest();
    if (!s.ok()) return s;
  }
  const State before = current_;
  Status s;
  if (feed_) {
    (void)log_.Drain();  // everything appended before this tick reaches the feed
    auto cut = feed_->Cut();
    if (cut.ok()) {
      current_ = std::move(cut).value();
    } else {
      StopFollowing();  // read the log instead, from the last good state
    }
  }
  if (!feed_) {
    StateFolder folder(std::move(current_));
    s = FoldRange(log_, After(before), {UINT64_MAX, UINT64_MAX}, folder);
    current_ = folder.Finish();
    if (!s.ok()) {
      current_ = before;  // keep the last good state; the next run retries
      return s;
    }
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
