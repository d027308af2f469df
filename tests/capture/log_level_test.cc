// An unknown log level is an error, from the flag and from the TOML file alike: spdlog's
// from_str would turn it into "off" and the daemon would run without a word.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "userspace/config.h"
#include "userspace/log_level.h"

namespace twin::capture {
namespace {

int Parse(std::vector<std::string> args, DaemonConfig* cfg) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data(), cfg);
}

class LogLevelConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char p[] = "/tmp/twind-loglevel-XXXXXX";
    int fd = mkstemp(p);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = p;
  }
  void TearDown() override { unlink(path_.c_str()); }
  void WriteToml(const std::string& text) {
    FILE* f = fopen(path_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text.c_str(), f);
    fclose(f);
  }
  std::string path_;
};

TEST(LogLevel, KnownNamesMapToSpdlogLevels) {
  EXPECT_EQ(ParseLogLevel("trace").value(), spdlog::level::trace);
  EXPECT_EQ(ParseLogLevel("debug").value(), spdlog::level::debug);
  EXPECT_EQ(ParseLogLevel("info").value(), spdlog::level::info);
  EXPECT_EQ(ParseLogLevel("warn").value(), spdlog::level::warn);
  EXPECT_EQ(ParseLogLevel("error").value(), spdlog::level::err);
  EXPECT_EQ(ParseLogLevel("critical").value(), spdlog::level::critical);
  EXPECT_EQ(ParseLogLevel("off").value(), spdlog::level::off);
}

TEST(LogLevel, UnknownNamesAreErrorsNotOff) {
  for (const char* bad : {"verbose", "", "INFO ", "inf", "debug\n"}) {
    auto r = ParseLogLevel(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("trace, debug, info"), std::string::npos);
  }
}

TEST_F(LogLevelConfig, UnknownFlagValueRefusesToStart) {
  WriteToml("");
  DaemonConfig cfg;
  EXPECT_EQ(Parse({"twind", "--config", path_, "--log-level", "verbose"}, &cfg), 2);
  DaemonConfig ok;
  EXPECT_EQ(Parse({"twind", "--config", path_, "--log-level", "debug"}, &ok), -1);
  EXPECT_EQ(ok.log_level, spdlog::level::debug);
}

TEST_F(LogLevelConfig, UnknownTomlValueRefusesToStart) {
  WriteToml("log_level = \"loud\"\n");
  DaemonConfig cfg;
  EXPECT_EQ(Parse({"twind", "--config", path_}, &cfg), 2);
  // A valid flag overrides the file's bad value: the daemon would run with the flag's.
  DaemonConfig over;
  EXPECT_EQ(Parse({"twind", "--config", path_, "--log-level", "warn"}, &over), -1);
}

}  // namespace
}  // namespace twin::capture
