// Config values found by tests/fuzz/config_fuzz: each is an error naming the key, not undefined
// behaviour (a double outside uint64's range was cast to it).
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "userspace/config.h"

namespace twin::capture {
namespace {

Status LoadText(const std::string& toml) {
  char p[] = "/tmp/twind-cfgborder-XXXXXX";
  int fd = mkstemp(p);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, toml.data(), toml.size()), static_cast<ssize_t>(toml.size()));
  close(fd);
  DaemonConfig cfg;
  Status s = LoadTomlConfig(p, true, &cfg);
  unlink(p);
  return s;
}

TEST(ConfigFuzzRegression, CompactIntervalOutsideItsRangeIsAnErrorNamingTheKey) {
  for (const char* v : {"-2.5", "0.0", "1e300", "nan", "inf", "-inf", "86401.0"}) {
    Status s = LoadText(std::string("compact_interval = ") + v + "\n");
    EXPECT_FALSE(s.ok()) << v;
    EXPECT_NE(s.message().find("compact_interval"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(LoadText("compact_interval = 2.5\n").ok());
}

TEST(ConfigFuzzRegression, CompactIntervalFlagIsBoundedToo) {
  DaemonConfig cfg;
  std::vector<std::string> args = {"twind", "--config", "/dev/null", "--compact-interval", "1e300"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &cfg), 2);
}

}  // namespace
}  // namespace twin::capture
