#include "eventlog/table_merge.h"

#include <string>
#include <vector>

#include <rocksdb/metadata.h>
#include <rocksdb/options.h>

namespace twin {

namespace {

// The next run to merge at or after *pos in `files` (sorted by key, as RocksDB lists levels
// >= 1), as table file names; empty if none is left.
std::vector<std::string> NextRun(const std::vector<rocksdb::SstFileMetaData>& files, size_t* pos) {
  std::vector<std::string> run;
  uint64_t bytes = 0;
  for (; *pos < files.size(); ++*pos) {
    const auto& f = files[*pos];
    const bool small = f.size < kSmallTableBytes && !f.being_compacted;
    if (small && bytes + f.size <= kMergedTableBytes) {
      run.push_back(f.name);
      bytes += f.size;
      continue;
    }
    if (run.size() >= kMinTablesToMerge) return run;
    run.clear();
    bytes = 0;
    if (small) {  // starts the next run
      run.push_back(f.name);
      bytes = f.size;
    }
  }
  if (run.size() < kMinTablesToMerge) run.clear();
  return run;
}

}  // namespace

Result<size_t> MergeSmallTables(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
  rocksdb::ColumnFamilyMetaData meta;
  db.GetColumnFamilyMetaData(cf, &meta);
  rocksdb::ColumnFamilyDescriptor desc;
  rocksdb::Status s = cf->GetDescriptor(&desc);
  if (!s.ok()) return Status::IOError("cannot read column family options: " + s.ToString());
  rocksdb::CompactionOptions co;
  co.compression = desc.options.compression;  // RocksDB's default here would be Snappy
  co.output_file_size_limit = kMergedTableBytes;
  co.max_subcompactions = 1;
  size_t merged = 0;
  for (const auto& level : meta.levels) {
    if (level.level == 0) continue;  // overlapping by definition; RocksDB compacts L0 itself
    size_t pos = 0;
    for (;;) {
      std::vector<std::string> run = NextRun(level.files, &pos);
      if (run.empty()) break;
      std::vector<std::string> out;
      s = db.CompactFiles(co, cf, run, level.level, -1, &out);
      // A table taken by RocksDB's own compaction meanwhile: the next call tries again.
      if (s.IsInvalidArgument() || s.IsAborted()) continue;
      if (!s.ok()) return Status::IOError("cannot merge small tables: " + s.ToString());
      merged += run.size() - out.size();
    }
  }
  return merged;
}

}  // namespace twin
