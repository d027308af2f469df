// The fold engine (StateFolder: verified records, lazy process images) against the independent
// reference fold over decoded events (tests/core/reference_fold.h).
#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/synth.h"
#include "tests/core/reference_fold.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

struct Corpus {
  std::vector<Event> events;
  std::vector<std::string> records;
  std::vector<EventKey> keys;
};

Corpus MakeCorpus(uint64_t seed, size_t n) {
  SynthOptions o;
  o.seed = seed;
  o.hostile_strings = true;
  SynthGenerator g(o);
  Corpus c;
  g.Fill(c.events, n);
  for (size_t i = 0; i < n; ++i) {
    c.records.push_back(EncodeEventToString(c.events[i]));
    c.keys.push_back({c.events[i].ts_ns, i});
  }
  return c;
}

State Reference(const Corpus& c, size_t from, size_t to, State s = {}) {
  for (size_t i = from; i < to; ++i) testing::ReferenceFold(s, c.events[i], c.keys[i]);
  return s;
}

TEST(StateFolder, EqualsReferenceFoldFromEmptyAndFromABaseState) {
  for (uint64_t seed : {11, 12, 13}) {
    const Corpus c = MakeCorpus(seed, 20000);
    const State ref = Reference(c, 0, c.events.size());
    ASSERT_GT(ref.processes.size(), 0u);

    StateFolder all;
    for (size_t i = 0; i < c.records.size(); ++i) ASSERT_TRUE(all.Apply(c.keys[i], c.records[i]).ok());
    EXPECT_EQ(all.Finish(), ref) << "seed " << seed;

    // From a base state half way: processes of the base keep their images through forks.
    const size_t half = c.events.size() / 2;
    StateFolder tail(Reference(c, 0, half));
    for (size_t i = half; i < c.records.size(); ++i) {
      ASSERT_TRUE(tail.Apply(c.keys[i], c.records[i]).ok());
    }
    EXPECT_EQ(tail.Finish(), ref) << "seed " << seed;
  }
}

TEST(StateFolder, ReclaimingTheRecordArenaKeepsTheStateExact) {
  const Corpus c = MakeCorpus(21, 20000);
  // A 1-byte budget materialises the live processes before every image-setting record.
  StateFolder f(State{}, /*max_arena_bytes=*/1);
  for (size_t i = 0; i < c.records.size(); ++i) ASSERT_TRUE(f.Apply(c.keys[i], c.records[i]).ok());
  EXPECT_EQ(f.Finish(), Reference(c, 0, c.events.size()));
}

TEST(StateFolder, CorruptRecordIsRejectedAndLeavesTheStateAlone) {
  const Corpus c = MakeCorpus(31, 2000);
  StateFolder f;
  for (size_t i = 0; i < c.records.size(); ++i) {
    if (i == 1000) {
      std::string bad = c.records[i];
      bad[4] = static_cast<char>(0x7f);  // root offset points outside the buffer
      Status s = f.Apply(c.keys[i], bad);
      EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
      Status empty = f.Apply(c.keys[i], std::string_view());
      EXPECT_EQ(empty.code(), Status::Code::kCorruption);
    }
    ASSERT_TRUE(f.Apply(c.keys[i], c.records[i]).ok());
  }
  EXPECT_EQ(f.Finish(), Reference(c, 0, c.events.size()));
}

// FoldRange hands batches of verified records to a second thread: a range of many batches,
// from an empty state and from a base, must fold to exactly the reference state.
TEST(StateFolder, FoldRangeOverManyBatchesEqualsReference) {
  testing::TempDir t;
  auto log = std::move(EventLog::OpenWriter(t.path()).value());
  const Corpus c = MakeCorpus(41, 30000);
  ASSERT_TRUE(log->Append(c.events).ok());
  std::vector<KeyedEvent> stored;
  ASSERT_TRUE(log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    stored.push_back({k, e});
    return true;
  }).ok());
  ASSERT_EQ(stored.size(), c.events.size());
  State ref;
  for (const auto& ke : stored) testing::ReferenceFold(ref, ke.event, ke.key);

  StateFolder all;
  ASSERT_TRUE(FoldRange(*log, {0, 0}, {UINT64_MAX, UINT64_MAX}, all).ok());
  EXPECT_EQ(all.Finish(), ref);

  State half;
  for (size_t i = 0; i < 12345; ++i) testing::ReferenceFold(half, stored[i].event, stored[i].key);
  StateFolder tail(half, /*max_arena_bytes=*/1 << 20);  // also reclaims along the way
  ASSERT_TRUE(FoldRange(*log, stored[12345].key, {UINT64_MAX, UINT64_MAX}, tail).ok());
  EXPECT_EQ(tail.Finish(), ref);
}

TEST(StateFolder, CorruptRecordDeepInARangeEndsTheFoldNamingItsKey) {
  testing::TempDir t;
  std::string bad_key;
  {
    auto log = std::move(EventLog::OpenWriter(t.path()).value());
    ASSERT_TRUE(log->Append(MakeCorpus(42, 20000).events).ok());
  }
  {
    testing::RawDb raw(t.path());
    auto rows = raw.All(raw.events());
    ASSERT_EQ(rows.size(), 20000u);
    raw.Put(raw.events(), rows[15000].first, rows[15000].second.substr(0, 32) + "garbage!");
    EventKey k;
    ASSERT_TRUE(DecodeKey(rows[15000].first, &k));
    bad_key = KeyToString(k);
  }
  auto log = std::move(EventLog::OpenReader(t.path()).value());
  StateFolder f;
  Status s = FoldRange(*log, {0, 0}, {UINT64_MAX, UINT64_MAX}, f);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find(bad_key), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("twin-replay verify"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace twin
