// The bounded MPSC queue between twind's ring-buffer reader and its writer. Full: the record is
// refused (the caller counts it as dropped and a gap follows); the reader never blocks, or the
// kernel's ring buffer would overflow instead.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "userspace/decode.h"

namespace twin::capture {

class EventQueue {
 public:
  explicit EventQueue(size_t cap) : cap_(cap) {}
  // False when the queue holds cap items already.
  bool TryPush(Decoded&& d) {
    std::lock_guard<std::mutex> l(mu_);
    if (q_.size() >= cap_) return false;
    q_.push_back(std::move(d));
    if (q_.size() == 1) cv_.notify_one();
    return true;
  }
  // Waits up to timeout for at least one item (or a Wake); moves up to max items into out.
  void PopBatch(std::vector<Decoded>* out, size_t max, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    if (q_.empty()) cv_.wait_for(l, timeout, [&] { return !q_.empty() || woken_; });
    woken_ = false;
    while (!q_.empty() && out->size() < max) {
      out->push_back(std::move(q_.front()));
      q_.pop_front();
    }
  }
  // Ends the current (or the next) PopBatch wait at once.
  void Wake() {
    std::lock_guard<std::mutex> l(mu_);
    woken_ = true;
    cv_.notify_all();
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return q_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Decoded> q_;
  size_t cap_;
  bool woken_ = false;
};

}  // namespace twin::capture
