#include "eventlog/rocks_options.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

#include <rocksdb/table.h>

namespace twin {

namespace {

// RocksDB's warnings go to stderr (the daemon's journal) instead of a LOG file in the data
// dir: that file sits on the same disk as the log, and RocksDB's own file logger aborts (a
// failed assertion in the packaged build) when it writes again after the disk was full.
class StderrLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  explicit StderrLogger(rocksdb::InfoLogLevel level) : rocksdb::Logger(level) {}
  void Logv(const char* format, va_list ap) override {
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof(buf), format, ap);
    if (n < 0) return;
    std::string line = "rocksdb: ";
    line.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> StderrRocksLogger(rocksdb::InfoLogLevel level) {
  return std::make_shared<StderrLogger>(level);
}

rocksdb::Options LogDbOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.IncreaseParallelism(2);
  // Two flushes may run at once. With more than one column family, a flush first syncs the WAL
  // files it closes (RocksDB's SyncClosedLogs), then its SST: one flush thread spends a third
  // of its time waiting for the disk while the memtables behind it fill up and RocksDB slows
  // writes (docs/BENCHMARKS.md). A second one flushes the next memtable meanwhile.
  o.max_background_flushes = 2;
  o.max_background_compactions = 1;
  // Memtables of the WAL bound's size: RocksDB does not switch the WAL again while the flush
  // that max_total_wal_size asked for runs, so a larger memtable would let the WAL grow to its
  // size meanwhile. With four memtables at most, a reader replays under 4x the bound when the
  // flushes lag. BM_Append: 4 MB and 16 MB memtables alike, ~0.8x of 64 MB ones at full speed
  // (docs/BENCHMARKS.md): the price of bounding what readers replay.
  o.write_buffer_size = kMaxUnflushedWalBytes;
  // Every reader (each twin-replay command) replays the WAL files still holding unflushed
  // memtables before it can answer: ~3 ms of CPU per MB here (reading and copying it). Past this total RocksDB flushes the
  // column families that hold the oldest WAL, so a reader of a live or crashed log replays at
  // most about this much (plus what a running flush has not finished). docs/BENCHMARKS.md
  // prices it against append throughput.
  o.max_total_wal_size = kMaxUnflushedWalBytes;
  o.compression = rocksdb::kLZ4Compression;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.info_log = StderrRocksLogger(o.info_log_level);
  o.keep_log_file_num = 3;
  // Every open replays the MANIFEST: each flush, merge and blob file adds an edit to it, and
  // RocksDB starts a fresh one (the live files only) past this size, not at its 1 GB default.
  // A 10 M-event log written in one run left 490 KB, ~12% of a `state --at` process's CPU in
  // VersionSet::Recover (perf, docs/BENCHMARKS.md); its live files fit in ~30 KB.
  o.max_manifest_file_size = 64 << 10;
  return o;
}

rocksdb::Options LogReaderDbOptions() {
  rocksdb::Options o = LogDbOptions();
  o.create_if_missing = false;
  o.create_missing_column_families = false;
  // A reader (twin-replay) reports through its own one-line errors; RocksDB speaks up on errors.
  o.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  o.info_log = StderrRocksLogger(o.info_log_level);
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> LogColumnFamilies(const rocksdb::Options& db) {
  rocksdb::ColumnFamilyOptions cf_opts(db);
  // Snapshots are large (the whole state and its diff). Kept inline, every seek in the CF would
  // load a snapshot-sized block from each level it positions on; in blob files, a seek reads
  // keys only and fetches the one value it lands on.
  rocksdb::ColumnFamilyOptions snap_opts(db);
  snap_opts.enable_blob_files = true;
  snap_opts.min_blob_size = 4096;
  snap_opts.blob_compression_type = rocksdb::kLZ4Compression;
  snap_opts.enable_blob_garbage_collection = true;
  // Events arrive in bursts (an exec storm) and are read in time ranges. Up to four
  // memtables let appends go on while a flush waits for the disk (with two, writes stopped ~10%
  // of the time at full speed), and 16 KB blocks cost the flush (LZ4, index) and range scans
  // less per event than 4 KB ones (docs/BENCHMARKS.md).
  rocksdb::ColumnFamilyOptions events_opts(db);
  events_opts.max_write_buffer_number = 4;
  rocksdb::BlockBasedTableOptions events_table;
  events_table.block_size = 16 << 10;
  events_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(events_table));
  return {
      {rocksdb::kDefaultColumnFamilyName, cf_opts},
      {kCfEvents, events_opts},
      {kCfSnapshots, snap_opts},
      {kCfMeta, cf_opts},
      {kCfTwin, cf_opts}};
}

}  // namespace twin
