// bare_open: the RocksDB floor under every twin-replay command, for bench/run-cli-bench.sh. A
// process that links RocksDB alone (with the log's hardware CRC32C), opens a data dir read-only
// with the log's options and column families, reads the chain head and the last event, and
// exits: dynamic linking of RocksDB, WAL replay and table opening, nothing of ours.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "eventlog/rocks_options.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bare_open DATA_DIR\n");
    return 2;
  }
  rocksdb::Options opts = twin::LogReaderDbOptions();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(opts, argv[1], twin::LogColumnFamilies(opts), &handles, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "bare_open: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string head;
  s = db->Get(rocksdb::ReadOptions(), handles[twin::kCfIndexMeta], "chain_head", &head);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[twin::kCfIndexEvents]));
  it->SeekToLast();
  std::printf("%zu %d\n", head.size(), it->Valid() ? 1 : 0);
  it.reset();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return s.ok() ? 0 : 1;
}
