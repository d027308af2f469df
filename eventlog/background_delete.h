// A RocksDB FileSystem that unlinks obsolete WAL, table and blob files on a thread of its own.
//
// RocksDB deletes the WAL a flush made obsolete on the flush thread. On ext4 mounted with
// `discard` (as these machines are), unlink frees the file's extents with a synchronous discard:
// 64 MB of WAL cost the flush thread tens of milliseconds, during which the memtables it should
// be flushing pile up and RocksDB slows or stops writes (docs/BENCHMARKS.md). Such files are
// numbered and never reused, so their unlink can happen later; RocksDB deletes any left behind
// by a crash when it next opens the log.
//
// It is also what keeps a reader's view whole while the writer runs. A read-only open reads the
// MANIFEST first and lists the WAL files after: a flush that ends in between and retires a WAL
// leaves the reader without that WAL and without the tables that replaced it (not in the MANIFEST
// it read), so records from the middle of the log vanish from its view with no error (a snapshot
// naming host configuration the reader cannot find; a chain with a hole). Readers hold a shared
// lock on the data dir's READERS file while they open (ReaderOpenLock); this thread unlinks only
// under the exclusive one, so no file a reader's open may still need disappears during that open.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <rocksdb/file_system.h>

namespace twin {

// The file in the data dir whose flock orders readers' opens against the writer's unlinks.
inline constexpr const char* kReaderLockFileName = "READERS";

class BackgroundDeleteFs : public rocksdb::FileSystemWrapper {
 public:
  // With a data dir, unlinks happen under the exclusive lock of its READERS file (created 0600
  // if missing); without one (or if the file cannot be created), without a lock.
  explicit BackgroundDeleteFs(const std::shared_ptr<rocksdb::FileSystem>& base,
                              const std::string& data_dir = "");
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
  void UnlinkUnderLock(const std::deque<std::string>& files);

  std::mutex mu_;
  std::condition_variable cv_;       // work queued or stop
  std::condition_variable idle_cv_;  // queue emptied
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stop_ = false;
  int reader_lock_fd_ = -1;
  std::thread thread_;
};

// Held by a reader for the length of its open: a shared flock on the data dir's READERS file, so
// that the writer unlinks no retired file meanwhile. No file (a log written before it existed,
// a copy without it) or no permission: nothing is held and the open goes on as before.
class ReaderOpenLock {
 public:
  explicit ReaderOpenLock(const std::string& data_dir);
  ~ReaderOpenLock();
  ReaderOpenLock(const ReaderOpenLock&) = delete;
  ReaderOpenLock& operator=(const ReaderOpenLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace twin
