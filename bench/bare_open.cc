// bare_open: the RocksDB floor under every twin-replay command, for bench/run-cli-bench.sh. A
// process that links RocksDB alone (with the log's hardware CRC32C), opens a data dir read-only
// with the log's options and column families, reads the chain head and the last event, and
// exits: dynamic linking of RocksDB, WAL replay and table opening, nothing of ours but the
// readers' shared open lock (eventlog/background_delete.h) that any reader of a live log needs:
// without it a table retired by the writer mid-open fails the open.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "eventlog/background_delete.h"
#include "eventlog/rocks_options.h"

// With --secondary DIR it opens the data dir as a RocksDB secondary instance instead (its own
// files in DIR), the alternative to a read-only open that docs/BENCHMARKS.md prices.
int main(int argc, char** argv) {
  const bool secondary = argc == 4 && std::string(argv[1]) == "--secondary";
  if (argc != 2 && !secondary) {
    std::fprintf(stderr, "usage: bare_open [--secondary DIR] DATA_DIR\n");
    return 2;
  }
  const char* dir = argv[argc - 1];
  rocksdb::Options opts = twin::LogReaderDbOptions();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  auto open_lock = std::make_unique<twin::ReaderOpenLock>(dir);
  if (secondary) {
    opts.max_open_files = -1;
    s = rocksdb::DB::OpenAsSecondary(opts, dir, argv[2], twin::LogColumnFamilies(opts), &handles,
                                     &raw);
  } else {
    s = rocksdb::DB::OpenForReadOnly(opts, dir, twin::LogColumnFamilies(opts), &handles, &raw);
  }
  open_lock.reset();
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
