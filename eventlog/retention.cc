// Size and age retention, cut at a snapshot boundary with the chain's new origin recorded.
#include "eventlog/log_internal.h"

namespace twin {

uint64_t EventLog::ApproximateSizeBytes() const {
  (void)impl_->Drain();
  uint64_t total = 0;
  for (auto* h : {impl_->events, impl_->snapshots}) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(h, "rocksdb.total-sst-files-size", &v)) total += v;
    if (impl_->db->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return total;
}

Result<uint64_t> EventLog::ApplyRetention(uint64_t max_age_ns, uint64_t max_bytes,
                                          uint64_t now_ns) {
  Impl& m = *impl_;
  if (!m.writer) return Status::InvalidArgument("event log opened read-only");
  if (Status d = m.Drain(); !d.ok()) return d;
  auto keys_r = SnapshotKeys();
  if (!keys_r.ok()) return keys_r.status();
  const auto& keys = keys_r.value();
  if (keys.size() < 2) return uint64_t{0};  // always keep the latest snapshot and its tail
  std::optional<EventKey> cut;
  // The newest snapshot old enough: everything before it may go.
  if (max_age_ns != 0 && now_ns > max_age_ns) {
    for (size_t i = 0; i + 1 < keys.size(); ++i) {
      if (keys[i].ts_ns <= now_ns - max_age_ns) cut = keys[i];
    }
  }
  if (max_bytes != 0) {
    uint64_t total = ApproximateSizeBytes();
    if (total > max_bytes) {
      // Oldest snapshot whose tail (events after it) fits in max_bytes.
      for (size_t i = 0; i + 1 < keys.size(); ++i) {
        rocksdb::Range r;
        std::string b = EncodeKey(keys[i]);
        std::string e = EncodeKey({UINT64_MAX, UINT64_MAX});
        r.start = b;
        r.limit = e;
        // What stays: the events after the cut and the snapshots from it on (both count in
        // ApproximateSizeBytes, so both must fit the budget).
        const rocksdb::SizeApproximationOptions so{.include_memtables = true, .include_files = true};
        uint64_t tail = 0, snap_tail = 0;
        auto s = m.db->GetApproximateSizes(so, m.events, &r, 1, &tail);
        if (s.ok()) s = m.db->GetApproximateSizes(so, m.snapshots, &r, 1, &snap_tail);
        if (!s.ok()) return FromRocks(s, "cannot size the log");
        tail += snap_tail;
        if (!cut || *cut < keys[i]) cut = keys[i];
        if (tail <= max_bytes) break;
      }
    }
  }
  if (!cut) return uint64_t{0};
  ChainHead old_origin = m.Origin();
  if (!(old_origin.key < *cut)) return uint64_t{0};
  auto snap = SnapshotAtOrBefore(*cut);
  if (!snap.ok()) return snap.status();
  if (!snap.value()) return uint64_t{0};
  std::string last_value;
  auto gs = m.db->Get(rocksdb::ReadOptions(), m.events, EncodeKey(*cut), &last_value);
  if (!gs.ok() || last_value.size() < 32) {
    return Status::Corruption("retention: the record at snapshot key " + KeyToString(*cut) +
                              " is missing; run twin-replay verify");
  }
  ChainHead origin;
  origin.key = *cut;
  origin.count = snap.value()->state.events_folded;
  std::memcpy(origin.head.data(), last_value.data(), 32);
  const uint64_t deleted = origin.count - old_origin.count;

  rocksdb::WriteBatch batch;
  std::string zero = EncodeKey({0, 0});
  std::string end = EncodeKey(NextKey(*cut));
  std::string snap_end = EncodeKey(*cut);
  auto s = batch.DeleteRange(m.events, zero, end);
  if (s.ok()) s = batch.DeleteRange(m.snapshots, zero, snap_end);
  if (s.ok()) s = batch.DeleteRange(m.meta, std::string(kSnapIndexPrefix) + zero, std::string(kSnapIndexPrefix) + snap_end);
  if (s.ok()) s = batch.DeleteRange(m.meta, std::string(kSealPrefix) + zero, std::string(kSealPrefix) + end);
  if (s.ok()) s = batch.Put(m.meta, kMetaOrigin, HeadToJson(origin));
  if (!s.ok()) return FromRocks(s, "retention batch");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (Status ws = m.WriteOther(wo, &batch, "cannot apply retention"); !ws.ok()) return ws;
  rocksdb::Slice begin_s(zero), end_s(end);
  m.db->CompactRange(rocksdb::CompactRangeOptions(), m.events, &begin_s, &end_s)
      .PermitUncheckedError();  // space comes back later if this fails
  // The snapshots before the cut hold most of the bytes: without this their tables stayed.
  rocksdb::Slice snap_end_s(snap_end);
  m.db->CompactRange(rocksdb::CompactRangeOptions(), m.snapshots, &begin_s, &snap_end_s)
      .PermitUncheckedError();  // as above

  Event rec;
  rec.kind = EventKind::kRetention;
  rec.ts_ns = now_ns;
  rec.reason = "retention applied at snapshot boundary";
  rec.attrs = {{"deleted_events", std::to_string(deleted)},
               {"cut_key", KeyToString(*cut)},
               {"max_age_ns", std::to_string(max_age_ns)},
               {"max_bytes", std::to_string(max_bytes)},
               {"new_origin_hash", HashHex(origin.head)}};
  auto a = Append(rec);
  if (!a.ok()) return a.status();
  return deleted;
}

}  // namespace twin
