// Merges runs of small tables that RocksDB's leveled compaction never merges.
//
// The log's keys are time-ordered, so a flushed table never overlaps the tables below it and
// compaction moves it down level by level as it is ("trivial move"): every flush stays a table
// for good. A reader opens every table of the log when it opens (twin-replay, the UI), and with
// the WAL kept small (kMaxUnflushedWalBytes) the writer flushes small tables often. This merges
// adjacent small tables of one level into tables of up to kMergedTableBytes.
#pragma once

#include <cstdint>

#include <rocksdb/db.h>

#include "eventlog/status.h"

namespace twin {

inline constexpr uint64_t kSmallTableBytes = 8 << 20;    // tables below this are merged
inline constexpr uint64_t kMergedTableBytes = 64 << 20;  // into tables of about this size
inline constexpr size_t kMinTablesToMerge = 4;           // fewer adjacent ones wait

// Merges, in each level >= 1 of `cf`, the runs of at least kMinTablesToMerge adjacent tables
// smaller than kSmallTableBytes (none of them being compacted) into that same level. Runs on the
// calling thread; returns how many tables it merged away, or RocksDB's error.
Result<size_t> MergeSmallTables(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf);

}  // namespace twin
