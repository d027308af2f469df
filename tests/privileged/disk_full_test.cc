// The event log on a full disk: an append that cannot be written is reported (not acknowledged
// silently), the log takes no more appends, and once there is room again the reopened log holds
// whole batches only and its chain verifies.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "tests/common/skip.h"
#include "tests/common/small_tmpfs.h"

namespace twin {
namespace {

std::string Incompressible(std::mt19937_64& rng, size_t n) {
  std::string s(n, 'a');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);  // LZ4 finds no repeats in this
  return s;
}

TEST(DiskFull, AppendFailsLoudlyAndTheReopenedLogHoldsWholeBatches) {
  TWIN_REQUIRE(geteuid() == 0, "mounting a small tmpfs needs root");
  SmallTmpfs fs("24m");
  ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
  const std::string dir = fs.sub("log");

  SynthGenerator g(SynthOptions{});
  std::mt19937_64 rng(7);
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
      // ~0.8 MB a batch of bytes no compressor shrinks: the WAL is bounded (4 MB) and flushed
      // into LZ4 tables, so a compressible payload would never fill the filesystem.
      for (auto& e : batch) e.unit_file_content = Incompressible(rng, 16 * 1024);
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

// Fills what is left of the filesystem holding dir with a file (the full disk of a host whose
// other programs took the space).
void FillUp(const std::string& dir) {
  FILE* f = std::fopen((dir + "/../filler").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string chunk(64 * 1024, 'f');
  while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
  }
  std::fclose(f);
}

// A snapshot (or seal, or catalogue entry) is the first write that fails, with appends before
// it still waiting for the group commit's WAL sync. The packaged RocksDB aborts the process if
// a WAL that saw a failed write is synced, written or flushed again; the log must not touch it
// after the failure, report the failure to every later write, and the reopened log must verify.
// Each round with a 1 ms group commit, so a sync is due right when the write fails.
TEST(DiskFull, AFailedSnapshotWriteIsStickyAndTheWalIsNeverSyncedAgain) {
  TWIN_REQUIRE(geteuid() == 0, "mounting a small tmpfs needs root");
  std::mt19937_64 rng(11);
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    SmallTmpfs fs("32m");
    ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
    const std::string dir = fs.sub("log");
    SynthGenerator g(SynthOptions{.seed = static_cast<uint64_t>(round + 1)});
    LogOptions opts;
    opts.fsync_interval_ms = 1;
    uint64_t acked = 0;
    {
      auto opened = EventLog::OpenWriter(dir, opts);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      auto log = std::move(opened).value();
      std::vector<Event> batch;
      g.Fill(batch, 200);
      ASSERT_TRUE(log->Append(batch).ok());
      ASSERT_TRUE(log->Drain().ok());
      acked = 200;
      FillUp(dir);
      // More appends: they go into the space RocksDB preallocated for its WAL.
      for (int i = 0; i < round; ++i) {
        batch.clear();
        g.Fill(batch, 50);
        if (log->Append(batch).ok() && log->Drain().ok()) acked += 50;
      }
      Snapshot snap;
      snap.state.last_key = log->Head().key;
      snap.state.events_folded = log->Head().count;
      for (int u = 0; u < 8; ++u) {  // 8 MB, beyond any preallocated WAL space
        Unit unit;
        unit.name = "u" + std::to_string(u) + ".service";
        unit.file_content = Incompressible(rng, 1 << 20);
        snap.state.units[unit.name] = unit;
      }
      const Status st = log->PutSnapshot(snap);
      ASSERT_FALSE(st.ok()) << "an 8 MB snapshot fitted on a full tmpfs";
      EXPECT_NE(st.ToString().find(dir), std::string::npos) << st.ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // group commit ticks
      // Sticky: nothing is written after the failure, whatever it is.
      batch.resize(1);
      EXPECT_FALSE(log->Append(batch).ok());
      EXPECT_FALSE(log->Sync().ok());
      EXPECT_FALSE(log->PutTwin("after", "x").ok());
      const ChainHead h = log->Head();
      EXPECT_FALSE(log->PutSeal(Seal{h.key, h.count, h.head, 1, "", 0}).ok());
      std::filesystem::remove(dir + "/../filler");
    }  // closing must not touch the failed WAL either (the process would abort here)
    auto reopened = EventLog::OpenWriter(dir, opts);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    auto log = std::move(reopened).value();
    EXPECT_EQ(log->Head().count, acked);
    VerifyReport v = log->Verify();
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems.front().what);
    EXPECT_EQ(v.records, acked);
  }
}

}  // namespace
}  // namespace twin
