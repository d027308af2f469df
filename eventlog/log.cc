#include "eventlog/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, not removed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "eventlog/background_delete.h"
#include "eventlog/batch_pipe.h"
#include "eventlog/chain_anchor.h"
#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/open_guard.h"
#include "eventlog/record_encoder.h"
#include "eventlog/rocks_options.h"
#include "eventlog/table_merge.h"
#include "eventlog/timefmt.h"
#include "eventlog/wal_recovery.h"
#include "format/codec.h"

namespace twin {

namespace {

constexpr const char* kMetaSchema = "schema_version";
constexpr const char* kMetaHead = "chain_head";
constexpr const char* kMetaOrigin = "chain_origin";
constexpr const char* kSealPrefix = "seal/";
// The snapshot index: one empty meta entry per snapshot, "snapidx/" + its 16-byte key. Seeks
// and listings go through it, so they never load a snapshot; the snapshot itself is then one
// point lookup. kMetaSnapIndex marks a log whose index is complete.
constexpr const char* kSnapIndexPrefix = "snapidx/";
constexpr const char* kMetaSnapIndex = "snapshot_index";
// Set once a writer has kept a chain anchor for this log: from then on a missing anchor file is
// itself a finding.
constexpr const char* kMetaAnchored = "chain_anchored";
// The gap index: "gapidx/" + BE64(gap_start_ns) + the gap record's 16-byte key -> BE64(gap end,
// UINT64_MAX while open). A gap is recorded after the loss it describes; StateAt looks ahead
// through the index for a gap covering T recorded after T.
constexpr const char* kGapIndexPrefix = "gapidx/";

void PutBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTimedOut()) return Status::Busy(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

// SHA-256 over (prev || key || payload), through OpenSSL's SHA-256 functions: the EVP
// interface costs ~60 ns more per record (a quarter of the hash) in provider dispatch.
class Hasher {
 public:
  Hash Chain(const Hash& prev, std::string_view key, std::string_view payload) {
    Hash out{};
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, prev.data(), prev.size());
    SHA256_Update(&c, key.data(), key.size());
    SHA256_Update(&c, payload.data(), payload.size());
    SHA256_Final(out.data(), &c);
    return out;
  }
};

// Bytes read from the log in a message: printable ASCII, the rest as \xNN.
std::string EscapeForMessage(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

bool HashFromHex(const std::string& hex, Hash* out) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    unsigned v = 0;
    if (sscanf(hex.c_str() + 2 * i, "%2x", &v) != 1) return false;
    (*out)[i] = static_cast<uint8_t>(v);
  }
  return true;
}

std::string HeadToJson(const ChainHead& h) {
  nlohmann::json j = {{"ts_ns", h.key.ts_ns}, {"seq", h.key.seq}, {"count", h.count},
                      {"hash", HashHex(h.head)}};
  return j.dump();
}

bool HeadFromJson(const std::string& s, ChainHead* h) {
  auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    h->key = {j.at("ts_ns").get<uint64_t>(), j.at("seq").get<uint64_t>()};
    h->count = j.at("count").get<uint64_t>();
    return HashFromHex(j.at("hash").get<std::string>(), &h->head);
  } catch (const std::exception&) {
    return false;
  }
}

std::string SealToJson(const Seal& s) {
  nlohmann::json j = {{"ts_ns", s.key.ts_ns}, {"seq", s.key.seq},   {"count", s.count},
                      {"hash", HashHex(s.head)}, {"sealed_ns", s.sealed_ns}, {"mac", s.mac},
                      {"mac_epoch", s.mac_epoch}};
  return j.dump();
}

bool SealFromJson(const std::string& s, Seal* out) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    out->key = {j.at("ts_ns").get<uint64_t>(), j.at("seq").get<uint64_t>()};
    out->count = j.at("count").get<uint64_t>();
    out->sealed_ns = j.value("sealed_ns", uint64_t{0});
    out->mac = j.value("mac", std::string());
    out->mac_epoch = j.value("mac_epoch", uint64_t{0});
    return HashFromHex(j.at("hash").get<std::string>(), &out->head);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

EventKey NextKey(const EventKey& k) {
  return k.seq == UINT64_MAX ? EventKey{k.ts_ns + 1, 0} : EventKey{k.ts_ns, k.seq + 1};
}

std::string EncodeKey(const EventKey& k) {
  std::string out(16, '\0');
  PutBE64(out.data(), k.ts_ns);
  PutBE64(out.data() + 8, k.seq);
  return out;
}

bool DecodeKey(std::string_view bytes, EventKey* out) {
  if (bytes.size() != 16) return false;
  out->ts_ns = GetBE64(bytes.data());
  out->seq = GetBE64(bytes.data() + 8);
  return true;
}

std::string KeyToString(const EventKey& k) {
  return std::to_string(k.ts_ns) + ":" + std::to_string(k.seq);
}

std::string HashHex(const Hash& h) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view s) {
  if (s == "always") return FsyncPolicy::kAlways;
  if (s == "interval") return FsyncPolicy::kInterval;
  if (s == "never") return FsyncPolicy::kNever;
  return Status::InvalidArgument("fsync policy must be always, interval or never, not '" +
                                 std::string(s) + "'");
}

struct EventLog::Impl {
  std::string dir;
  bool writer = false;
  bool snap_index = false;  // meta holds a complete snapshot index
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
  Hasher hasher;

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

