// The event log's inside, shared by its implementation files (log.cc: open, append, scans,
// snapshots, meta; verify.cc; retention.cc; state_at.cc) and by nothing else.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "eventlog/background_delete.h"
#include "eventlog/chain.h"
#include "eventlog/chain_anchor.h"
#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/log.h"
#include "eventlog/open_guard.h"
#include "eventlog/record_encoder.h"
#include "eventlog/rocks_options.h"
#include "eventlog/table_merge.h"
#include "eventlog/timefmt.h"
#include "eventlog/wal_recovery.h"
#include "format/codec.h"
#include "format/terminal.h"

namespace twin {
namespace log_detail {

inline constexpr const char* kMetaSchema = "schema_version";
inline constexpr const char* kMetaHead = "chain_head";
inline constexpr const char* kMetaOrigin = "chain_origin";
inline constexpr const char* kSealPrefix = "seal/";
// The snapshot index: one empty meta entry per snapshot, "snapidx/" + its 16-byte key. Seeks
// and listings go through it, so they never load a snapshot; the snapshot itself is then one
// point lookup. kMetaSnapIndex marks a log whose index is complete.
inline constexpr const char* kSnapIndexPrefix = "snapidx/";
inline constexpr const char* kMetaSnapIndex = "snapshot_index";
// Set once a writer has kept a chain anchor for this log: from then on a missing anchor file is
// itself a finding.
inline constexpr const char* kMetaAnchored = "chain_anchored";
// The gap index: "gapidx/" + BE64(gap_start_ns) + the gap record's 16-byte key -> BE64(gap end,
// UINT64_MAX while open). A gap is recorded after the loss it describes; StateAt looks ahead
// through the index for a gap covering T recorded after T.
inline constexpr const char* kGapIndexPrefix = "gapidx/";
// BE64: no gap in the index was recorded more than this many ns after its start (the record's
// key time minus gap_start). A gap covering T and recorded after T therefore starts after
// T - lag, and the look-ahead reads only the index from there. Written with the index entries
// that raise it; computed once by the writer on a log from before it (absent: readers read the
// whole index). Too large is only slower, never wrong.
inline constexpr const char* kMetaGapMaxLag = "gap_max_lag";

inline void PutBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTimedOut()) return Status::Busy(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

inline std::string HeadToJson(const ChainHead& h) {
  nlohmann::json j = {{"ts_ns", h.key.ts_ns}, {"seq", h.key.seq}, {"count", h.count},
                      {"hash", HashHex(h.head)}};
  return j.dump();
}

inline bool HeadFromJson(const std::string& s, ChainHead* h) {
  auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    h->key = {j.at("ts_ns").get<uint64_t>(), j.at("seq").get<uint64_t>()};
    h->count = j.at("count").get<uint64_t>();
    return HexDecode(j.at("hash").get<std::string>(), h->head.data(), h->head.size());
  } catch (const std::exception&) {
    return false;
  }
}

inline std::string SealToJson(const Seal& s) {
  nlohmann::json j = {{"ts_ns", s.key.ts_ns}, {"seq", s.key.seq},   {"count", s.count},
                      {"hash", HashHex(s.head)}, {"sealed_ns", s.sealed_ns}, {"mac", s.mac},
                      {"mac_epoch", s.mac_epoch}};
  return j.dump();
}

inline bool SealFromJson(const std::string& s, Seal* out) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    out->key = {j.at("ts_ns").get<uint64_t>(), j.at("seq").get<uint64_t>()};
    out->count = j.at("count").get<uint64_t>();
    out->sealed_ns = j.value("sealed_ns", uint64_t{0});
    out->mac = j.value("mac", std::string());
    out->mac_epoch = j.value("mac_epoch", uint64_t{0});
    return HexDecode(j.at("hash").get<std::string>(), out->head.data(), out->head.size());
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace log_detail

// Only the log's own implementation files include this header.
using namespace log_detail;

struct EventLog::Impl {
  std::string dir;
  bool writer = false;
  bool snap_index = false;  // meta holds a complete snapshot index
  // kMetaGapMaxLag, UINT64_MAX when the log has none (the whole gap index is read). Raised
  // under mu by Append; read without it by the look-ahead.
  std::atomic<uint64_t> gap_max_lag{UINT64_MAX};
  LogOptions options;
  std::shared_ptr<BackgroundDeleteFs> fs;  // writer only; outlives db
  std::unique_ptr<rocksdb::Env> env;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* twin = nullptr;

  mutable std::mutex mu;  // serialises Append and guards head and observer
  ChainHead head;         // after the last batch handed to the committer
  std::shared_ptr<const EventLog::CommitFn> observer;
  std::unique_ptr<RecordEncoder> encoder;  // writer only

  // The chain anchor (writer only) and what the open found missing.
  std::unique_ptr<ChainAnchor> anchor;
  std::optional<LossReport> open_loss;   // writer: a loss it found and recorded at open
  Status open_problem;                   // reader: a loss nobody has recorded yet

