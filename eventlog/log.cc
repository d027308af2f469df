// The event log: open (and what the open found), the append pipeline, scans, snapshots, meta
// and seals. The rest of EventLog is in key.cc, verify.cc, retention.cc and state_at.cc.
#include "eventlog/log.h"

#include "eventlog/batch_pipe.h"
#include "eventlog/log_internal.h"

#include <fcntl.h>
#include "eventlog/chain.h"

#include <rocksdb/convenience.h>

namespace twin {

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view s) {
  if (s == "always") return FsyncPolicy::kAlways;
  if (s == "interval") return FsyncPolicy::kInterval;
  if (s == "never") return FsyncPolicy::kNever;
  return Status::InvalidArgument("fsync policy must be always, interval or never, not '" +
                                 std::string(s) + "'");
}


// Every table block's checksum (RocksDB's VerifyChecksum), said with the file's name.
namespace {
bool NoSuchFile(const rocksdb::Status& s) {
  return s.ToString().find("No such file or directory") != std::string::npos;
}

// Whether another process (twind) holds the data dir's LOCK: RocksDB's writer takes it with a
// POSIX record lock for as long as it has the log open.
bool WriterHoldsLock(const std::string& dir) {
  const int fd = ::open((dir + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  const bool held = fcntl(fd, F_GETLK, &l) == 0 && l.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

// The table files (names as "/000123.sst") the data dir's MANIFEST lists now, from a fresh
// read-only open; nullopt if that open fails.
std::optional<std::vector<std::string>> TablesListedNow(const std::string& dir) {
  rocksdb::Options opts = LogReaderDbOptions();
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s;
    {
      ReaderOpenLock during_open(dir);  // background_delete.h
      s = rocksdb::DB::OpenForReadOnly(opts, dir, LogColumnFamilies(opts), &handles, &raw);
    }
    if (!s.ok()) continue;
    std::vector<rocksdb::LiveFileMetaData> files;
    raw->GetLiveFilesMetaData(&files);
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete raw;
    std::vector<std::string> names;
    for (const auto& f : files) names.push_back(f.name);
    return names;
  }
  return std::nullopt;
}

}  // namespace

// VerifyChecksum opens every table of this handle's view by name again. A reader's view is
// what the MANIFEST listed when it opened, and a running writer retires tables as it flushes
// and merges (every few seconds; this reader still has them open). So when tables are missing
// while a writer holds the dir, every table is checked on its own, and a missing one counts as
// retired if the MANIFEST no longer lists it (its records are in the tables that replaced it);
// one still listed is damage, as is any missing table without a writer.
static Status CheckTablesOf(const EventLog::Impl& m) {
  auto s = m.db->VerifyChecksum();
  if (!s.ok() && !m.writer && NoSuchFile(s) && WriterHoldsLock(m.dir)) {
    const rocksdb::Status first = s;
    std::vector<rocksdb::LiveFileMetaData> files;
    m.db->GetLiveFilesMetaData(&files);
    const rocksdb::Options opts = LogReaderDbOptions();
    std::vector<std::string> gone;
    s = rocksdb::Status::OK();
    for (const auto& f : files) {
      const std::string path = f.db_path + f.name;  // name starts with '/'
      s = rocksdb::VerifySstFileChecksum(opts, rocksdb::EnvOptions(), rocksdb::ReadOptions(),
                                         path, f.largest_seqno);
      if (!s.ok() && NoSuchFile(s) && !std::filesystem::exists(path)) {
        gone.push_back(f.name);
        s = rocksdb::Status::OK();
      }
      if (!s.ok()) break;
    }
    if (s.ok() && !gone.empty()) {
      const auto now = TablesListedNow(m.dir);
      if (!now) s = first;
      for (const std::string& g : gone) {
        if (now && std::find(now->begin(), now->end(), g) != now->end()) s = first;
      }
    }
  }
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
    rocksdb::WriteBatch b;
    b.Put(m.meta, LossMetaKey(loss), loss.ToJson()).PermitUncheckedError();
    if (Status ps = m.WriteOther(wo, &b, "cannot record the loss found at open"); !ps.ok()) return ps;
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
    rocksdb::WriteBatch b;
    b.Put(m.meta, kMetaAnchored, "1").PermitUncheckedError();
    if (Status ps = m.WriteOther({}, &b, "cannot write meta " + std::string(kMetaAnchored)); !ps.ok()) {
      return ps;
    }
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
    impl->fs = std::make_shared<BackgroundDeleteFs>(rocksdb::FileSystem::Default(), dir);
    impl->env = rocksdb::NewCompositeEnv(impl->fs);
    opts.env = impl->env.get();
    s = rocksdb::DB::Open(opts, dir, cfs, &impl->handles, &raw);
    if (!s.ok()) kept_wals.Discard();
    if (!s.ok() && s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Busy("data dir " + dir +
                          " is locked by another writer (is twind already running?)");
    }
  } else {
    // The writer unlinks no retired WAL, table or blob file while this open runs
    // (ReaderOpenLock, background_delete.h): a WAL retired between RocksDB's reading the MANIFEST
    // and its listing of the WAL files would take records from the middle of the log out of this
    // view. A writer may still start a new MANIFEST between the moment RocksDB reads CURRENT and
    // the moment it opens the MANIFEST (a writer starting, the MANIFEST growing past its bound):
    // RocksDB reports that as corruption or an I/O error naming the missing file. Open again.
    for (int attempt = 0;; ++attempt) {
      {
        ReaderOpenLock during_open(dir);
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
                                LogEscape(v) + "', not a schema version; " +
                                CorruptionAdvice(dir));
    }
    if (ver > kSchemaVersion) {
      return Status::InvalidArgument("event log in " + dir + " has schema version " + v +
                                     ", newer than this build's " +
                                     std::to_string(kSchemaVersion) + "; upgrade safetytwin");
    }
    if (writer && ver < kSchemaVersion) {
      // Records of an older schema stay readable; this writer adds the newer kinds, so an older
      // reader must now refuse the log rather than call those records corrupt.
      rocksdb::WriteBatch b;
      b.Put(impl->meta, kMetaSchema, std::to_string(kSchemaVersion)).PermitUncheckedError();
      if (Status ps = impl->WriteOther({}, &b, "cannot write schema version"); !ps.ok()) return ps;
    }
  } else if (writer) {
    rocksdb::WriteBatch b;
    b.Put(impl->meta, kMetaSchema, std::to_string(kSchemaVersion)).PermitUncheckedError();
    if (Status ps = impl->WriteOther({}, &b, "cannot write schema version"); !ps.ok()) return ps;
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
    if (Status ws = impl->WriteOther({}, &batch, "cannot write the snapshot index"); !ws.ok()) {
      return ws;
    }
    impl->snap_index = true;
  }
  if (impl->db->Get(rocksdb::ReadOptions(), impl->meta, kMetaGapMaxLag, &v).ok() && v.size() == 8) {
    impl->gap_max_lag = GetBE64(v.data());
  } else if (writer) {
    // A log from before the bound (or a new one): measured once over the whole index.
    uint64_t lag = 0;
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions(), impl->meta));
    for (it->Seek(kGapIndexPrefix); it->Valid() && it->key().starts_with(kGapIndexPrefix); it->Next()) {
      const rocksdb::Slice k = it->key();
      if (k.size() != std::strlen(kGapIndexPrefix) + 24) continue;
      const uint64_t start = GetBE64(k.data() + k.size() - 24);
      const uint64_t recorded = GetBE64(k.data() + k.size() - 16);
      lag = std::max(lag, recorded > start ? recorded - start : 0);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "cannot read the gap index");
    char buf[8];
    PutBE64(buf, lag);
    rocksdb::WriteBatch batch;
    batch.Put(impl->meta, kMetaGapMaxLag, rocksdb::Slice(buf, 8)).PermitUncheckedError();
    if (Status ws = impl->WriteOther({}, &batch, "cannot write the gap bound"); !ws.ok()) return ws;
    impl->gap_max_lag = lag;
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
    head.head = ChainHash(head.head, key, payload);
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
      const uint64_t start = GetBE64(idx);
      const uint64_t lag = k.ts_ns > start ? k.ts_ns - start : 0;
      if (lag > m.gap_max_lag.load()) {
        char lag_be[8];
        PutBE64(lag_be, lag);
        s = batch.Put(m.meta, kMetaGapMaxLag, rocksdb::Slice(lag_be, 8));
        if (!s.ok()) return FromRocks(s, "cannot build batch");
        // Raised before the entry can be read (the batch commits later): a reader in this
        // process may see a bound that is too large, never one too small.
        m.gap_max_lag = lag;
      }
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
  return FromRocks(impl_->SyncWal(), "cannot sync WAL");
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
      const bool chained = ChainHash(prev_, key, value.substr(32)) == stored;
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

namespace {
constexpr const char* kContentPrefix = "content/";
bool IsSha256Hex(const std::string& h) {
  return h.size() == 64 && h.find_first_not_of("0123456789abcdef") == std::string::npos;
}
}  // namespace

Status EventLog::PutSnapshot(const Snapshot& snap) {
  if (!impl_->writer) return Status::InvalidArgument("event log opened read-only");
  // A failed write is sticky (log.h): nothing more is written until the log is reopened.
  if (Status d = impl_->Drain(); !d.ok()) return d;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->options.fsync == FsyncPolicy::kAlways;
  const std::string key = EncodeKey(snap.state.last_key);
  rocksdb::WriteBatch batch;
  // The host configuration (thousands of packages and files, rarely changing) is stored once per
  // distinct content in the content store, in the same batch; the snapshot names it.
  std::string ref;
  const State& st = snap.state;
  rocksdb::Status s;
  if (!st.packages.empty() || !st.config_files.empty() || !st.users.empty() || !st.groups.empty() ||
      !st.unit_config.empty()) {
    const std::string blob = EncodeHostConfig(st);
    ref = Sha256Hex(blob);
    std::string have;
    if (!impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, kContentPrefix + ref, &have).ok()) {
      s = batch.Put(impl_->meta, kContentPrefix + ref, blob);
    }
  }
  if (s.ok()) s = batch.Put(impl_->snapshots, key, EncodeSnapshot(snap, ref));
  if (s.ok()) s = batch.Put(impl_->meta, kSnapIndexPrefix + key, "");
  if (!s.ok()) return FromRocks(s, "cannot write snapshot");
  return impl_->WriteOther(wo, &batch, "cannot write snapshot");
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
  std::string ref;
  Status s = DecodeSnapshotState(std::string_view(value.data(), value.size()), &state, &ref);
  if (!s.ok()) return Status::Corruption("snapshot at key " + KeyToString(key) + ": " + s.message());
  if (!ref.empty()) {
    auto blob = GetContent(ref);
    if (!blob.ok()) return blob.status();
    if (!blob->has_value()) {
      return Status::Corruption("snapshot at key " + KeyToString(key) + " names host configuration " +
                                ref + ", which is not in the content store; run 'twin-replay verify'");
    }
    if (Status hs = DecodeHostConfigInto(**blob, &state); !hs.ok()) {
      return Status::Corruption("snapshot at key " + KeyToString(key) + ": " + hs.message());
    }
  }
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
  rocksdb::WriteBatch batch;
  if (auto s = batch.Put(impl_->twin, key, value); !s.ok()) {
    return FromRocks(s, "cannot write twin catalogue");
  }
  return impl_->WriteOther(wo, &batch, "cannot write twin catalogue");
}

