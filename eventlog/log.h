// The durable, hash-chained event log in an embedded RocksDB (one data dir).
//
// Column families: "events" (key = EncodeKey(ts_ns, seq), value = 32-byte chain hash followed by
// a FlatBuffers Event), "snapshots" (key = encoded EventKey of the last folded event, value =
// FlatBuffers Snapshot), "meta" (schema version, chain head, seals, host identity) and "twin"
// (the twin VM's snapshot catalogue; owned by vm/).
//
// Thread safety: one EventLog object may be shared by threads; Append calls are serialised
// internally. Only one writer process may open a data dir; any number of readers may open it
// read-only while the writer runs (they see what was committed when they opened).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "eventlog/chain.h"
#include "eventlog/event.h"
#include "eventlog/event_view.h"
#include "eventlog/state.h"
#include "eventlog/status.h"

namespace twin {

// 2: event kinds 19..22 (package, config_file, user, group) and their state in snapshots.
inline constexpr uint32_t kSchemaVersion = 4;  // 3: exe_hash events, Process integrity; 4: unit_config
inline constexpr const char* kDefaultDataDir = "/var/lib/safetytwin";

enum class FsyncPolicy { kAlways, kInterval, kNever };
Result<FsyncPolicy> ParseFsyncPolicy(std::string_view s);

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  uint32_t fsync_interval_ms = 100;  // group commit bound for kInterval
  uint64_t seal_every_events = 100000;
  bool create_if_missing = true;
};

// 16-byte big-endian encoding: byte order equals (ts_ns, seq) order.
std::string EncodeKey(const EventKey& k);
bool DecodeKey(std::string_view bytes, EventKey* out);
std::string KeyToString(const EventKey& k);  // "ts_ns:seq" for messages
EventKey NextKey(const EventKey& k);         // the smallest key after k

std::string HashHex(const Hash& h);

struct Snapshot {
  State state;       // state after folding every event with key <= state.last_key
  StateDiff diff;    // against the previous snapshot (empty for the first)
  uint64_t written_ns = 0;
};

struct Seal {
  EventKey key;       // last event covered
  uint64_t count = 0; // events in the chain up to and including key
  Hash head{};        // chain hash at key
  uint64_t sealed_ns = 0;
  std::string mac;    // optional forward-secure MAC (hex), filled by the forensic sealer
  uint64_t mac_epoch = 0;
};

struct ChainHead {
  EventKey key;
  uint64_t count = 0;
  Hash head{};
};

struct VerifyProblem {
  std::string key;     // KeyToString of the first bad record (or "meta:<name>")
  std::string what;    // human sentence
};

struct VerifyReport {
  uint64_t records = 0;
  uint64_t seals_checked = 0;
  std::vector<VerifyProblem> problems;  // in key order; the first one is the first bad key
  bool ok() const { return problems.empty(); }
};

struct LossReport;  // eventlog/wal_recovery.h

