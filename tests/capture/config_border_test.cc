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

Status LoadInto(const std::string& toml, DaemonConfig* cfg) {
  char p[] = "/tmp/twind-cfgfleet-XXXXXX";
  int fd = mkstemp(p);
  EXPECT_EQ(write(fd, toml.data(), toml.size()), static_cast<ssize_t>(toml.size()));
  close(fd);
  Status s = LoadTomlConfig(p, true, cfg);
  unlink(p);
  return s;
}

TEST(FleetConfig, FleetTableIsReadAndCheckedKeyByKey) {
  DaemonConfig cfg;
  ASSERT_TRUE(LoadInto("[fleet]\nendpoints = [\"http://127.0.0.1:23790\"]\nlabels = { role = \"web\" }\n"
                       "lease_ttl = 20\n", &cfg).ok());
  EXPECT_TRUE(cfg.fleet.enabled());
  EXPECT_EQ(cfg.fleet.labels, (fleet::Labels{{"role", "web"}}));
  EXPECT_EQ(cfg.fleet.lease_ttl_s, 20u);
  EXPECT_TRUE(ValidateConfig(cfg).ok());
  for (const char* bad : {"[fleet]\nendpoint = []\n", "[fleet]\nendpoints = \"http://127.0.0.1:1\"\n",
                          "[fleet]\nendpoints = [\"ftp://x\"]\n", "[fleet]\nlease_ttl = 1\n",
                          "[fleet]\nlabels = { \"bad key\" = \"x\" }\n", "fleet = 3\n"}) {
    DaemonConfig c;
    Status s = LoadInto(bad, &c);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("fleet"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
  DaemonConfig off;
  EXPECT_FALSE(off.fleet.enabled());  // off unless configured
}

TEST(FleetConfig, FleetFlagsOverrideTheFile) {
  DaemonConfig cfg;
  std::vector<std::string> args = {"twind", "--config", "/dev/null", "--fleet-endpoints",
                                   "http://127.0.0.1:23790,http://127.0.0.1:23792", "--fleet-label",
                                   "role=web", "--fleet-label", "site=lab", "--fleet-host-id", "h1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &cfg), -1);
  EXPECT_EQ(cfg.fleet.endpoints.size(), 2u);
  EXPECT_EQ(cfg.fleet.labels, (fleet::Labels{{"role", "web"}, {"site", "lab"}}));
  EXPECT_EQ(cfg.fleet.host_id, "h1");
  std::vector<std::string> bad = {"twind", "--config", "/dev/null", "--fleet-endpoints", "127.0.0.1:23790"};
  std::vector<char*> bargv;
  for (auto& a : bad) bargv.push_back(a.data());
  DaemonConfig c2;
  EXPECT_EQ(ParseCommandLine(static_cast<int>(bargv.size()), bargv.data(), &c2), 2);
}

}  // namespace
}  // namespace twin::capture
