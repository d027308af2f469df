// Small adjacent tables of a level are merged into fewer, and every record stays readable.
#include "eventlog/table_merge.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>

#include "eventlog/log.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

size_t TablesIn(rocksdb::DB& db, int level) {
  rocksdb::ColumnFamilyMetaData meta;
  db.GetColumnFamilyMetaData(&meta);
  return meta.levels[level].files.size();
}

// Time-ordered keys flushed one batch at a time, each table moved to L1 on its own: the shape
// RocksDB's trivial moves give the event log.
TEST(TableMerge, AdjacentSmallTablesOfALevelBecomeOne) {
  testing::TempDir t;
  rocksdb::Options o;
  o.create_if_missing = true;
  o.disable_auto_compactions = true;
  o.compression = rocksdb::kNoCompression;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, t.path(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  constexpr int kTables = 9, kPerTable = 1000;
  uint64_t seq = 0;
  for (int f = 0; f < kTables; ++f) {
    for (int i = 0; i < kPerTable; ++i, ++seq) {
      ASSERT_TRUE(db->Put({}, EncodeKey({1000 + seq, seq}), std::string(100, 'a' + f)).ok());
    }
    ASSERT_TRUE(db->Flush({}).ok());
    rocksdb::ColumnFamilyMetaData meta;
    db->GetColumnFamilyMetaData(&meta);
    ASSERT_EQ(meta.levels[0].files.size(), 1u);
    rocksdb::CompactionOptions co;
    co.compression = rocksdb::kNoCompression;
    ASSERT_TRUE(db->CompactFiles(co, {meta.levels[0].files[0].name}, 1).ok());
  }
  ASSERT_EQ(TablesIn(*db, 1), static_cast<size_t>(kTables));

  auto merged = MergeSmallTables(*db, db->DefaultColumnFamily());
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(merged.value(), static_cast<size_t>(kTables - 1));
  EXPECT_EQ(TablesIn(*db, 1), 1u);
  // Every record, in key order, with its value.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    EventKey k;
    ASSERT_TRUE(DecodeKey(std::string_view(it->key().data(), it->key().size()), &k));
    EXPECT_EQ(k.seq, n);
    EXPECT_EQ(it->value().ToString(), std::string(100, 'a' + static_cast<int>(n / kPerTable)));
  }
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(n, seq);
  // Nothing left to merge: a second pass changes nothing.
  merged = MergeSmallTables(*db, db->DefaultColumnFamily());
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged.value(), 0u);
}

}  // namespace
}  // namespace twin