  Status Commit(Slot& slot) {
    rocksdb::WriteOptions wo;
    wo.sync = options.fsync == FsyncPolicy::kAlways;
    auto s = db->Write(wo, &slot.batch);
    if (!s.ok()) {
      // The WAL file saw an error: RocksDB's packaged build aborts (a failed assertion) if it is
      // synced again, so the syncer and the destructor stop syncing from here on.
      write_failed.store(true);
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
  std::atomic<bool> write_failed{false};

  // Merging of small tables (writer only; eventlog/table_merge.h).
  std::thread merger;
  std::mutex merge_mu;
  std::condition_variable merge_cv;
  bool merge_stop = false;  // guarded by merge_mu
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
    if (write_failed.load()) return;
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
      if (writer && dirty.load() && !write_failed.load()) db->SyncWAL().PermitUncheckedError();
      if (anchor) anchor->Sync().IgnoreError();  // best effort at close
      FlushOnClose();
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
    }
  }

  // A clean close leaves no memtable behind, so the next open (every twin-replay command, the
  // next twind) replays no WAL. After a failed write RocksDB must not touch the WAL again; what
  // a failed flush did not write stays in the synced WAL.
  void FlushOnClose() {
    if (!writer || write_failed.load()) return;
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
      if (dirty.exchange(false) && !write_failed.load()) {
        db->SyncWAL().PermitUncheckedError();  // a failed sync is retried next tick
      }
      if (anchor) anchor->Sync().IgnoreError();  // retried next tick
      l.lock();
    }
  }

  ChainHead Origin() const {
    ChainHead origin;
    std::string v;
    if (db->Get(rocksdb::ReadOptions(), meta, kMetaOrigin, &v).ok()) HeadFromJson(v, &origin);
    return origin;
  }
};

// Every table block's checksum (RocksDB's VerifyChecksum), said with the file's name.
static Status CheckTablesOf(const EventLog::Impl& m) {
  auto s = m.db->VerifyChecksum();
  if (s.ok()) return Status::Ok();
  return ExplainRocksFailure(m.dir, "a table of the event log in " + m.dir + " is damaged",
                             true, s.ToString());
}

// Compares the opened log with its chain anchor (and what RocksDB dropped from the WAL). A
// writer records a loss in meta (synced, before the anchor moves on) and keeps copies of the
// WALs; a reader keeps an unrecorded loss as its open problem. Then the writer's anchor follows
// the log from here.
static Status CheckChainAnchor(EventLog::Impl& m, const Result<std::optional<AnchorRecord>>& anchor,
                               std::vector<WalDrop> drops, WalKeeper* kept_wals) {
  std::string v;
  const bool anchored = m.db->Get(rocksdb::ReadOptions(), m.meta, kMetaAnchored, &v).ok();
  std::optional<AnchorRecord> a = anchor.ok() ? anchor.value() : std::nullopt;
  LossReport loss = AssessLoss(m.head, m.Origin(), a, std::move(drops), [&](const EventKey& k) {
    std::string value;
    std::optional<Hash> h;
    if (m.db->Get(rocksdb::ReadOptions(), m.events, EncodeKey(k), &value).ok() && value.size() >= 32) {
      h.emplace();
      std::memcpy(h->data(), value.data(), 32);
    }
    return h;
  });
  // A loss already recorded (a writer found it, then stopped before its anchor moved on).
  bool recorded = false;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.meta));
  for (it->Seek(kLossPrefix); it->Valid() && it->key().starts_with(kLossPrefix); it->Next()) {
    auto r = LossReport::FromJson(it->value().ToString());
    if (r && r->anchor && a && r->anchor->head.count == a->head.count &&
        r->log_head.count == loss.log_head.count) {
      recorded = true;
    }
  }
  if (!m.writer) {
    if (!anchor.ok()) {
      m.open_problem = Status::Corruption(anchor.status().message() +
                                          "; the end of the log cannot be checked; run "
                                          "'twin-replay verify'");
    } else if (!a && anchored) {
      m.open_problem = Status::Corruption(
          "the chain anchor " + m.dir + "/" + kAnchorFileName +
          " is missing, so whether records were cut from the end of the log cannot be checked; "
          "run 'twin-replay verify'");
    } else if (loss.vouched_lost() && !recorded) {
      m.open_problem = Status::Corruption(
          "the log in " + m.dir + " has lost records: " + loss.Describe() +
          "; run 'twin-replay verify' for the full report, and start twind on it (which records "
          "the loss as a gap) or salvage it with 'twin-replay recover'");
    }
    return Status::Ok();
  }
  if (!anchor.ok()) loss.anchor_problem = anchor.status().message();
  else if (!a && anchored) loss.anchor_problem = "the chain anchor file was missing";
  if (loss.any() && !recorded) {
    loss.kept_dir = kept_wals->Keep();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto ps = m.db->Put(wo, m.meta, LossMetaKey(loss), loss.ToJson());
    if (!ps.ok()) return FromRocks(ps, "cannot record the loss found at open");
    m.open_loss = std::move(loss);
  } else {
    kept_wals->Discard();
  }
  auto opened = ChainAnchor::Open(m.dir);
  if (!opened.ok()) return opened.status();
  m.anchor = std::move(opened).value();
  if (Status us = m.anchor->Update(m.head); !us.ok()) return us;
  if (Status ss = m.anchor->Sync(); !ss.ok()) return ss;
  if (!anchored) {
    auto ps = m.db->Put(rocksdb::WriteOptions(), m.meta, kMetaAnchored, "1");
    if (!ps.ok()) return FromRocks(ps, "cannot write meta " + std::string(kMetaAnchored));
  }
  return Status::Ok();
}

