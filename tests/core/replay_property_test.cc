// The replay invariant: for every T, state(T) from the nearest snapshot plus the tail equals
// the fold of all events <= T from the beginning, folded by an independent reference.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "tests/core/reference_fold.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

class ReplayProperty : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ReplayProperty, SnapshotPlusTailEqualsFullFold) {
  const uint64_t seed = GetParam();
  testing::TempDir t;
  auto log = std::move(EventLog::OpenWriter(t.path()).value());
  Compactor compactor(*log);
  // Odd seeds compact by reading the log back, even seeds by following its commits (as twind).
  if (seed % 2 == 0) ASSERT_TRUE(compactor.Follow().ok());
  SynthOptions o;
  o.seed = seed;
  o.hostile_strings = seed % 2 == 0;
  o.host_config = seed >= 3;  // packages, config files, users and groups too
  o.mean_step_ns = 50'000'000;
  SynthGenerator g(o);
  std::mt19937_64 rng(seed);
  std::vector<Event> batch;
  const int batches = 40 + static_cast<int>(rng() % 40);
  for (int b = 0; b < batches; ++b) {
    g.Fill(batch, 1 + rng() % 200);
    ASSERT_TRUE(log->Append(batch).ok());
    if (rng() % 3 == 0) ASSERT_TRUE(compactor.RunOnce(g.now_ns()).ok());
  }
  std::vector<KeyedEvent> all;
  ASSERT_TRUE(log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    all.push_back({k, e});
    return true;
  }).ok());
  ASSERT_FALSE(all.empty());
  ASSERT_GT(log->SnapshotKeys().value().size(), 3u);
  const uint64_t lo = all.front().key.ts_ns - 1000, hi = all.back().key.ts_ns + 1000;
  // 1,000 random T, plus the exact keys around snapshots where off-by-one bugs live.
  std::vector<uint64_t> ts;
  for (int i = 0; i < 1000; ++i) ts.push_back(lo + rng() % (hi - lo));
  for (const auto& k : log->SnapshotKeys().value()) {
    ts.push_back(k.ts_ns);
    ts.push_back(k.ts_ns - 1);
    ts.push_back(k.ts_ns + 1);
  }
  // The reference (tests/core/reference_fold.h, independent of the product's fold) folds
  // incrementally over the sorted times; StateAt answers each T cold.
  std::sort(ts.begin(), ts.end());
  State ref;
  size_t next = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const uint64_t at = ts[i];
    while (next < all.size() && all[next].key.ts_ns <= at) {
      testing::ReferenceFold(ref, all[next].event, all[next].key);
      ++next;
    }
    auto fast = StateAt(*log, at);
    ASSERT_TRUE(fast.ok()) << fast.status().ToString();
    ASSERT_EQ(fast.value(), ref) << "seed " << seed << " T=" << at;
    if (i % 20 == 0) {  // the slow path through the log, on a sample
      auto slow = StateAtByFullFold(*log, at);
      ASSERT_TRUE(slow.ok());
      ASSERT_EQ(slow.value(), ref);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ReplayProperty, ::testing::Values(1, 2, 3, 4, 5, 6));

TEST(Compactor, SnapshotCarriesDiffAgainstPrevious) {
  testing::TempDir t;
  auto log = std::move(EventLog::OpenWriter(t.path()).value());
  Compactor c(*log);
  Event u;
  u.kind = EventKind::kUnitStart;
  u.ts_ns = 10;
  u.unit = "a.service";
  ASSERT_TRUE(log->Append(u).ok());
  auto s1 = c.RunOnce(11);
  ASSERT_TRUE(s1.ok() && s1.value());
  EXPECT_EQ(s1.value()->diff.units.added.size(), 1u);
  EXPECT_TRUE(s1.value()->diff.Significant());
  auto none = c.RunOnce(12);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value());  // nothing new, no snapshot
  u.kind = EventKind::kUnitStop;
  u.ts_ns = 20;
  ASSERT_TRUE(log->Append(u).ok());
  auto s2 = c.RunOnce(21);
  ASSERT_TRUE(s2.ok() && s2.value());
  EXPECT_EQ(s2.value()->diff.units.removed.size(), 1u);
  // A new compactor over the same log resumes from the latest snapshot.
  Compactor c2(*log);
  auto again = c2.RunOnce(22);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value());
  EXPECT_TRUE(c2.current().units.empty());
  EXPECT_EQ(c2.current().events_folded, 2u);
}