  // Commit pipeline (writer only). Append encodes, chains and stages a batch, then queues it
  // for the committer thread, which writes batches in order while the next ones are prepared.
  // Batch b uses slots[b % kSlots]; a slot is reused once its batch is done. Queueing (rather
  // than handing over only when the committer is idle) keeps the committer writing back to back:
  // it never waits for the appending thread to be scheduled between two batches.
  static constexpr int kSlots = RecordEncoder::kGenerations;  // records live as long as slots
  struct Slot {
    rocksdb::WriteBatch batch;  // reused: keeps its buffer
    std::vector<EventLog::CommittedRecord> records;  // for the observer (views into the encoder)
    std::shared_ptr<const EventLog::CommitFn> observer;
    ChainHead head;  // after this batch
    size_t events = 0;
  };
  Slot slots[kSlots];
  std::thread committer;
  mutable std::mutex commit_mu;
  mutable std::condition_variable commit_cv;  // a batch was queued, or stop
  mutable std::condition_variable done_cv;    // a batch was written (or dropped)
  uint64_t queued = 0;       // batches handed to the committer; guarded by commit_mu
  uint64_t done = 0;         // of those, written or dropped; guarded by commit_mu
  bool commit_stop = false;  // guarded by commit_mu
  Status commit_failure;     // guarded by commit_mu; sticky: the log must be reopened
  ChainHead committed;       // after the last batch written; guarded by commit_mu

  void CommitLoop() {
    std::unique_lock<std::mutex> l(commit_mu);
    for (;;) {
      commit_cv.wait(l, [&] { return queued != done || commit_stop; });
      if (queued == done) return;  // stop, and everything queued is written
      Slot& slot = slots[done % kSlots];
      const bool failed = !commit_failure.ok();
      l.unlock();
      // After a failed write the queued batches are dropped: they chain onto the lost one.
      Status st = failed ? Status::Ok() : Commit(slot);
      l.lock();
      if (!failed) {
        if (st.ok()) {
          committed = slot.head;
        } else {
          commit_failure = st;
        }
      }
      ++done;
      done_cv.notify_all();
    }
  }

  // Every write of the writer goes through here. A write that fails leaves RocksDB's WAL file
  // marked as having seen an error, and the packaged RocksDB (7.8, built with assertions) aborts
  // the process if that file is synced or written again. So a WAL sync never runs while a write
  // is in flight (wal_mu), and after the first failure nothing touches the WAL again: no sync, no
  // write, no flush at close (write_failed; the log must be reopened).
  rocksdb::Status WriteToWal(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch) {
    std::lock_guard<std::mutex> g(wal_mu);
    if (write_failed.load()) {
      return rocksdb::Status::Aborted("an earlier write to this log failed; reopen the log");
    }
    auto s = db->Write(wo, batch);
    if (!s.ok()) write_failed.store(true);
    return s;
  }

  // The WAL sync of the group commit and of EventLog::Sync: never during a write, never after a
  // failed one (WriteToWal).
  rocksdb::Status SyncWal() {
    std::lock_guard<std::mutex> g(wal_mu);
    if (write_failed.load()) {
      return rocksdb::Status::Aborted("an earlier write to this log failed; reopen the log");
    }
    return db->SyncWAL();
  }

  // A write outside the append pipeline (snapshot, seal, twin catalogue, retention, meta): a
  // failure is sticky like a failed append, so Drain reports it to every later caller.
  Status WriteOther(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch,
                    const std::string& what) {
    auto s = WriteToWal(wo, batch);
    if (s.ok()) return Status::Ok();
    Status st = FromRocks(s, what + " in " + dir + " (the log takes no more writes until it is "
                                 "reopened)");
    std::lock_guard<std::mutex> l(commit_mu);
    if (commit_failure.ok()) commit_failure = st;
    return st;
  }

  Status Commit(Slot& slot) {
    rocksdb::WriteOptions wo;
    wo.sync = options.fsync == FsyncPolicy::kAlways;
    auto s = WriteToWal(wo, &slot.batch);
    if (!s.ok()) {
      return FromRocks(s, "cannot append to event log in " + dir + " (a batch of " +
                              std::to_string(slot.events) +
                              " events and any queued after it were not written; reopen the "
                              "log to go on)");
    }
    if (options.fsync == FsyncPolicy::kInterval) dirty.store(true, std::memory_order_relaxed);
    // After the write, never before: the anchor must not vouch for a batch the WAL lacks.
    if (anchor) anchor->Update(slot.head).IgnoreError();  // a stale anchor only lags
    if (slot.observer) (*slot.observer)(slot.records);
    return Status::Ok();
  }

  // Waits until every batch queued so far is written (or dropped after a failure).
  Status Drain() const {
    if (!committer.joinable()) return Status::Ok();
    std::unique_lock<std::mutex> l(commit_mu);
    done_cv.wait(l, [&] { return done == queued; });
    return commit_failure;
  }

  // Drain for the appending side: after a failed write, head goes back to the last batch that
  // was written. REQUIRES: mu.
  Status DrainAndSettleHead() {
    Status failure = Drain();
    if (!failure.ok()) {
      std::lock_guard<std::mutex> l(commit_mu);
      head = committed;
    }
    return failure;
  }