static Result<std::unique_ptr<EventLog::Impl>> OpenImpl(const std::string& dir, bool writer,
                                                       const LogOptions& options) {
  namespace fs = std::filesystem;
  auto impl = std::make_unique<EventLog::Impl>();
  impl->dir = dir;
  impl->writer = writer;
  impl->options = options;
  // Never let RocksDB decide whether to create a log: a dir that holds any trace of one that
  // cannot be opened is refused before RocksDB writes or deletes a file in it.
  DirInspection inspection;
  Status guard = CheckLogDir(dir, writer && options.create_if_missing, &inspection);
  if (!guard.ok()) return guard;
  std::error_code ec;
  if (!inspection.exists) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create data dir " + dir + ": " + ec.message());
    if (chmod(dir.c_str(), 0700) != 0) {
      return Status::IOError("cannot chmod 0700 " + dir + ": " + std::strerror(errno));
    }
  }

  rocksdb::Options opts = writer ? LogDbOptions() : LogReaderDbOptions();
  opts.create_if_missing = writer && inspection.fresh();
  const auto cfs = LogColumnFamilies(opts);
  // Read before the log is opened: a writer appends only after it, so the anchor never names
  // more than this open will see unless records were lost.
  auto anchor = ChainAnchor::Read(dir);
  // RocksDB's WAL drops are reported at WARN: taken for the loss report, passed on to the
  // options' own logger at its level.
  auto recovery_log = std::make_shared<RecoveryLogger>(opts.info_log);
  opts.info_log = recovery_log;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  WalKeeper kept_wals;
  if (writer) {
    if (!inspection.fresh()) kept_wals = WalKeeper::Link(dir);
    impl->fs = std::make_shared<BackgroundDeleteFs>(rocksdb::FileSystem::Default());
    impl->env = rocksdb::NewCompositeEnv(impl->fs);
    opts.env = impl->env.get();
    s = rocksdb::DB::Open(opts, dir, cfs, &impl->handles, &raw);
    if (!s.ok()) kept_wals.Discard();
    if (!s.ok() && s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Busy("data dir " + dir +
                          " is locked by another writer (is twind already running?)");
    }
  } else {
    // The writer may retire a file between the moment RocksDB reads CURRENT, the MANIFEST or the
    // dir listing and the moment it opens the file (a flush or compaction finishing, a writer
    // starting): RocksDB reports that as corruption or an I/O error naming the missing file.
    // Open again.
    for (int attempt = 0;; ++attempt) {
      std::vector<std::string> names;
      s = rocksdb::DB::ListColumnFamilies(opts, dir, &names);
      if (s.ok()) {
        std::vector<rocksdb::ColumnFamilyDescriptor> present;
        for (auto& d : cfs) {
          if (std::find(names.begin(), names.end(), d.name) == names.end()) {
            return Status::Corruption(
                "the MANIFEST of " + dir + " lists no column family '" + d.name +
                "': it is not this log's MANIFEST (replaced or damaged), or the dir was not "
                "written by safetytwin; nothing was written; " + CorruptionAdvice(dir));
          }
          present.push_back(d);
        }
        impl->handles.clear();
        s = rocksdb::DB::OpenForReadOnly(opts, dir, present, &impl->handles, &raw);
      }
      const bool vanished = s.ToString().find("No such file or directory") != std::string::npos;
      if (s.ok() || !vanished || attempt == 4) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
    }
  }
  if (!s.ok()) {
    return ExplainRocksFailure(dir, "cannot open event log in " + dir,
                               s.IsCorruption() || s.IsNotFound() ||
                                   s.ToString().find("No such file") != std::string::npos,
                               s.ToString());
  }
  impl->db.reset(raw);
  // Opening retired the previous run's WAL (and a crash's leftovers): have them gone before the
  // writer is handed out, so that a reader opening next does not list files about to vanish.
  if (impl->fs) impl->fs->Drain();
  impl->events = impl->handles[kCfIndexEvents];
  impl->snapshots = impl->handles[kCfIndexSnapshots];
  impl->meta = impl->handles[kCfIndexMeta];
  impl->twin = impl->handles[kCfIndexTwin];

  std::string v;
  rocksdb::Status gs = impl->db->Get(rocksdb::ReadOptions(), impl->meta, kMetaSchema, &v);
  if (gs.ok()) {
    // Digits only, 1..kSchemaVersion: a value this build does not know is refused, not read as 0.
    const bool digits = !v.empty() && v.size() <= 9 &&
                        v.find_first_not_of("0123456789") == std::string::npos;
    const uint32_t ver = digits ? static_cast<uint32_t>(std::stoul(v)) : 0;
    if (ver == 0) {
      return Status::Corruption("meta:schema_version of the event log in " + dir + " is '" +
                                EscapeForMessage(v) + "', not a schema version; " +
                                CorruptionAdvice(dir));
    }
    if (ver > kSchemaVersion) {
      return Status::InvalidArgument("event log in " + dir + " has schema version " + v +
                                     ", newer than this build's " +
                                     std::to_string(kSchemaVersion) + "; upgrade safetytwin");
    }
  } else if (writer) {
    auto ps = impl->db->Put(rocksdb::WriteOptions(), impl->meta, kMetaSchema,
                            std::to_string(kSchemaVersion));
    if (!ps.ok()) return FromRocks(ps, "cannot write schema version");
  }
  if (impl->db->Get(rocksdb::ReadOptions(), impl->meta, kMetaHead, &v).ok()) {
    if (!HeadFromJson(v, &impl->head)) {
      return Status::Corruption("meta:chain_head in " + dir + " is unreadable; run twin-replay verify");
    }
  } else {
    impl->head = impl->Origin();
  }
  if (writer) {
    // twind must not go on writing a log with a damaged table: every block's checksum is read
    // once at start-up (docs/OPERATIONS.md has the cost).
    if (Status ts = CheckTablesOf(*impl); !ts.ok()) {
      kept_wals.Discard();
      return ts;
    }
  }
  if (Status ls = CheckChainAnchor(*impl, anchor, recovery_log->drops(), &kept_wals); !ls.ok()) {
    return ls;
  }
  impl->snap_index = impl->db->Get(rocksdb::ReadOptions(), impl->meta, kMetaSnapIndex, &v).ok();
  if (writer && !impl->snap_index) {
    // A log from before the index (or a new one): index every snapshot once.
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions(), impl->snapshots));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() == 16) {
        batch.Put(impl->meta, kSnapIndexPrefix + it->key().ToString(), "").PermitUncheckedError();
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "cannot index snapshots");
    batch.Put(impl->meta, kMetaSnapIndex, "1").PermitUncheckedError();
    auto ws = impl->db->Write(rocksdb::WriteOptions(), &batch);
    if (!ws.ok()) return FromRocks(ws, "cannot write the snapshot index");
    impl->snap_index = true;
  }
  if (writer) {
    impl->encoder = std::make_unique<RecordEncoder>();
    impl->committed = impl->head;
    impl->committer = std::thread([p = impl.get()] { p->CommitLoop(); });
  }
  if (writer) {
    impl->syncer = std::thread([p = impl.get()] { p->SyncLoop(); });
  }
  if (writer) impl->merger = std::thread([p = impl.get()] { p->MergeLoop(); });
  return impl;
}

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLog::~EventLog() = default;