class EventLog {
 public:
  // Writer: creates the dir 0700 if missing. Fails with kBusy if another writer holds it.
  static Result<std::unique_ptr<EventLog>> OpenWriter(const std::string& dir,
                                                      const LogOptions& options = {});
  // Reader: read-only, works while a writer runs; fails with kNotFound if no log is there.
  static Result<std::unique_ptr<EventLog>> OpenReader(const std::string& dir);

  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends all events as one atomic WriteBatch, chained. Keys are assigned here: ts = max(event
  // ts, last key ts) so that key order never goes back; seq increases by one per event.
  // Returns the key of the last event. REQUIRES: writer.
  // The batch is written by the log's committer thread while the caller prepares the next one:
  // Append returns once the batch is encoded, chained and handed over (with FsyncPolicy::kAlways,
  // once it is written and synced). Every other method of this object waits for the handed-over
  // batches first, so a caller reads its own appends; other handles and processes see a batch
  // when it is written. If a write fails, the next Append (or Drain, Sync) returns the error and
  // the log takes no more appends: reopen it.
  Result<EventKey> Append(std::span<const Event> events);
  Result<EventKey> Append(const Event& event) { return Append(std::span<const Event>(&event, 1)); }
  Status Sync();   // waits for the handed-over batches and forces the WAL to disk now
  Status Drain();  // waits until every handed-over batch is written and observed

  // Commit observer: after every batch is written, called on the committer thread, in key order,
  // with each committed event's key and FlatBuffers record (views valid during the call only).
  // It must not call into the log.
  // Setting it returns the head at that moment: the observer sees exactly the events after it.
  // nullptr removes it. REQUIRES: writer.
  struct CommittedRecord {
    EventKey key;
    std::string_view record;
  };
  using CommitFn = std::function<void(std::span<const CommittedRecord>)>;
  ChainHead SetCommitObserver(CommitFn fn);

  // Calls fn for each event with from <= key <= to, in key order. fn returns false to stop.
  // Each record is verified (FlatBuffers verifier) and must chain onto the one before it.
  // A record that fails verification ends the scan with kCorruption naming its key, unless
  // on_corrupt is given: then it is called and the scan continues.
  using EventFn = std::function<bool(const EventKey&, const Event&)>;
  using CorruptFn = std::function<void(const EventKey&, const Status&)>;
  Status Scan(const EventKey& from, const EventKey& to, const EventFn& fn,
              const CorruptFn& on_corrupt = nullptr) const;
  // Scan with each event read in place (eventlog/event_view.h: its strings borrow the record,
  // valid during the call only): the same checks and errors, no copy of the event's strings.
  using ViewFn = std::function<bool(const EventKey&, const EventView&)>;
  Status ScanViews(const EventKey& from, const EventKey& to, const ViewFn& fn) const;
  // Record variant for the fold engine: record = the FlatBuffers bytes after the chain hash,
  // not yet verified (the callee verifies). Malformed keys and short values are handled as in
  // Scan.
  using RecordFn = std::function<bool(const EventKey&, std::string_view record)>;
  // check_chain: each record must chain onto the one before it (as verify checks), so that an
  // edited record is reported rather than shown (Scan does; the fold does not, for speed).
  Status ScanRecords(const EventKey& from, const EventKey& to, const RecordFn& fn,
                     const CorruptFn& on_corrupt = nullptr, bool check_chain = false) const;
  // Raw variant for exporters/bundles: key bytes, stored chain hash and FlatBuffers bytes.
  using RawFn = std::function<bool(std::string_view key, std::string_view value)>;
  Status ScanRaw(const EventKey& from, const EventKey& to, const RawFn& fn) const;

  Result<std::optional<KeyedEvent>> First() const;
  Result<std::optional<KeyedEvent>> Last() const;

  // Snapshots.
  Status PutSnapshot(const Snapshot& snap);
  // Latest snapshot whose state.last_key <= key.
  Result<std::optional<Snapshot>> SnapshotAtOrBefore(const EventKey& key) const;
  // The same in two steps: the key (from the snapshot index, no snapshot is read), then the
  // state stored under exactly that key.
  Result<std::optional<EventKey>> SnapshotKeyAtOrBefore(const EventKey& key) const;
  Result<State> SnapshotStateAt(const EventKey& key) const;
  Result<std::vector<EventKey>> SnapshotKeys() const;
  // The start of a gap that covers t_ns (start <= t_ns <= end, or still open) and was recorded
  // after t_ns; empty when there is none.
  Result<std::optional<uint64_t>> GapRecordedAfter(uint64_t t_ns) const;
  // Every gap the log recorded (the gap index), by start; for a start recorded more than once
  // the last record wins (the one that closed an open gap). end_ns as the gap record gave it.
  struct GapSpan {
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
    EventKey recorded;  // the gap record's key
  };
  Result<std::vector<GapSpan>> Gaps() const;

  // Meta and the twin catalogue: small opaque values under string keys.
  Result<std::optional<std::string>> GetMeta(const std::string& key) const;
  Status PutTwin(const std::string& key, const std::string& value);
  Status ScanTwin(const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // The content store: file contents (config files, eventlog/state.h ConfigFile) kept once under
  // their SHA-256 in meta ("content/<hex>"), outside the chain; the chained event carries the
  // hash, and GetContent checks the bytes against it. PutContent of a hash already stored
  // writes nothing. REQUIRES (Put): writer; sha256_hex is the bytes' SHA-256.
  Status PutContent(const std::string& sha256_hex, std::string_view bytes);
  // nullopt when not stored; kCorruption when the stored bytes do not hash to sha256_hex.
  Result<std::optional<std::string>> GetContent(const std::string& sha256_hex) const;

  ChainHead Head() const;
  // Where the chain starts after retention (count = events deleted before it); Corruption when
  // the recorded origin is unreadable.
  Result<ChainHead> Origin() const;
  // The furthest the log had vouched for, whatever this copy holds: the recorded chain head or
  // the newest seal, whichever counts more. Empty for an empty log.
  std::optional<ChainHead> Vouched() const;
  Result<std::vector<Seal>> Seals() const;
  Status PutSeal(const Seal& seal);  // used by the forensic sealer to add MACs

  // Reads every block of every table once and checks its checksum (RocksDB's VerifyChecksum);
  // kCorruption names the damaged file. twind does this at open.
  Status CheckTables() const;

  // Checks every record (FlatBuffers verifier), the chain, the seals and the head, and what the
  // chain anchor vouched for against what the log holds (recorded losses included).
  VerifyReport Verify() const;
  // The cheap part of Verify, for a quick check (`verify --quick`): every table block's checksum
  // (CheckTables), the last record against the recorded chain head, every seal's record against
  // the seal, the chain anchor and recorded losses. It does not decode or re-hash the records,
  // so an edit that rewrote a record and its checksums in place is found by Verify only.
  // records = 0 (none re-hashed); seals_checked counts the seals compared.
  VerifyReport QuickVerify() const;

  // Writer: what this open found missing against the chain anchor (or dropped from the WAL),
  // already recorded in meta; nullptr when nothing. The caller records it as a gap.
  const LossReport* LossFoundAtOpen() const;
  // Reader: kCorruption when the log lacks records its anchor vouched for and no writer has
  // recorded that yet (readers other than verify refuse to answer from such a log).
  Status OpenProblem() const;
  // Every loss a writer found and recorded, oldest first.
  std::vector<LossReport> RecordedLosses() const;

  // Deletes events and snapshots strictly older than the newest snapshot that is at least
  // max_age_ns old (and, for max_bytes, as many of the oldest snapshot intervals as needed).
  // The chain stays verifiable: the new chain origin is recorded in meta. Writes a kRetention
  // event describing what was removed. Returns the number of events deleted.
  Result<uint64_t> ApplyRetention(uint64_t max_age_ns, uint64_t max_bytes, uint64_t now_ns);
  uint64_t ApproximateSizeBytes() const;
  // Writer only: merges runs of small tables until none is left -- what the writer's merger does
  // a pass every 10 s while it runs. For tools that write a log much faster than real time (the
  // benchmarks' logs), so that it has the shape twind leaves. Returns the tables merged away.
  Result<size_t> MergeSmallTablesNow();
  // Writer only: stops RocksDB's flushes and compactions and the table merger (waiting for a
  // running one) until ResumeBackgroundWork, so that the WAL writes of a few records are all
  // that use the disk: twind's low-disk stop, whose reserve would otherwise go to a flush that
  // fails with ENOSPC and fails the log. A clean close while paused leaves the memtables in the
  // WAL (the next open replays them). Both are idempotent.
  Status PauseBackgroundWork();
  Status ResumeBackgroundWork();

  const std::string& dir() const;

  struct Impl;

 private:
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "record at key K: <cause>; run 'twin-replay verify' ..." — how readers report a bad record.
Status RecordCorruption(const EventKey& key, const Status& cause);

// Folds the snapshot at or before T plus the tail (events with ts <= t_ns). The state is
// uncertain when T lies in a gap, including one recorded after T (a loss is recorded when it is
// found: the ring-buffer check, the restart after a crash, the end of a write outage).
Result<State> StateAt(const EventLog& log, uint64_t t_ns);
// Folds every event from the beginning up to t_ns (the slow reference path).
Result<State> StateAtByFullFold(const EventLog& log, uint64_t t_ns);

}  // namespace twin
