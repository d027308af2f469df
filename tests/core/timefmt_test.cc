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

}  // namespace
}  // namespace twin