Result<std::unique_ptr<EventLog>> EventLog::OpenWriter(const std::string& dir,
                                                       const LogOptions& options) {
  auto r = OpenImpl(dir, true, options);
  if (!r.ok()) return r.status();
  return std::unique_ptr<EventLog>(new EventLog(std::move(r).value()));
}

Result<std::unique_ptr<EventLog>> EventLog::OpenReader(const std::string& dir) {
  auto r = OpenImpl(dir, false, LogOptions{});
  if (!r.ok()) return r.status();
  return std::unique_ptr<EventLog>(new EventLog(std::move(r).value()));
}

const std::string& EventLog::dir() const { return impl_->dir; }

Result<EventKey> EventLog::Append(std::span<const Event> events) {
  Impl& m = *impl_;
  if (!m.writer) return Status::InvalidArgument("event log opened read-only");
  std::lock_guard<std::mutex> l(m.mu);
  if (events.empty()) return m.head.key;
  auto next = m.NextSlot();
  if (!next.ok()) return next.status();
  Impl::Slot& slot = *next.value();
  // Records are encoded on two threads; this one chains and stages them in order.
  RecordEncoder& enc = *m.encoder;
  enc.Start(events);
  struct FinishGuard {
    RecordEncoder& e;
    ~FinishGuard() { e.Finish(); }
  } finish{enc};
  rocksdb::WriteBatch& batch = slot.batch;
  batch.Clear();
  slot.records.clear();
  slot.observer = m.observer;
  slot.events = events.size();
  ChainHead head = m.head;
  char keybuf[16];
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    EventKey k{std::max(e.ts_ns, head.key.ts_ns), head.key.seq + 1};
    PutBE64(keybuf, k.ts_ns);
    PutBE64(keybuf + 8, k.seq);
    std::string_view key(keybuf, 16);
    const std::string_view payload = enc.Get(i);
    head.head = m.hasher.Chain(head.head, key, payload);
    head.key = k;
    ++head.count;
    const rocksdb::Slice key_slice(key.data(), 16);
    const rocksdb::Slice value_parts[2] = {
        rocksdb::Slice(reinterpret_cast<const char*>(head.head.data()), 32),
        rocksdb::Slice(payload.data(), payload.size())};
    auto s = batch.Put(m.events, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(value_parts, 2));
    if (!s.ok()) return FromRocks(s, "cannot build batch");
    // Views into the encoder's arenas: they outlive the commit (the encoder keeps as many
    // batches' records as there are slots).
    if (slot.observer) slot.records.push_back({k, payload});
    if (e.kind == EventKind::kGap) {
      char idx[24];
      PutBE64(idx, e.gap_start_ns != 0 ? e.gap_start_ns : e.ts_ns);
      std::memcpy(idx + 8, keybuf, 16);
      char end[8];
      PutBE64(end, e.gap_end_ns != 0 ? e.gap_end_ns : UINT64_MAX);
      s = batch.Put(m.meta, kGapIndexPrefix + std::string(idx, 24), std::string(end, 8));
      if (!s.ok()) return FromRocks(s, "cannot build batch");
    }
    if (m.options.seal_every_events != 0 && head.count % m.options.seal_every_events == 0) {
      Seal seal{head.key, head.count, head.head, e.ts_ns, "", 0};
      s = batch.Put(m.meta, kSealPrefix + EncodeKey(head.key), SealToJson(seal));
      if (!s.ok()) return FromRocks(s, "cannot build batch");
    }
  }
  auto s = batch.Put(m.meta, kMetaHead, HeadToJson(head));
  if (!s.ok()) return FromRocks(s, "cannot build batch");
  slot.head = head;
  m.Queue();
  m.head = head;
  if (m.options.fsync == FsyncPolicy::kAlways) {
    // Durable on return: wait for this batch's synced write.
    Status st = m.DrainAndSettleHead();
    if (!st.ok()) return st;
  }
  return head.key;
}

