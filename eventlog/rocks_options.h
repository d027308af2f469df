// The event log's RocksDB configuration, in one place: EventLog opens its data dir with it, and
// the benchmarks measure RocksDB alone with it (bench/eventlog_bench.cc, BM_RocksDbLayout).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <rocksdb/db.h>

namespace twin {

// The column families, in the order LogColumnFamilies lists them.
inline constexpr const char* kCfEvents = "events";
inline constexpr const char* kCfSnapshots = "snapshots";
inline constexpr const char* kCfMeta = "meta";
inline constexpr const char* kCfTwin = "twin";
enum LogCf { kCfIndexDefault = 0, kCfIndexEvents, kCfIndexSnapshots, kCfIndexMeta, kCfIndexTwin };

// The most WAL a writer keeps unflushed (RocksDB's max_total_wal_size): what a reader opening
// the log replays at most, give or take a flush in progress. 4 MB: a reader of a log written
// at 10,000 events/s spent 35-39 ms of CPU in RocksDB's open against 64-67 ms with 16 MB, and
// appends ran as fast (docs/BENCHMARKS.md).
inline constexpr uint64_t kMaxUnflushedWalBytes = 4 << 20;

// DB-wide options of a writer.
rocksdb::Options LogDbOptions();
// Those of a read-only open: never creates, logs errors only.
rocksdb::Options LogReaderDbOptions();

// default, events, snapshots, meta, twin, each with its own options derived from `db`.
std::vector<rocksdb::ColumnFamilyDescriptor> LogColumnFamilies(const rocksdb::Options& db);

// RocksDB's messages on stderr (see rocks_options.cc).
std::shared_ptr<rocksdb::Logger> StderrRocksLogger(rocksdb::InfoLogLevel level);

}  // namespace twin
