// A RocksDB FileSystem that unlinks obsolete WAL, table and blob files on a thread of its own.
//
// RocksDB deletes the WAL a flush made obsolete on the flush thread. On ext4 mounted with
// `discard` (as these machines are), unlink frees the file's extents with a synchronous discard:
// 64 MB of WAL cost the flush thread tens of milliseconds, during which the memtables it should
// be flushing pile up and RocksDB slows or stops writes (docs/BENCHMARKS.md). Such files are
// numbered and never reused, so their unlink can happen later; RocksDB deletes any left behind
// by a crash when it next opens the log.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <rocksdb/file_system.h>

namespace twin {

class BackgroundDeleteFs : public rocksdb::FileSystemWrapper {
 public:
  explicit BackgroundDeleteFs(const std::shared_ptr<rocksdb::FileSystem>& base);
  ~BackgroundDeleteFs() override;  // unlinks everything still queued

  static const char* kClassName() { return "SafetytwinBackgroundDeleteFs"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

  // Returns once every file queued before the call is unlinked.
  void Drain();

  // Whether a file of this name is unlinked in the background.
  static bool Deferred(const std::string& fname);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;       // work queued or stop
  std::condition_variable idle_cv_;  // queue emptied
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace twin