ChainHead EventLog::SetCommitObserver(CommitFn fn) {
  std::lock_guard<std::mutex> l(impl_->mu);
  (void)impl_->Drain();
  impl_->observer = fn ? std::make_shared<const CommitFn>(std::move(fn)) : nullptr;
  return impl_->head;
}

Status EventLog::Sync() {
  if (!impl_->writer) return Status::Ok();
  Status pending = impl_->Drain();
  if (!pending.ok()) return pending;
  impl_->dirty.store(false);
  return FromRocks(impl_->db->SyncWAL(), "cannot sync WAL");
}

Status EventLog::Drain() { return impl_->Drain(); }

ChainHead EventLog::Head() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  (void)impl_->DrainAndSettleHead();
  return impl_->head;
}

Status EventLog::ScanRaw(const EventKey& from, const EventKey& to, const RawFn& fn) const {
  (void)impl_->Drain();
  if (to < from) return Status::Ok();
  rocksdb::ReadOptions ro;
  // A scan reads each block once: kept out of the block cache, a block's memory is reused for
  // the next one instead of faulting in fresh pages until the cache is full.
  ro.fill_cache = false;
  std::string upper = EncodeKey(NextKey(to));
  rocksdb::Slice upper_slice(upper);
  if (!(to == EventKey{UINT64_MAX, UINT64_MAX})) ro.iterate_upper_bound = &upper_slice;
  // No fixed readahead: RocksDB's own grows from 8 KB to 256 KB as a scan proves sequential.
  // A fixed 2 MB one copied ~3x the blocks a `state --at` tail needs (~600 KB): p50 -5%, 3 of
  // 3 alternating runs; long scans (a cold compaction) unchanged.
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->events));
  for (it->Seek(EncodeKey(from)); it->Valid(); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "cannot read event log");
}

Status RecordCorruption(const EventKey& key, const Status& cause) {
  return Status::Corruption("record at key " + KeyToString(key) + ": " + cause.message() +
                            "; it is not shown; run 'twin-replay verify' for a full report and "
                            "'twin-replay recover' to salvage what is readable");
}

// The chain hash stored with the last record before `from` (the chain's origin if none): what
// the first record a scan reads from `from` must chain onto.
static Hash ChainBefore(const EventLog::Impl& m, const EventKey& from) {
  Hash prev = m.Origin().head;
  if (from == EventKey{0, 0}) return prev;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.events));
  it->SeekForPrev(EncodeKey(from));
  if (it->Valid() && it->key().compare(EncodeKey(from)) == 0) it->Prev();
  if (it->Valid() && it->value().size() >= 32) std::memcpy(prev.data(), it->value().data(), 32);
  return prev;
}

namespace {
// The checks every scan makes of each stored record, in key order: its key decodes, its value
// holds a chain hash, and (check_chain) that hash chains onto the record before it.
class RecordChecker {
 public:
  RecordChecker(bool check_chain, const Hash& prev) : check_chain_(check_chain), prev_(prev) {}
  // Ok with *k and *record (the FlatBuffers bytes after the hash) set, or what is wrong with
  // the record, already worded for the user (*k is set when the key decodes).
  Status Check(std::string_view key, std::string_view value, EventKey* k,
               std::string_view* record) {
    const bool key_ok = DecodeKey(key, k);
    if (check_chain_ && key_ok && value.size() >= 32) {
      Hash stored;
      std::memcpy(stored.data(), value.data(), 32);
      const bool chained = hasher_.Chain(prev_, key, value.substr(32)) == stored;
      prev_ = stored;
      if (!chained) {
        return RecordCorruption(*k, Status::Corruption(
                                        "chain hash mismatch (this record was edited, or one "
                                        "before it was inserted or removed)"));
      }
    }
    if (!key_ok) {
      return Status::Corruption("event key of " + std::to_string(key.size()) +
                                " bytes is malformed");
    }
    if (value.size() < 32) {
      return RecordCorruption(*k, Status::Corruption("event record is " +
                                                     std::to_string(value.size()) +
                                                     " bytes, shorter than its chain hash"));
    }
    *record = value.substr(32);
    return Status::Ok();
  }

 private:
  bool check_chain_;
  Hash prev_;
  Hasher hasher_;
};

RecordChecker CheckerFor(const EventLog::Impl& m, const EventKey& from, bool check_chain) {
  Hash prev{};
  if (check_chain) {
    (void)m.Drain();  // reads what was written
    prev = ChainBefore(m, from);
  }
  return RecordChecker(check_chain, prev);
}
}  // namespace