Status EventLog::PutContent(const std::string& sha256_hex, std::string_view bytes) {
  if (!impl_->writer) return Status::InvalidArgument("event log opened read-only");
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("content key is not a SHA-256");
  const std::string key = kContentPrefix + sha256_hex;
  std::string have;
  if (impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, key, &have).ok()) return Status::Ok();
  rocksdb::WriteBatch batch;
  if (auto s = batch.Put(impl_->meta, key, rocksdb::Slice(bytes.data(), bytes.size())); !s.ok()) {
    return FromRocks(s, "cannot write content");
  }
  // Not synced by itself: it is in the WAL before the event that names it.
  return impl_->WriteOther(rocksdb::WriteOptions(), &batch, "cannot write content");
}

Result<std::optional<std::string>> EventLog::GetContent(const std::string& sha256_hex) const {
  if (!IsSha256Hex(sha256_hex)) return std::optional<std::string>();
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->meta, kContentPrefix + sha256_hex, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "cannot read content " + sha256_hex);
  if (Sha256Hex(v) != sha256_hex) {
    return Status::Corruption("stored content " + sha256_hex + " does not match its SHA-256");
  }
  return std::optional<std::string>(std::move(v));
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

Result<ChainHead> EventLog::Origin() const { return impl_->ReadOrigin(); }

