// The state at any T: the newest snapshot at or before T plus the fold of the tail, uncertain
// when a gap covers T (including one recorded after T).
#include "eventlog/folder.h"
#include "eventlog/log_internal.h"

namespace twin {

Result<std::optional<uint64_t>> EventLog::GapRecordedAfter(uint64_t t_ns) const {
  (void)impl_->Drain();  // reads what was written
  // Per gap start, the entry recorded last wins (the gap that closes an open one).
  std::map<uint64_t, std::pair<std::string, uint64_t>> by_start;  // start -> (record key, end)
  const std::string prefix = kGapIndexPrefix;
  std::string upper = prefix;
  upper.resize(prefix.size() + 8);
  PutBE64(upper.data() + prefix.size(), t_ns == UINT64_MAX ? t_ns : t_ns + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->meta));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 24 || it->value().size() != 8) continue;
    const uint64_t start = GetBE64(it->key().data() + prefix.size());
    std::string rec(it->key().data() + prefix.size() + 8, 16);
    auto& slot = by_start[start];
    if (slot.first.empty() || slot.first < rec) slot = {std::move(rec), GetBE64(it->value().data())};
  }
  if (Status st = FromRocks(it->status(), "cannot read the gap index"); !st.ok()) return st;
  const std::string t_key = EncodeKey({t_ns, UINT64_MAX});
  for (const auto& [start, rec_end] : by_start) {
    // Covers T, and recorded after T: the fold up to T has not seen it.
    if (start <= t_ns && t_ns <= rec_end.second && rec_end.first > t_key) {
      return std::optional<uint64_t>(start);
    }
  }
  return std::optional<uint64_t>();
}

Result<std::vector<EventLog::GapSpan>> EventLog::Gaps() const {
  (void)impl_->Drain();  // reads what was written
  std::map<uint64_t, GapSpan> by_start;
  const std::string prefix = kGapIndexPrefix;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->meta));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 24 || it->value().size() != 8) continue;
    GapSpan g;
    g.start_ns = GetBE64(it->key().data() + prefix.size());
    if (!DecodeKey(std::string_view(it->key().data() + prefix.size() + 8, 16), &g.recorded)) continue;
    g.end_ns = GetBE64(it->value().data());
    auto [slot, fresh] = by_start.try_emplace(g.start_ns, g);
    if (!fresh && slot->second.recorded < g.recorded) slot->second = g;
  }
  if (Status st = FromRocks(it->status(), "cannot read the gap index"); !st.ok()) return st;
  std::vector<GapSpan> out;
  for (auto& [start, g] : by_start) out.push_back(g);
  return out;
}

static Result<State> StateAtFolded(const EventLog& log, uint64_t t_ns);
static Result<State> FullFold(const EventLog& log, uint64_t t_ns);

// A state folded up to T is uncertain when a gap recorded later covers T.
static Result<State> WithGapsAhead(const EventLog& log, uint64_t t_ns, Result<State> st) {
  if (!st.ok()) return st;
  auto gap = log.GapRecordedAfter(t_ns);
  if (!gap.ok()) return gap.status();
  if (gap.value()) {
    State& s = st.value();
    if (!s.uncertain || *gap.value() < s.uncertain_since_ns) s.uncertain_since_ns = *gap.value();
    s.uncertain = true;
  }
  return st;
}

Result<State> StateAt(const EventLog& log, uint64_t t_ns) {
  return WithGapsAhead(log, t_ns, StateAtFolded(log, t_ns));
}

// The fold alone, without the look ahead.
static Result<State> StateAtFolded(const EventLog& log, uint64_t t_ns) {
  const EventKey target{t_ns, UINT64_MAX};
  auto snap_key = log.SnapshotKeyAtOrBefore(target);
  if (!snap_key.ok()) return snap_key.status();
  if (!snap_key.value()) return FullFold(log, t_ns);
  // The snapshot is read and decoded on the folding thread while this one scans the tail.
  const EventKey at = *snap_key.value();
  return FoldRangeOnto(log, NextKey(at), target, [&]() -> Result<State> {
    auto st = log.SnapshotStateAt(at);
    if (st.ok() && !(st.value().last_key == at)) {
      return Status::Corruption("snapshot at key " + KeyToString(at) + " says it ends at " +
                                KeyToString(st.value().last_key) + "; run 'twin-replay verify'");
    }
    return st;
  }, /*check_chain=*/true);  // an edited record is reported, never folded as if it were good
}

Result<State> StateAtByFullFold(const EventLog& log, uint64_t t_ns) {
  return WithGapsAhead(log, t_ns, FullFold(log, t_ns));
}

static Result<State> FullFold(const EventLog& log, uint64_t t_ns) {
  StateFolder folder;
  Status s = FoldRange(log, {0, 0}, {t_ns, UINT64_MAX}, folder, /*check_chain=*/true);
  if (!s.ok()) return s;
  return folder.Finish();
}

}  // namespace twin