Status EventLog::ScanRecords(const EventKey& from, const EventKey& to, const RecordFn& fn,
                             const CorruptFn& on_corrupt, bool check_chain) const {
  Status failure;
  RecordChecker checker = CheckerFor(*impl_, from, check_chain);
  Status s = ScanRaw(from, to, [&](std::string_view key, std::string_view value) {
    EventKey k;
    std::string_view record;
    Status bad = checker.Check(key, value, &k, &record);
    if (bad.ok()) return fn(k, record);
    if (on_corrupt) {
      on_corrupt(k, bad);
      return true;
    }
    failure = bad;
    return false;
  });
  if (!s.ok()) return s;
  return failure;
}

namespace {
// Scan and ScanViews: each record decoded into one reused E, checked as Scan documents.
template <typename E, typename Fn>
Status ScanDecoded(const EventLog& log, const EventKey& from, const EventKey& to, const Fn& fn,
                   const EventLog::CorruptFn& on_corrupt,
                   Status (*decode)(std::string_view, E*)) {
  Status failure;
  E e;
  Status s = log.ScanRecords(
      from, to,
      [&](const EventKey& k, std::string_view record) {
        Status ds = decode(record, &e);
        if (ds.ok()) return fn(k, e);
        if (on_corrupt) {
          on_corrupt(k, RecordCorruption(k, ds));
          return true;
        }
        failure = RecordCorruption(k, ds);
        return false;
      },
      on_corrupt, /*check_chain=*/true);
  if (!s.ok()) return s;
  return failure;
}
}  // namespace

Status EventLog::Scan(const EventKey& from, const EventKey& to, const EventFn& fn,
                      const CorruptFn& on_corrupt) const {
  return ScanDecoded<Event>(*this, from, to, fn, on_corrupt, DecodeEvent);
}

// Two threads: a second one iterates RocksDB and checks the chain (LZ4, the iterators and
// SHA-256: about half of the work) and hands the records over in batches; this one verifies and
// decodes them and calls fn, so fn runs where the caller does. (With the chain checked here
// instead, this thread did 3x the other's work.) The first batches are small so that a short
// scan (--limit 1) does not wait for a large one.
Status EventLog::ScanViews(const EventKey& from, const EventKey& to, const ViewFn& fn) const {
  static constexpr size_t kFirstBatch = 64, kMaxBatch = 1024;
  BatchPipe pipe;
  std::atomic<bool> stop{false};
  Status scanned;
  std::thread scanner([&] {
    size_t limit = kFirstBatch;
    auto batch = pipe.Fresh();
    scanned = ScanRecords(
        from, to,
        [&](const EventKey& k, std::string_view record) {
          if (stop.load(std::memory_order_relaxed)) return false;
          batch->Add(k, record);
          if (batch->items.size() >= limit) {
            pipe.Push(std::move(batch));
            batch = pipe.Fresh();
            limit = std::min(limit * 2, kMaxBatch);
          }
          return true;
        },
        nullptr, /*check_chain=*/true);
    pipe.Push(std::move(batch));
    pipe.Close();
  });
  Status failure;
  bool more = true;  // false once fn stopped the scan or a record failed to decode
  EventView v;
  while (auto b = pipe.Pop()) {
    for (size_t i = 0; more && i < b->items.size(); ++i) {
      const Batch::Item& item = b->items[i];
      Status ds = DecodeEventView(b->Record(item), &v);
      if (!ds.ok()) failure = RecordCorruption(item.key, ds);
      if (!ds.ok() || !fn(item.key, v)) {
        more = false;
        stop.store(true, std::memory_order_relaxed);
      }
    }
    pipe.Recycle(std::move(b));
  }
  scanner.join();
  if (!failure.ok()) return failure;
  // Stopped by fn: what the scanner found past that point was never asked for.
  return more ? scanned : Status::Ok();
}

static Result<std::optional<KeyedEvent>> EdgeEvent(const EventLog::Impl& m, bool last) {
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.events));
  last ? it->SeekToLast() : it->SeekToFirst();
  if (!it->Valid()) {
    auto s = FromRocks(it->status(), "cannot read event log");
    if (!s.ok()) return s;
    return std::optional<KeyedEvent>();
  }
  KeyedEvent ke;
  if (!DecodeKey(std::string_view(it->key().data(), it->key().size()), &ke.key)) {
    return Status::Corruption("malformed event key at the log's " +
                              std::string(last ? "end" : "start"));
  }
  std::string_view v(it->value().data(), it->value().size());
  Status ds = v.size() < 32 ? Status::Corruption("record too short") : DecodeEvent(v.substr(32), &ke.event);
  if (!ds.ok()) return Status::Corruption("record at key " + KeyToString(ke.key) + ": " + ds.message());
  return std::optional<KeyedEvent>(std::move(ke));
}

// Reads and writes other than Append first wait for the batches handed to the committer, so a
// caller reads its own appends.
Result<std::optional<KeyedEvent>> EventLog::First() const {
  (void)impl_->Drain();
  return EdgeEvent(*impl_, false);
}
Result<std::optional<KeyedEvent>> EventLog::Last() const {
  (void)impl_->Drain();
  return EdgeEvent(*impl_, true);
}

Status EventLog::PutSnapshot(const Snapshot& snap) {
  if (!impl_->writer) return Status::InvalidArgument("event log opened read-only");
  // A failed write is sticky (log.h): nothing more is written until the log is reopened.
  if (Status d = impl_->Drain(); !d.ok()) return d;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.fsync == FsyncPolicy::kAlways;
  const std::string key = EncodeKey(snap.state.last_key);
  rocksdb::WriteBatch batch;
  auto s = batch.Put(impl_->snapshots, key, EncodeSnapshot(snap));
  if (s.ok()) s = batch.Put(impl_->meta, kSnapIndexPrefix + key, "");
  if (s.ok()) s = impl_->db->Write(wo, &batch);
  return FromRocks(s, "cannot write snapshot");
}

