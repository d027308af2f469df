// The fold engine (StateFolder: verified records, lazy process images) against the reference
// Fold over decoded events.
#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/synth.h"

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
  for (size_t i = from; i < to; ++i) Fold(s, c.events[i], c.keys[i]);
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

}  // namespace
}  // namespace twin
