// The writer's two-thread record encoder: every record equals the single-threaded encoding,
// whatever the batch size, the order records are asked for, or an early finish.
#include "eventlog/record_encoder.h"

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

TEST(RecordEncoder, FinishingEarlyOrNeverLeavesNothingBehind) {
  auto big = Corpus(20000, 11);
  auto small = Corpus(600, 12);  // above kMinHelperBatch: both threads
  {
    RecordEncoder enc;
    enc.Start(big);
    EXPECT_EQ(enc.Get(0), EncodeEventToString(big[0]));
    enc.Finish();  // abandons the rest of the batch
    ExpectAllRecords(enc, small, false);
    enc.Start(big);
    EXPECT_EQ(enc.Get(19999), EncodeEventToString(big[19999]));
    ExpectAllRecords(enc, small, true);  // Start finishes the previous batch itself
    enc.Start(big);
  }  // destroyed with a batch in flight: joins its helper first
  SUCCEED();
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