Result<std::optional<EventKey>> EventLog::SnapshotKeyAtOrBefore(const EventKey& key) const {
  const bool indexed = impl_->snap_index;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), indexed ? impl_->meta : impl_->snapshots));
  const std::string prefix = indexed ? kSnapIndexPrefix : "";
  it->SeekForPrev(prefix + EncodeKey(key));
  if (!it->Valid() || !it->key().starts_with(prefix)) {
    auto s = FromRocks(it->status(), "cannot read snapshots");
    if (!s.ok()) return s;
    return std::optional<EventKey>();
  }
  EventKey k;
  if (!DecodeKey(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()), &k)) {
    return Status::Corruption(std::string(indexed ? "the snapshot index" : "the snapshots") +
                              " hold a malformed key; run 'twin-replay verify'");
  }
  return std::optional<EventKey>(k);
}

Result<State> EventLog::SnapshotStateAt(const EventKey& key) const {
  rocksdb::PinnableSlice value;
  auto gs = impl_->db->Get(rocksdb::ReadOptions(), impl_->snapshots, EncodeKey(key), &value);
  if (gs.IsNotFound()) {
    return Status::Corruption("the snapshot index names " + KeyToString(key) +
                              " but no such snapshot exists; run 'twin-replay verify'");
  }
  if (!gs.ok()) return FromRocks(gs, "cannot read snapshot");
  State state;
  Status s = DecodeSnapshotState(std::string_view(value.data(), value.size()), &state);
  if (!s.ok()) return Status::Corruption("snapshot at key " + KeyToString(key) + ": " + s.message());
  return state;
}

Result<std::optional<Snapshot>> EventLog::SnapshotAtOrBefore(const EventKey& key) const {
  auto k = SnapshotKeyAtOrBefore(key);
  if (!k.ok()) return k.status();
  if (!k.value()) return std::optional<Snapshot>();
  auto st = SnapshotStateAt(*k.value());
  if (!st.ok()) return st.status();
  Snapshot snap;
  snap.state = std::move(st).value();
  return std::optional<Snapshot>(std::move(snap));
}

Result<std::vector<EventKey>> EventLog::SnapshotKeys() const {
  std::vector<EventKey> out;
  const bool indexed = impl_->snap_index;
  const std::string prefix = indexed ? kSnapIndexPrefix : "";
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(
      rocksdb::ReadOptions(), indexed ? impl_->meta : impl_->snapshots));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    EventKey k;
    if (DecodeKey(std::string_view(it->key().data() + prefix.size(), it->key().size() - prefix.size()), &k)) {
      out.push_back(k);
    }
  }
  auto s = FromRocks(it->status(), "cannot read snapshots");
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<std::string>> EventLog::GetMeta(const std::string& key) const {
  (void)impl_->Drain();
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, key, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "cannot read meta " + key);
  return std::optional<std::string>(std::move(v));
}

Status EventLog::PutTwin(const std::string& key, const std::string& value) {
  if (!impl_->writer) return Status::InvalidArgument("event log opened read-only");
  if (Status d = impl_->Drain(); !d.ok()) return d;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.fsync != FsyncPolicy::kNever;
  return FromRocks(impl_->db->Put(wo, impl_->twin, key, value), "cannot write twin catalogue");
}

Status EventLog::ScanTwin(
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->twin));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "cannot read twin catalogue");
}

ChainHead EventLog::Origin() const { return impl_->Origin(); }

Status EventLog::CheckTables() const { return CheckTablesOf(*impl_); }

const LossReport* EventLog::LossFoundAtOpen() const {
  return impl_->open_loss ? &*impl_->open_loss : nullptr;
}

Status EventLog::OpenProblem() const { return impl_->open_problem; }

std::vector<LossReport> EventLog::RecordedLosses() const {
  std::vector<LossReport> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->meta));
  for (it->Seek(kLossPrefix); it->Valid() && it->key().starts_with(kLossPrefix); it->Next()) {
    if (auto r = LossReport::FromJson(it->value().ToString())) out.push_back(std::move(*r));
  }
  return out;
}

std::optional<ChainHead> EventLog::Vouched() const {
  (void)impl_->Drain();
  std::optional<ChainHead> best;
  std::string hv;
  ChainHead h;
  if (impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, kMetaHead, &hv).ok() &&
      HeadFromJson(hv, &h)) {
    best = h;
  }
  if (auto seals = Seals(); seals.ok()) {
    for (const Seal& s : seals.value()) {
      if (!best || s.count > best->count) best = ChainHead{s.key, s.count, s.head};
    }
  }
  return best;
}

Result<std::vector<Seal>> EventLog::Seals() const {
  (void)impl_->Drain();
  std::vector<Seal> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->meta));
  for (it->Seek(kSealPrefix); it->Valid() && it->key().starts_with(kSealPrefix); it->Next()) {
    Seal seal;
    if (!SealFromJson(it->value().ToString(), &seal)) {
      return Status::Corruption("seal record meta:" + it->key().ToString(true) + " is unreadable");
    }
    out.push_back(std::move(seal));
  }
  auto s = FromRocks(it->status(), "cannot read seals");
  if (!s.ok()) return s;
  return out;
}

