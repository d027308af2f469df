// twin-replay on the host-configuration records: state --at shows packages, config files, users
// and groups (table and --json), state --file gives a config file's bytes at T from the content
// store, diff and events show the changes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <openssl/evp.h>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "format/codec.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using testing::CmdRun;
using testing::Replay;

std::string Sha(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
}

class HostConfigCli : public ::testing::Test {
 protected:
  const std::string v1_ = "port = 11211\n{{ lookup('pipe','touch /tmp/pwned') }}\n!!python/object:x\n";
  const std::string v2_ = std::string("port = 18311\n\0binary\xff\n", 21);
  const std::string path_ = "/etc/memcached.conf";
  const std::string hostile_path_ = "/etc/evil\nname {{ x }}";

  void SetUp() override {
    dir_ = t_.sub("data");
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Compactor c(*log);
    auto add = [&](Event e) {
      e.ts_ns = ts_ += 1'000'000'000;
      ASSERT_TRUE(log->Append(e).ok());
    };
    ASSERT_TRUE(log->PutContent(Sha(v1_), v1_).ok());
    ASSERT_TRUE(log->PutContent(Sha(v1_), v1_).ok());  // once is enough; twice is harmless
    add(PackageEvent("add", Package{"memcached", "amd64", "1.6.18-1", "install ok installed", 0}));
    ConfigFile f{path_, "file", 0644, 0, 0, v1_.size(), Sha(v1_), "stored", "memcached", "yes", "", 0};
    add(ConfigFileEvent("add", f));
    ConfigFile h = f;
    h.path = hostile_path_;
    add(ConfigFileEvent("add", h));
    add(ConfigFileEvent("add", ConfigFile{"/etc/shadow", "file", 0640, 0, 42, 100, Sha("x"), "withheld", "", "", "", 0}));
    add(UserEvent("add", User{"alice", 1001, 1001, "", "/home/alice", "/bin/sh", 0}));
    add(GroupEvent("add", Group{"adm", 4, {"alice", "syslog"}, 0}));
    t1_ = ts_;
    ASSERT_TRUE(c.RunOnce(ts_).ok());  // a snapshot in between: state --at folds onto it
    ASSERT_TRUE(log->PutContent(Sha(v2_), v2_).ok());
    f.sha256 = Sha(v2_);
    f.size = v2_.size();
    add(ConfigFileEvent("change", f));
    Event up = PackageEvent("change", Package{"memcached", "amd64", "1.6.18-1+deb12u1", "install ok installed", 0});
    up.attrs.push_back({"old_version", "1.6.18-1"});
    add(up);
    add(UserEvent("remove", User{"alice", 1001, 1001, "", "/home/alice", "/bin/sh", 0}));
    t2_ = ts_;
  }
  testing::TempDir t_;
  std::string dir_;
  uint64_t ts_ = 1'700'000'000'000'000'000ull, t1_ = 0, t2_ = 0;
};

TEST_F(HostConfigCli, StateFileGivesTheBytesAtEachTime) {
  CmdRun a = Replay(t_, "state --data-dir " + dir_ + " --at " + std::to_string(t1_) + " --file " + path_);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, v1_);
  CmdRun b = Replay(t_, "state --data-dir " + dir_ + " --at " + std::to_string(t2_) + " --file " + path_);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(b.out, v2_);
  CmdRun j = Replay(t_, "state --json --data-dir " + dir_ + " --at " + std::to_string(t1_) +
                            " --file \"$(printf '/etc/evil\\nname {{ x }}')\"");
  ASSERT_EQ(j.code, 0) << j.err;
  auto js = nlohmann::json::parse(j.out);
  EXPECT_EQ(js["file"]["path"], hostile_path_);
  EXPECT_EQ(Base64Decode(js.value("content_base64", "")), v1_);
}

TEST_F(HostConfigCli, WithheldAndUnknownFilesSayWhyAndFail) {
  CmdRun s = Replay(t_, "state --data-dir " + dir_ + " --file /etc/shadow");
  EXPECT_EQ(s.code, 1);
  EXPECT_TRUE(s.out.empty());
  EXPECT_NE(s.err.find("withheld"), std::string::npos) << s.err;
  CmdRun u = Replay(t_, "state --data-dir " + dir_ + " --file /etc/nope");
  EXPECT_EQ(u.code, 1);
  EXPECT_NE(u.err.find("not a captured config file"), std::string::npos) << u.err;
}

