#include "eventlog/background_delete.h"

#include <cstdio>
#include <string_view>

namespace twin {

BackgroundDeleteFs::BackgroundDeleteFs(const std::shared_ptr<rocksdb::FileSystem>& base)
    : rocksdb::FileSystemWrapper(base), thread_([this] { Loop(); }) {}

BackgroundDeleteFs::~BackgroundDeleteFs() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
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

void BackgroundDeleteFs::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, nothing left
    std::string fname = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    l.unlock();
    auto s = target()->DeleteFile(fname, rocksdb::IOOptions(), nullptr);
    // A file RocksDB deleted twice (a full scan for obsolete files saw it still queued) is gone.
    if (!s.ok() && !s.IsPathNotFound() && !s.IsNotFound()) {
      std::fprintf(stderr, "safetytwin: cannot delete obsolete file %s: %s\n", fname.c_str(),
                   s.ToString().c_str());
    }
    l.lock();
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace twin