// A compactor that follows the log's commits writes exactly the snapshots (state and diff) of
// one that reads the log back — including when it starts following a log that already has
// events after its last snapshot, and across retention appending its own record.
TEST(Compactor, FollowingWritesTheSameSnapshotsAsReading) {
  testing::TempDir ta, tb;
  auto la = std::move(EventLog::OpenWriter(ta.path()).value());
  auto lb = std::move(EventLog::OpenWriter(tb.path()).value());
  Compactor follower(*la), reader(*lb);
  SynthOptions o;
  o.seed = 77;
  o.hostile_strings = true;
  o.host_config = true;
  SynthGenerator ga(o), gb(o);
  std::vector<Event> batch;
  std::mt19937_64 rng(77);
  for (int round = 0; round < 60; ++round) {
    const size_t n = 1 + rng() % 3000;
    ga.Fill(batch, n);
    ASSERT_TRUE(la->Append(batch).ok());
    gb.Fill(batch, n);
    ASSERT_TRUE(lb->Append(batch).ok());
    if (round == 3) {
      ASSERT_TRUE(follower.Follow().ok());  // three batches are already in the log
      ASSERT_TRUE(follower.following());
    }
    if (rng() % 4 == 0) continue;  // several appends between some compactions
    auto a = follower.RunOnce(ga.now_ns());
    auto b = reader.RunOnce(gb.now_ns());
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a.value().has_value(), b.value().has_value());
    if (!a.value()) continue;
    ASSERT_EQ(a.value()->state, b.value()->state) << "round " << round;
    ASSERT_EQ(a.value()->diff.processes.added, b.value()->diff.processes.added);
    ASSERT_EQ(a.value()->diff.listeners.changed, b.value()->diff.listeners.changed);
    ASSERT_EQ(a.value()->diff.units.removed, b.value()->diff.units.removed);
  }
  EXPECT_TRUE(follower.following());
  EXPECT_EQ(la->SnapshotKeys().value(), lb->SnapshotKeys().value());
  EXPECT_EQ(follower.current(), StateAtByFullFold(*la, UINT64_MAX).value());
  State ref;
  ASSERT_TRUE(la->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    testing::ReferenceFold(ref, e, k);
    return true;
  }).ok());
  EXPECT_EQ(follower.current(), ref);
}

// A burst written faster than the wall-clock interval: the writer cuts a snapshot whenever the
// bound is reached (as twind and bench/log_load do), so no event lies more than the bound plus
// one batch after the snapshot a reader starts from, and those snapshots are right.
TEST(Compactor, ABurstIsCutByCountSoNoReaderFoldsMoreThanTheBound) {
  testing::TempDir t;
  auto log = std::move(EventLog::OpenWriter(t.path()).value());
  constexpr uint64_t kBound = 5000, kBatch = 1000, kEvents = 52'000;
  Compactor c(*log, kBound);
  ASSERT_TRUE(c.Follow().ok());
  SynthOptions o;
  o.seed = 5;
  SynthGenerator g(o);
  std::vector<Event> batch;
  int cuts = 0;
  for (uint64_t done = 0; done < kEvents; done += kBatch) {
    g.Fill(batch, kBatch);
    ASSERT_TRUE(log->Append(batch).ok());
    c.Appended(batch.size());
    if (c.DueByCount()) {
      auto r = c.RunOnce(g.now_ns());
      ASSERT_TRUE(r.ok() && r.value().has_value());
      EXPECT_FALSE(c.DueByCount());
      ++cuts;
    }
  }
  EXPECT_EQ(cuts, static_cast<int>(kEvents / kBound));
  const auto snaps = log->SnapshotKeys().value();
  ASSERT_EQ(snaps.size(), static_cast<size_t>(cuts));
  // Events after the snapshot at or before each key (0 before the first snapshot).
  std::vector<EventKey> keys;
  ASSERT_TRUE(log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event&) {
    keys.push_back(k);
    return true;
  }).ok());
  size_t since = 0, s = 0;
  for (const EventKey& k : keys) {
    while (s < snaps.size() && snaps[s] < k) {
      since = 0;
      ++s;
    }
    if (s > 0) EXPECT_LE(++since, kBound + kBatch) << KeyToString(k);
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 5; ++i) {
    const uint64_t at = keys[keys.size() / 2 + rng() % (keys.size() / 2)].ts_ns;
    EXPECT_EQ(StateAt(*log, at).value(), StateAtByFullFold(*log, at).value()) << at;
  }
}

}  // namespace
}  // namespace twin
