// The event log on a full disk: an append that cannot be written is reported (not acknowledged
// silently), the log takes no more appends, and once there is room again the reopened log holds
// whole batches only and its chain verifies.
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "tests/common/skip.h"
#include "tests/common/small_tmpfs.h"

namespace twin {
namespace {

TEST(DiskFull, AppendFailsLoudlyAndTheReopenedLogHoldsWholeBatches) {
  TWIN_REQUIRE(geteuid() == 0, "mounting a small tmpfs needs root");
  SmallTmpfs fs("24m");
  ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
  const std::string dir = fs.sub("log");

  SynthGenerator g(SynthOptions{});
  constexpr size_t kBatch = 50;
  uint64_t acked = 0;
  Status failure;
  {
    auto opened = EventLog::OpenWriter(dir);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto log = std::move(opened).value();
    std::vector<Event> batch;
    for (int i = 0; i < 400 && failure.ok(); ++i) {
      batch.clear();
      g.Fill(batch, kBatch);
      for (auto& e : batch) e.unit_file_content.assign(16 * 1024, 'u');  // ~0.8 MB a batch
      auto r = log->Append(batch);
      if (r.ok()) {
        acked += kBatch;
      } else {
        failure = r.status();
      }
    }
    if (failure.ok()) failure = log->Drain();  // the last batch may fail after its Append
    ASSERT_FALSE(failure.ok()) << "24 MB of tmpfs never filled up";
    const std::string msg = failure.ToString();
    EXPECT_NE(msg.find(dir), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    // The log takes no more appends, and says so.
    batch.resize(1);
    EXPECT_FALSE(log->Append(batch).ok());
    EXPECT_LE(log->Head().count, acked);
    EXPECT_EQ(log->Head().count % kBatch, 0u);
    // Sticky for every write, also once the disk has room again: a snapshot or a seal written
    // after a lost batch would vouch for a chain the log does not hold (log.h: nothing more is
    // written until the log is reopened).
    ASSERT_TRUE(fs.Resize("256m"));
    const ChainHead settled = log->Head();
    Snapshot snap;
    snap.state.last_key = settled.key;
    const Status snap_st = log->PutSnapshot(snap);
    EXPECT_FALSE(snap_st.ok()) << "a snapshot was written after a failed write";
    EXPECT_NE(snap_st.ToString().find("were not written"), std::string::npos) << snap_st.ToString();
    EXPECT_FALSE(log->PutSeal(Seal{settled.key, settled.count, settled.head, 1, "", 0}).ok())
        << "a seal was written after a failed write";
    EXPECT_FALSE(log->PutTwin("written_after_failure", "x").ok())
        << "a twin catalogue entry was written after a failed write";
    EXPECT_FALSE(log->Append(batch).ok()) << "an append went through once the disk had room";
  }

  auto reopened = EventLog::OpenWriter(dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto log = std::move(reopened).value();
  const ChainHead head = log->Head();
  EXPECT_GT(head.count, 0u);
  EXPECT_LE(head.count, acked);
  EXPECT_EQ(head.count % kBatch, 0u) << "a half batch survived";
  bool stray = false;
  ASSERT_TRUE(log->ScanTwin([&](std::string_view key, std::string_view) {
    stray |= key == "written_after_failure";
    return true;
  }).ok());
  EXPECT_FALSE(stray) << "the failed log took a write";
  std::vector<Event> more;
  g.Fill(more, kBatch);
  ASSERT_TRUE(log->Append(more).ok());
  VerifyReport v = log->Verify();
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front().what);
  EXPECT_EQ(v.records, head.count + kBatch);
}

}  // namespace
}  // namespace twin