  // The slot for the next batch, once the batch that used it last is done; or the failure of
  // an earlier write (head settled back). REQUIRES: mu.
  Result<Slot*> NextSlot() {
    {
      std::unique_lock<std::mutex> l(commit_mu);
      done_cv.wait(l, [&] { return queued - done < kSlots; });
      if (commit_failure.ok()) return &slots[queued % kSlots];
    }
    return DrainAndSettleHead();  // the failure: it is sticky
  }

  // Queues the prepared slot (NextSlot's) for the committer. REQUIRES: mu.
  void Queue() {
    {
      std::lock_guard<std::mutex> l(commit_mu);
      ++queued;
    }
    commit_cv.notify_one();
  }

  // Group commit for FsyncPolicy::kInterval.
  std::thread syncer;
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  bool stop = false;
  std::atomic<bool> dirty{false};
  std::atomic<bool> write_failed{false};  // set under wal_mu (WriteToWal)
  std::mutex wal_mu;                       // a WAL write and a WAL sync never overlap

  // Merging of small tables (writer only; eventlog/table_merge.h).
  std::thread merger;
  std::mutex merge_mu;
  std::condition_variable merge_cv;
  bool merge_stop = false;  // guarded by merge_mu
  // PauseBackgroundWork: no flush, compaction or merge writes a table until resumed.
  std::atomic<bool> background_paused{false};
  std::mutex pause_mu;      // serialises pause and resume
  std::mutex merge_run_mu;  // held by a merge pass
  static constexpr auto kMergeEvery = std::chrono::seconds(10);

  void MergeLoop() {
    std::unique_lock<std::mutex> l(merge_mu);
    while (!merge_cv.wait_for(l, kMergeEvery, [&] { return merge_stop; })) {
      l.unlock();
      MergeSmallTablesOnce();
      l.lock();
    }
  }

  void MergeSmallTablesOnce() {
    std::lock_guard<std::mutex> running(merge_run_mu);
    if (write_failed.load() || background_paused.load()) return;
    for (auto* cf : {events, snapshots}) {
      // A failed merge leaves the tables as they were; the next tick tries again.
      (void)MergeSmallTables(*db, cf);
    }
  }

  void StopMerger() {
    if (!merger.joinable()) return;
    {
      std::lock_guard<std::mutex> l(merge_mu);
      merge_stop = true;
    }
    merge_cv.notify_all();
    merger.join();
  }

  ~Impl() {
    StopMerger();
    if (committer.joinable()) {
      {
        std::lock_guard<std::mutex> l(commit_mu);
        commit_stop = true;  // the loop writes what is queued first
      }
      commit_cv.notify_all();
      committer.join();
    }
    if (syncer.joinable()) {
      {
        std::lock_guard<std::mutex> l(sync_mu);
        stop = true;
      }
      sync_cv.notify_all();
      syncer.join();
    }
    if (db) {
      if (writer && dirty.load()) SyncWal().PermitUncheckedError();
      if (anchor) anchor->Sync().IgnoreError();  // best effort at close
      FlushOnClose();
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
    }
  }

  // A clean close leaves no memtable behind, so the next open (every twin-replay command, the
  // next twind) replays no WAL. After a failed write RocksDB must not touch the WAL again; what
  // a failed flush did not write stays in the synced WAL.
  // Nor while background work is paused (a low-disk stop): the flush would wait for it forever,
  // and the WAL holds what the memtables hold.
  void FlushOnClose() {
    if (!writer || write_failed.load() || background_paused.load()) return;
    rocksdb::FlushOptions fo;
    fo.allow_write_stall = true;
    db->Flush(fo, handles).PermitUncheckedError();
  }

  // Group commit: the WAL (FsyncPolicy::kInterval) and then the anchor, every interval.
  void SyncLoop() {
    std::unique_lock<std::mutex> l(sync_mu);
    while (!stop) {
      sync_cv.wait_for(l, std::chrono::milliseconds(std::max<uint32_t>(options.fsync_interval_ms, 1)));
      l.unlock();
      if (dirty.exchange(false)) SyncWal().PermitUncheckedError();  // retried next tick
      if (anchor) anchor->Sync().IgnoreError();  // retried next tick
      l.lock();
    }
  }

  // Where the chain starts after retention: empty (count 0, zero hash) when retention never ran.
  // An unreadable value is Corruption; Origin() then gives the empty origin, so that the chain
  // check fails at the first record instead of vouching for anything (verify names the key).
  Result<ChainHead> ReadOrigin() const {
    ChainHead origin;
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, kMetaOrigin, &v);
    if (s.IsNotFound()) return origin;
    if (!s.ok()) return FromRocks(s, "cannot read meta:chain_origin");
    if (!HeadFromJson(v, &origin)) {
      return Status::Corruption("meta:chain_origin is unreadable; run 'twin-replay verify'");
    }
    return origin;
  }
  ChainHead Origin() const {
    auto o = ReadOrigin();
    return o.ok() ? o.value() : ChainHead{};
  }
};

}  // namespace twin