Status EventLog::PutSeal(const Seal& seal) {
  if (!impl_->writer) return Status::InvalidArgument("event log opened read-only");
  // A failed write is sticky (log.h): nothing more is written until the log is reopened.
  if (Status d = impl_->Drain(); !d.ok()) return d;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.fsync != FsyncPolicy::kNever;
  return FromRocks(
      impl_->db->Put(wo, impl_->meta, kSealPrefix + EncodeKey(seal.key), SealToJson(seal)),
      "cannot write seal");
}

VerifyReport EventLog::Verify() const {
  (void)impl_->Drain();
  VerifyReport rep;
  const Impl& m = *impl_;
  auto problem = [&](const std::string& key, const std::string& what) {
    rep.problems.push_back({key, what});
  };
  ChainHead origin = m.Origin();
  Hash prev = origin.head;
  uint64_t count = origin.count;
  EventKey last_key = origin.key;
  bool have_last = origin.count != 0;
  std::map<EventKey, std::pair<uint64_t, Hash>> at_seal;
  auto seals = Seals();
  if (!seals.ok()) {
    problem("meta:seals", seals.status().message());
  } else {
    for (const auto& s : seals.value()) at_seal[s.key] = {0, {}};
  }
  Hasher hasher;
  Event e;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.events));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    ++rep.records;
    EventKey k;
    if (!DecodeKey(key, &k)) {
      problem("raw:" + it->key().ToString(true), "malformed key (expected 16 bytes)");
      continue;
    }
    const std::string ks = KeyToString(k);
    if (have_last && !(last_key < k)) problem(ks, "key is not after the previous key");
    if (value.size() < 32) {
      problem(ks, "record shorter than its chain hash");
      continue;
    }
    Status ds = DecodeEvent(value.substr(32), &e);
    if (!ds.ok()) problem(ks, ds.message());
    Hash stored;
    std::memcpy(stored.data(), value.data(), 32);
    Hash expect = hasher.Chain(prev, key, value.substr(32));
    if (expect != stored) {
      problem(ks, "chain hash mismatch: this record, or one before it, was edited, inserted, "
                  "deleted or moved");
    }
    prev = stored;  // resynchronise so that one edit is reported once
    ++count;
    last_key = k;
    have_last = true;
    auto sit = at_seal.find(k);
    if (sit != at_seal.end()) sit->second = {count, stored};
  }
  if (!it->status().ok()) problem("scan", it->status().ToString());
  if (seals.ok()) {
    for (const auto& s : seals.value()) {
      if (s.key < origin.key || (origin.count != 0 && s.key == origin.key)) continue;
      ++rep.seals_checked;
      const auto& got = at_seal[s.key];
      if (got.first == 0) {
        problem(KeyToString(s.key), "sealed record is missing");
      } else if (got.first != s.count || got.second != s.head) {
        problem(KeyToString(s.key), "seal does not match the chain (sealed count " +
                                        std::to_string(s.count) + ", found " +
                                        std::to_string(got.first) + ")");
      }
    }
  }
  ChainHead head;
  std::string hv;
  if (m.db->Get(rocksdb::ReadOptions(), m.meta, kMetaHead, &hv).ok()) {
    if (!HeadFromJson(hv, &head)) {
      problem("meta:chain_head", "unreadable");
    } else if (head.count != count || head.head != prev || !(head.key == last_key)) {
      problem("meta:chain_head",
              "log ends at " + KeyToString(last_key) + " after " + std::to_string(count) +
                  " records but the recorded head is " + KeyToString(head.key) + " after " +
                  std::to_string(head.count) + ": records were removed or added at the end");
    }
  } else if (count != origin.count) {
    problem("meta:chain_head", "missing although the log has records");
  }
  // What the chain anchor vouched for and the log lacks: found now (a reader's open), or found
  // and recorded by twind at an earlier open. Either way the records are gone.
  if (!m.open_problem.ok()) problem("anchor", m.open_problem.message());
  for (const LossReport& loss : RecordedLosses()) {
    if (!loss.vouched_lost() && loss.anchor_problem.empty()) continue;
    problem(KeyToString(loss.log_head.key),
            loss.Describe() + " (found when twind opened the log at " +
                FormatRfc3339Ns(loss.detected_ns) + " and recorded as a gap)");
  }
  std::stable_sort(rep.problems.begin(), rep.problems.end(), [](const auto& a, const auto& b) {
    EventKey ka, kb;
    auto parse = [](const std::string& s, EventKey* k) {
      return sscanf(s.c_str(), "%lu:%lu", &k->ts_ns, &k->seq) == 2;
    };
    bool pa = parse(a.key, &ka), pb = parse(b.key, &kb);
    if (pa && pb) return ka < kb;
    return pa && !pb;
  });
  return rep;
}

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
  s = m.db->Write(wo, &batch);
  if (!s.ok()) return FromRocks(s, "cannot apply retention");
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
  });
}

Result<State> StateAtByFullFold(const EventLog& log, uint64_t t_ns) {
  return WithGapsAhead(log, t_ns, FullFold(log, t_ns));
}

static Result<State> FullFold(const EventLog& log, uint64_t t_ns) {
  StateFolder folder;
  Status s = FoldRange(log, {0, 0}, {t_ns, UINT64_MAX}, folder);
  if (!s.ok()) return s;
  return folder.Finish();
}

}  // namespace twin
