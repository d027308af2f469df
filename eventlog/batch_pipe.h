// Internal to eventlog/: records handed from one thread to another in batches (the fold's
// pipeline in folder.cc, EventLog::ScanViews in log.cc).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/event.h"

namespace twin {

// Records (copied, 8-byte aligned) on their way from the thread that scans to the one that uses
// them.
struct Batch {
  struct Item {
    EventKey key;
    size_t offset;
    size_t size;
  };
  std::string bytes;
  std::vector<Item> items;
  void Add(const EventKey& key, std::string_view record) {
    Align();
    items.push_back({key, bytes.size(), record.size()});
    bytes.append(record);
  }
  std::string_view Record(const Item& i) const { return {bytes.data() + i.offset, i.size}; }
  void Clear() {
    bytes.clear();
    items.clear();
  }

 private:
  void Align() { bytes.append((8 - bytes.size() % 8) % 8, '\0'); }  // 8-byte aligned records
};

// A bounded hand-off in one direction and the emptied batches back in the other, so the
// buffers are reused instead of faulted in afresh.
class BatchPipe {
 public:
  static constexpr size_t kInFlight = 4;
  void Push(std::unique_ptr<Batch> b) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return full_.size() < kInFlight; });
    full_.push_back(std::move(b));
    cv_.notify_all();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  std::unique_ptr<Batch> Pop() {  // nullptr once closed and drained
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !full_.empty() || closed_; });
    if (full_.empty()) return nullptr;
    auto b = std::move(full_.front());
    full_.pop_front();
    cv_.notify_all();
    return b;
  }
  void Recycle(std::unique_ptr<Batch> b) {
    b->Clear();
    std::lock_guard<std::mutex> l(mu_);
    empty_.push_back(std::move(b));
  }
  std::unique_ptr<Batch> Fresh() {
    std::lock_guard<std::mutex> l(mu_);
    if (empty_.empty()) return std::make_unique<Batch>();
    auto b = std::move(empty_.back());
    empty_.pop_back();
    return b;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Batch>> full_, empty_;
  bool closed_ = false;
};

}  // namespace twin
