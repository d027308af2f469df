#include "eventlog/background_delete.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace twin {

namespace {
// flock, again after a signal.
int FlockRetrying(int fd, int op) {
  int r;
  do {
    r = ::flock(fd, op);
  } while (r != 0 && errno == EINTR);
  return r;
}
}  // namespace

BackgroundDeleteFs::BackgroundDeleteFs(const std::shared_ptr<rocksdb::FileSystem>& base,
                                       const std::string& data_dir)
    : rocksdb::FileSystemWrapper(base) {
  if (!data_dir.empty()) {
    const std::string path = data_dir + "/" + kReaderLockFileName;
    reader_lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (reader_lock_fd_ < 0) {
      std::fprintf(stderr, "safetytwin: cannot create %s (%s): readers opening the log while it "
                   "is written may miss records retired meanwhile\n", path.c_str(),
                   std::strerror(errno));
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

BackgroundDeleteFs::~BackgroundDeleteFs() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (reader_lock_fd_ >= 0) ::close(reader_lock_fd_);
}

bool BackgroundDeleteFs::Deferred(const std::string& fname) {
  const std::string_view n(fname);
  for (std::string_view ext : {".log", ".sst", ".blob"}) {
    if (n.size() > ext.size() && n.substr(n.size() - ext.size()) == ext) return true;
  }
  return false;
}

rocksdb::IOStatus BackgroundDeleteFs::DeleteFile(const std::string& fname,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* dbg) {
  if (!Deferred(fname)) return target()->DeleteFile(fname, options, dbg);
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(fname);
  }
  cv_.notify_one();
  return rocksdb::IOStatus::OK();
}

void BackgroundDeleteFs::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [this] { return queue_.empty() && !busy_; });
}

void BackgroundDeleteFs::UnlinkUnderLock(const std::deque<std::string>& files) {
  // Waits for the readers opening now; new ones wait for this batch of unlinks.
  const bool locked = reader_lock_fd_ >= 0 && FlockRetrying(reader_lock_fd_, LOCK_EX) == 0;
  for (const auto& fname : files) {
    auto s = target()->DeleteFile(fname, rocksdb::IOOptions(), nullptr);
    // A file RocksDB deleted twice (a full scan for obsolete files saw it still queued) is gone.
    if (!s.ok() && !s.IsPathNotFound() && !s.IsNotFound()) {
      std::fprintf(stderr, "safetytwin: cannot delete obsolete file %s: %s\n", fname.c_str(),
                   s.ToString().c_str());
    }
  }
  if (locked) FlockRetrying(reader_lock_fd_, LOCK_UN);
}

void BackgroundDeleteFs::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, nothing left
    std::deque<std::string> batch;
    batch.swap(queue_);
    busy_ = true;
    l.unlock();
    UnlinkUnderLock(batch);
    l.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

ReaderOpenLock::ReaderOpenLock(const std::string& data_dir) {
  fd_ = ::open((data_dir + "/" + kReaderLockFileName).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ >= 0 && FlockRetrying(fd_, LOCK_SH) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

ReaderOpenLock::~ReaderOpenLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace twin
