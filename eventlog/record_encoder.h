// Encodes a batch of events into FlatBuffers records on two threads: a helper thread and the
// thread that appends claim chunks of the batch, while the appending thread consumes the records
// in order (hash chain, WriteBatch). Internal to the event log's writer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "eventlog/event.h"

namespace twin {

class RecordEncoder {
 public:
  // helper=false encodes on the calling thread only; so does a batch of fewer than
  // min_helper_batch events (never fewer than two chunks).
  explicit RecordEncoder(bool helper = std::thread::hardware_concurrency() > 1,
                         size_t min_helper_batch = kMinHelperBatch);
  ~RecordEncoder();
  RecordEncoder(const RecordEncoder&) = delete;
  RecordEncoder& operator=(const RecordEncoder&) = delete;

  // One batch in flight at a time. Record i is Get(i) (in any order; blocks until it is
  // encoded, encoding unclaimed chunks meanwhile). Records stay valid until the kGenerations-th
  // Start after the one that made them (the event log keeps that many batches alive: one being
  // committed, one queued for the committer, one being encoded).
  // Finish (or destroying the encoder) must run before the events go away; it returns once
  // the helper no longer touches them.
  void Start(std::span<const Event> events);
  std::string_view Get(size_t i);
  void Finish();

  // Chunks of this many events are claimed at a time.
  static constexpr size_t kChunk = 16;
  // Smaller batches are encoded on the calling thread alone: behind the event log's commit
  // queue, waking the helper for them costs more than it saves (append of batches of 100:
  // +15% without it; batches of 1,000: the same either way, and the helper halves their
  // encoding time).
  static constexpr size_t kMinHelperBatch = 512;
  static constexpr int kGenerations = 3;

 private:
  // Bump allocator over blocks that are never moved, so published records stay put.
  class Arena {
   public:
    char* Allocate(size_t n);
    void Reset();

   private:
    static constexpr size_t kBlock = 1 << 18;
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::vector<std::unique_ptr<char[]>> large_;
    size_t block_ = 0;
    size_t used_ = 0;
  };
  struct Worker {
    flatbuffers::FlatBufferBuilder builder{1024};
    Arena arena[kGenerations];  // by batch number, modulo kGenerations
  };

  bool EncodeChunk(Worker& w);  // false when nothing is left to claim
  void HelperLoop();

  std::span<const Event> events_;
  std::vector<std::string_view> records_;
  std::unique_ptr<std::atomic<uint8_t>[]> ready_;
  size_t ready_cap_ = 0;
  std::atomic<size_t> next_{0};
  int gen_ = 0;  // which arena this batch uses
  Worker caller_;
  Worker helper_;

  size_t min_helper_batch_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;       // a job was opened, or stop
  std::condition_variable done_cv_;  // the helper left the job
  uint64_t job_ = 0;                 // guarded by mu_
  bool open_ = false;                // guarded by mu_
  bool helper_in_job_ = false;       // guarded by mu_
  bool stop_ = false;                // guarded by mu_
};

}  // namespace twin