Status EventLog::PauseBackgroundWork() {
  if (!impl_->writer) return Status::InvalidArgument("pausing background work needs the writer");
  std::lock_guard<std::mutex> l(impl_->pause_mu);
  if (impl_->background_paused.load()) return Status::Ok();
  impl_->background_paused = true;  // the merger skips its passes from here
  std::lock_guard<std::mutex> merge(impl_->merge_run_mu);  // and a running pass has ended
  return FromRocks(impl_->db->PauseBackgroundWork(), "cannot pause the log's background work");
}

Status EventLog::ResumeBackgroundWork() {
  if (!impl_->writer) return Status::InvalidArgument("resuming background work needs the writer");
  std::lock_guard<std::mutex> l(impl_->pause_mu);
  if (!impl_->background_paused.load()) return Status::Ok();
  Status s = FromRocks(impl_->db->ContinueBackgroundWork(), "cannot resume the log's background work");
  if (s.ok()) impl_->background_paused = false;
  return s;
}

Result<size_t> EventLog::MergeSmallTablesNow() {
  if (!impl_->writer) return Status::InvalidArgument("merging tables needs the writer");
  size_t total = 0;
  for (int pass = 0; pass < 64; ++pass) {
    size_t merged = 0;
    for (auto* cf : {impl_->events, impl_->snapshots}) {
      auto m = MergeSmallTables(*impl_->db, cf);
      if (!m.ok()) return m.status();
      merged += m.value();
    }
    total += merged;
    if (merged == 0) break;
  }
  return total;
}

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
  rocksdb::WriteBatch batch;
  batch.Put(impl_->meta, kSealPrefix + EncodeKey(seal.key), SealToJson(seal)).PermitUncheckedError();
  return impl_->WriteOther(wo, &batch, "cannot write seal");
}

}  // namespace twin
