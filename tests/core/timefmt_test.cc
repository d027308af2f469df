#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/timefmt.h"

namespace twin {
namespace {

constexpr uint64_t kNow = 1764126727'000000000ull;  // 2025-11-26T03:12:07Z

uint64_t P(const char* s) {
  auto r = ParseTime(s, kNow);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? r.value() : 0;
}

TEST(ParseTime, Rfc3339) {
  EXPECT_EQ(P("2025-11-26T03:12:07Z"), kNow);
  EXPECT_EQ(P("2025-11-26T03:12:07.5Z"), kNow + 500000000);
  EXPECT_EQ(P("2025-11-26T03:12:07.000000001Z"), kNow + 1);
  EXPECT_EQ(P("2025-11-26T04:12:07+01:00"), kNow);
  EXPECT_EQ(P("2025-11-26 03:12:07Z"), kNow);
}

TEST(ParseTime, EpochAndRelative) {
  EXPECT_EQ(P("1764126727"), kNow);
  EXPECT_EQ(P("1764126727.25"), kNow + 250000000);
  EXPECT_EQ(P("1764126727000000000"), kNow);
  EXPECT_EQ(P("now"), kNow);
  EXPECT_EQ(P("-5m"), kNow - 300'000'000'000ull);
  EXPECT_EQ(P("-2h"), kNow - 7200'000'000'000ull);
  EXPECT_EQ(P("-500ms"), kNow - 500'000'000ull);
  EXPECT_EQ(P("+1s"), kNow + 1'000'000'000ull);
}

TEST(ParseTime, BadInputsSayWhatToDo) {
  for (const char* bad : {"", "yesterday", "2025-13-01T00:00:00Z", "2025-11-26T03:12:07",
                          "-5x", "1764126727000", "2025-11-26T03:12:07.1234567890Z", "-"}) {
    auto r = ParseTime(bad, kNow);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos);
  }
}

TEST(FormatTime, Rfc3339NsAndIsoMicros) {
  EXPECT_EQ(FormatRfc3339Ns(kNow + 123456789), "2025-11-26T03:12:07.123456789Z");
  EXPECT_EQ(FormatIso8601Micros(kNow + 123456789), "2025-11-26T03:12:07.123456+00:00");
  EXPECT_EQ(P(FormatRfc3339Ns(kNow + 42).c_str()), kNow + 42);
}

// The formatters compute the civil date themselves: check them against gmtime + strftime
// across the whole uint64 ns range, around every day boundary of leap years and in shuffled
// order (the per-thread cache of the last second must never leak into another second).
TEST(FormatTime, AgreesWithGmtimeEverywhere) {
  auto reference = [](uint64_t ns, bool micros) {
    const time_t secs = static_cast<time_t>(ns / 1000000000ull);
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    char frac[16];
    if (micros) {
      snprintf(frac, sizeof frac, ".%06llu+00:00", static_cast<unsigned long long>(ns / 1000 % 1000000));
    } else {
      snprintf(frac, sizeof frac, ".%09lluZ", static_cast<unsigned long long>(ns % 1000000000));
    }
    return std::string(buf) + frac;
  };
  std::mt19937_64 rng(5);
  std::vector<uint64_t> ts = {0, 1, 999999999, 1000000000, UINT64_MAX, UINT64_MAX - 1};
  for (int i = 0; i < 200000; ++i) ts.push_back(rng());
  // Day boundaries 1999-2101 (1999-12-31, 2000-02-29, 2100-03-01, ...).
  for (uint64_t day = 10956; day < 48000; day += 1) {
    const uint64_t s = day * 86400;
    for (uint64_t d : {s - 1, s, s + 1}) ts.push_back(d * 1000000000ull + rng() % 1000000000ull);
  }
  std::shuffle(ts.begin(), ts.end(), rng);
  for (uint64_t t : ts) {
    ASSERT_EQ(FormatRfc3339Ns(t), reference(t, false)) << t;
    ASSERT_EQ(FormatIso8601Micros(t), reference(t, true)) << t;
  }
}

}  // namespace
}  // namespace twin