TEST_F(HostConfigCli, StateAndDiffShowPackagesFilesUsersGroups) {
  CmdRun j = Replay(t_, "state --json --data-dir " + dir_ + " --at " + std::to_string(t1_));
  ASSERT_EQ(j.code, 0) << j.err;
  auto js = nlohmann::json::parse(j.out);
  ASSERT_EQ(js["packages"].size(), 1u);
  EXPECT_EQ(js["packages"][0]["version"], "1.6.18-1");
  EXPECT_EQ(js["config_files"].size(), 3u);
  EXPECT_EQ(js["users"][0]["name"], "alice");
  EXPECT_EQ(js["groups"][0]["members"][1], "syslog");
  CmdRun t = Replay(t_, "state --data-dir " + dir_ + " --at " + std::to_string(t1_));
  EXPECT_NE(t.out.find("Packages (1)"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("/etc/evil\\nname"), std::string::npos) << "newline escaped in tables";
  CmdRun d = Replay(t_, "diff --json --data-dir " + dir_ + " " + std::to_string(t1_) + " " + std::to_string(t2_));
  ASSERT_EQ(d.code, 0) << d.err;
  auto dj = nlohmann::json::parse(d.out);
  EXPECT_EQ(dj["packages"]["changed"][0]["after"]["version"], "1.6.18-1+deb12u1");
  EXPECT_EQ(dj["config_files"]["changed"][0]["after"]["sha256"], Sha(v2_));
  EXPECT_EQ(dj["users"]["removed"][0]["name"], "alice");
  CmdRun e = Replay(t_, "events --json --kind package,config_file,user,group --data-dir " + dir_);
  ASSERT_EQ(e.code, 0) << e.err;
  size_t lines = 0;
  for (char ch : e.out) lines += ch == '\n';
  EXPECT_EQ(lines, 9u);
  CmdRun et = Replay(t_, "events --kind package --data-dir " + dir_);
  EXPECT_NE(et.out.find("(was 1.6.18-1)"), std::string::npos) << et.out;
}

// Snapshots keep the host configuration apart, once per distinct content: a snapshot record does
// not hold the config file paths, and the state read back through it is whole.
TEST_F(HostConfigCli, SnapshotsKeepTheHostConfigurationOnceAndReadItBack) {
  {
    auto log = std::move(EventLog::OpenWriter(dir_).value());
    Compactor c(*log);
    Event e = UserEvent("add", User{"carol", 1002, 1002, "", "/home/carol", "/bin/sh", 0});
    e.ts_ns = ts_ += 1'000'000'000;
    ASSERT_TRUE(log->Append(e).ok());
    ASSERT_TRUE(c.RunOnce(ts_).ok());
    Event x;
    x.kind = EventKind::kDaemonStart;
    x.ts_ns = ts_ += 1'000'000'000;
    ASSERT_TRUE(log->Append(x).ok());
    ASSERT_TRUE(c.RunOnce(ts_).ok());  // same host configuration as the one before
  }
  testing::RawDb raw(dir_);
  size_t blobs = 0;
  for (const auto& [k, v] : raw.All(raw.meta())) blobs += k.rfind("content/", 0) == 0;
  // v1 and v2, and two distinct host configurations: at t1, and after carol (the last two
  // snapshots share it).
  EXPECT_EQ(blobs, 4u);
  auto snaps = raw.All(raw.snapshots());
  ASSERT_EQ(snaps.size(), 3u);
  // The last one changed nothing of it: neither its state nor its diff holds a path.
  EXPECT_EQ(snaps.back().second.find("/etc/memcached.conf"), std::string::npos)
      << "host configuration inline";
  auto log = std::move(EventLog::OpenReader(dir_).value());
  auto last = log->SnapshotAtOrBefore({UINT64_MAX, UINT64_MAX});
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->state.config_files.size(), 3u);
  EXPECT_TRUE((*last)->state.users.count("carol"));
  EXPECT_EQ((*last)->state.packages.at("memcached:amd64").version, "1.6.18-1+deb12u1");
}

}  // namespace
}  // namespace twin
