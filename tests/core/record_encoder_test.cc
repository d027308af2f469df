// The writer's two-thread record encoder: every record equals the single-threaded encoding,
// whatever the batch size, the order records are asked for, or an early finish.
#include "eventlog/record_encoder.h"

#include <sys/mman.h>

#include <filesystem>
#include <new>

#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/synth.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

std::vector<Event> Corpus(size_t n, uint64_t seed) { return testing::Synth(n, seed); }

void ExpectAllRecords(RecordEncoder& enc, const std::vector<Event>& events, bool reverse) {
  enc.Start(events);
  std::vector<std::string_view> got(events.size());
  for (size_t j = 0; j < events.size(); ++j) {
    const size_t i = reverse ? events.size() - 1 - j : j;
    got[i] = enc.Get(i);
  }
  // Every view is still intact once the whole batch is encoded (records never move).
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(got[i], EncodeEventToString(events[i])) << "record " << i << " of " << events.size();
  }
  enc.Finish();
}

TEST(RecordEncoder, RecordsEqualTheSingleThreadedEncoding) {
  for (bool helper : {true, false}) {
    RecordEncoder enc(helper, /*min_helper_batch=*/2 * RecordEncoder::kChunk);
    uint64_t seed = 1;
    for (size_t n : {size_t{1}, RecordEncoder::kChunk, 2 * RecordEncoder::kChunk - 1,
                     2 * RecordEncoder::kChunk, 2 * RecordEncoder::kChunk + 1, size_t{1000},
                     size_t{4097}}) {
      for (int round = 0; round < 8; ++round) {
        auto events = Corpus(n, ++seed);
        ExpectAllRecords(enc, events, round % 2 == 1);
      }
    }
  }
}

TEST(RecordEncoder, LargeRecordsAmongSmallOnes) {
  auto events = Corpus(3000, 7);
  for (size_t i = 5; i < events.size(); i += 701) {
    events[i].unit_file_content.assign(300 * 1024 + i, 'x');  // above the arena's block share
  }
  RecordEncoder enc;
  for (int round = 0; round < 4; ++round) ExpectAllRecords(enc, events, round == 3);
}

// Events in pages of their own, so a test can revoke all access to them (mprotect PROT_NONE):
// an encoder thread that still read an Event after it promised not to dies with SIGSEGV.
class GuardedEvents {
 public:
  explicit GuardedEvents(const std::vector<Event>& src) : n_(src.size()) {
    bytes_ = (n_ * sizeof(Event) + 4095) & ~size_t{4095};
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    events_ = static_cast<Event*>(p);
    for (size_t i = 0; i < n_; ++i) new (&events_[i]) Event(src[i]);
  }
  ~GuardedEvents() {
    Allow();
    for (size_t i = 0; i < n_; ++i) events_[i].~Event();
    munmap(events_, bytes_);
  }
  std::span<const Event> span() const { return {events_, n_}; }
  void Revoke() { ASSERT_EQ(mprotect(events_, bytes_, PROT_NONE), 0); }
  void Allow() { ASSERT_EQ(mprotect(events_, bytes_, PROT_READ | PROT_WRITE), 0); }

 private:
  Event* events_;
  size_t n_, bytes_;
};

size_t ThreadsOfThisProcess() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)e;
    ++n;
  }
  return n;
}

// Finish (or Start, or the destructor) with most of a batch unencoded returns only once the
// helper no longer reads the batch's events: their pages are made unreadable right after, and
// the encoder's thread is gone (per /proc) once it is destroyed.
TEST(RecordEncoder, FinishingEarlyOrNeverLeavesNothingBehind) {
  const auto big = Corpus(20000, 11);
  const auto small = Corpus(600, 12);  // above kMinHelperBatch: both threads
  const size_t threads_before = ThreadsOfThisProcess();
  for (int round = 0; round < 10; ++round) {
    GuardedEvents first(big), second(big), third(big);
    {
      RecordEncoder enc(/*helper=*/true);
      ASSERT_EQ(ThreadsOfThisProcess(), threads_before + 1);
      enc.Start(first.span());
      EXPECT_EQ(enc.Get(0), EncodeEventToString(big[0]));
      enc.Finish();  // abandons the rest of the batch
      first.Revoke();
      ExpectAllRecords(enc, small, false);
      enc.Start(second.span());
      EXPECT_EQ(enc.Get(19999), EncodeEventToString(big[19999]));
      ExpectAllRecords(enc, small, true);  // Start finishes the previous batch itself
      second.Revoke();
      enc.Start(third.span());
      EXPECT_EQ(enc.Get(100), EncodeEventToString(big[100]));
    }  // destroyed with a batch in flight: joins its helper first
    third.Revoke();
    EXPECT_EQ(ThreadsOfThisProcess(), threads_before);
  }
}

// Through the log: a batch large enough for both threads reads back event for event, and the
// commit observer sees exactly the stored records.
TEST(RecordEncoder, AppendedBatchesReadBackAndReachTheObserver) {
  testing::TempDir tmp;
  auto log = std::move(EventLog::OpenWriter(tmp.path()).value());
  std::vector<std::string> observed;
  log->SetCommitObserver([&](std::span<const EventLog::CommittedRecord> records) {
    for (const auto& r : records) observed.emplace_back(r.record);
  });
  auto events = Corpus(5000, 21);
  for (auto& e : events) e.ts_ns = 1'700'000'000'000'000'000ULL + (&e - events.data());
  ASSERT_TRUE(log->Append(std::span(events).first(3000)).ok());
  ASSERT_TRUE(log->Append(std::span(events).subspan(3000)).ok());
  ASSERT_TRUE(log->Drain().ok());  // the observer runs on the committer thread
  ASSERT_EQ(observed.size(), events.size());
  size_t i = 0;
  auto s = log->ScanRecords(EventKey{}, EventKey{UINT64_MAX, UINT64_MAX},
                            [&](const EventKey&, std::string_view record) {
                              EXPECT_EQ(record, EncodeEventToString(events[i]));
                              EXPECT_EQ(record, observed[i]);
                              ++i;
                              return true;
                            });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(i, events.size());
  auto v = log->Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, events.size());
}

}  // namespace
}  // namespace twin
