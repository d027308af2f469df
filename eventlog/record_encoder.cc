#include "eventlog/record_encoder.h"

#include <algorithm>
#include <cstring>

#include "eventlog/codec.h"

namespace twin {

namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

char* RecordEncoder::Arena::Allocate(size_t n) {
  n = (n + 7) & ~size_t{7};
  if (n > kBlock / 4) {
    large_.push_back(std::make_unique<char[]>(n));
    return large_.back().get();
  }
  if (block_ < blocks_.size() && used_ + n > kBlock) {
    ++block_;
    used_ = 0;
  }
  if (block_ == blocks_.size()) blocks_.push_back(std::make_unique<char[]>(kBlock));
  char* p = blocks_[block_].get() + used_;
  used_ += n;
  return p;
}

void RecordEncoder::Arena::Reset() {
  block_ = 0;
  used_ = 0;
  large_.clear();
}

RecordEncoder::RecordEncoder(bool helper, size_t min_helper_batch)
    : min_helper_batch_(std::max(min_helper_batch, 2 * kChunk)) {
  if (helper) thread_ = std::thread([this] { HelperLoop(); });
}

RecordEncoder::~RecordEncoder() {
  Finish();
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
}

void RecordEncoder::Start(std::span<const Event> events) {
  Finish();
  events_ = events;
  const size_t n = events.size();
  records_.resize(n);
  if (n > ready_cap_) {
    ready_cap_ = std::max(n, 2 * ready_cap_);
    ready_ = std::make_unique<std::atomic<uint8_t>[]>(ready_cap_);
  }
  for (size_t i = 0; i < n; ++i) ready_[i].store(0, std::memory_order_relaxed);
  next_.store(0, std::memory_order_relaxed);
  gen_ = (gen_ + 1) % kGenerations;
  caller_.arena[gen_].Reset();
  helper_.arena[gen_].Reset();
  if (thread_.joinable() && n >= min_helper_batch_) {
    {
      std::lock_guard<std::mutex> l(mu_);  // publishes the job's set-up to the helper
      open_ = true;
      ++job_;
    }
    cv_.notify_one();
  }
}

bool RecordEncoder::EncodeChunk(Worker& w) {
  const size_t n = events_.size();
  if (next_.load(std::memory_order_relaxed) >= n) return false;
  const size_t begin = next_.fetch_add(kChunk, std::memory_order_relaxed);
  if (begin >= n) return false;
  const size_t end = std::min(n, begin + kChunk);
  for (size_t i = begin; i < end; ++i) {
    EncodeEvent(events_[i], w.builder);
    const size_t size = w.builder.GetSize();
    char* p = w.arena[gen_].Allocate(size);
    std::memcpy(p, w.builder.GetBufferPointer(), size);
    records_[i] = std::string_view(p, size);
    ready_[i].store(1, std::memory_order_release);
  }
  return true;
}

std::string_view RecordEncoder::Get(size_t i) {
  unsigned spins = 0;
  while (!ready_[i].load(std::memory_order_acquire)) {
    if (EncodeChunk(caller_)) continue;
    // The helper holds record i's chunk: it is a few microseconds from done.
    if (++spins < 4096) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  return records_[i];
}

void RecordEncoder::Finish() {
  std::unique_lock<std::mutex> l(mu_);
  if (!open_) return;
  open_ = false;  // a helper that has not picked the job up yet never will
  next_.store(events_.size(), std::memory_order_relaxed);  // nor claims another chunk
  done_cv_.wait(l, [&] { return !helper_in_job_; });
}

void RecordEncoder::HelperLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || (open_ && job_ != seen); });
    if (stop_) return;
    seen = job_;
    helper_in_job_ = true;
    l.unlock();
    while (EncodeChunk(helper_)) {
    }
    l.lock();
    helper_in_job_ = false;
    done_cv_.notify_one();
  }
}

}  // namespace twin
