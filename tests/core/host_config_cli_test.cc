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
  EXPECT_NE(u.err.find("not a captured config or unit file"), std::string::npos) << u.err;
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

// Unit files of every type, drop-ins and enablement links: in state --json / the table, through a
// snapshot (kept apart with the rest of the host configuration), in diff and events; a unit file
// outside /etc gives its bytes with state --file, a package's file says which package it is.
TEST_F(HostConfigCli, UnitConfigShowsInStateDiffEventsAndSnapshots) {
  const std::string dir = t_.sub("units");
  const std::string timer = "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n";
  const std::string dropin = "[Service]\nEnvironment=A={{ lookup('pipe','id') }}\n";
  const std::string dropin2 = "[Service]\nNice=5\n";
  uint64_t ts = ts_, t1 = 0, t2 = 0;
  {
    auto log = std::move(EventLog::OpenWriter(dir).value());
    Compactor c(*log);
    auto add = [&](Event e) {
      e.ts_ns = ts += 1'000'000'000;
      ASSERT_TRUE(log->Append(e).ok());
    };
    ASSERT_TRUE(log->PutContent(Sha(timer), timer).ok());
    ASSERT_TRUE(log->PutContent(Sha(dropin), dropin).ok());
    ASSERT_TRUE(log->PutContent(Sha(dropin2), dropin2).ok());
    const std::string local = "/usr/local/lib/systemd/system";
    UnitConfig t{local + "/backup.timer", local, "backup.timer", "unit", "", "file", 0644, 0, 0,
                 timer.size(), Sha(timer), "stored", "", "", "", "", 0};
    UnitConfig w{"/etc/systemd/system/timers.target.wants/backup.timer", "/etc/systemd/system",
                 "backup.timer", "wants", "timers.target", "symlink", 0777, 0, 0, 0,
                 Sha(t.path), "", "", "", "", t.path, 0};
    UnitConfig d{"/etc/systemd/system/backup.service.d/override.conf", "/etc/systemd/system",
                 "backup.service", "dropin", "", "file", 0644, 0, 0, dropin.size(), Sha(dropin),
                 "stored", "", "", "", "", 0};
    UnitConfig p{"/lib/systemd/system/memcached.service", "/lib/systemd/system",
                 "memcached.service", "unit", "", "file", 0644, 0, 0, 300, Sha("shipped"),
                 "package", "memcached", "1.6.18-1+deb12u1", "no", "", 0};
    for (const UnitConfig& x : {t, w, d, p}) add(UnitConfigEvent("add", x));
    t1 = ts;
    ASSERT_TRUE(c.RunOnce(ts).ok());
    d.sha256 = Sha(dropin2);
    d.size = dropin2.size();
    add(UnitConfigEvent("change", d));
    add(UnitConfigEvent("remove", w));
    t2 = ts;
    ASSERT_TRUE(c.RunOnce(ts).ok());
    Event x;
    x.kind = EventKind::kDaemonStart;
    add(x);
    ASSERT_TRUE(c.RunOnce(ts).ok());  // the unit config unchanged since the one before
  }
  auto log = std::move(EventLog::OpenReader(dir).value());
  auto snap = log->SnapshotAtOrBefore({UINT64_MAX, UINT64_MAX});
  ASSERT_TRUE(snap.ok() && snap->has_value());
  EXPECT_EQ((*snap)->state.unit_config.size(), 3u) << "unit config read back through the snapshot";
  EXPECT_EQ((*snap)->state.unit_config.at("/etc/systemd/system/backup.service.d/override.conf").sha256,
            Sha(dropin2));
  log.reset();
  {
    testing::RawDb raw(dir);
    auto snaps = raw.All(raw.snapshots());
    ASSERT_EQ(snaps.size(), 3u);
    EXPECT_EQ(snaps.back().second.find("backup.service.d"), std::string::npos)
        << "unit config inline in a snapshot";
  }

  CmdRun j = Replay(t_, "state --json --data-dir " + dir + " --at " + std::to_string(t1));
  ASSERT_EQ(j.code, 0) << j.err;
  auto js = nlohmann::json::parse(j.out);
  ASSERT_EQ(js["unit_config"].size(), 4u) << j.out;
  std::map<std::string, nlohmann::json> by_path;
  for (const auto& x : js["unit_config"]) by_path[x["path"]] = x;
  const auto& wj = by_path["/etc/systemd/system/timers.target.wants/backup.timer"];
  EXPECT_EQ(wj["role"], "wants");
  EXPECT_EQ(wj["by"], "timers.target");
  EXPECT_EQ(wj["unit"], "backup.timer");
  EXPECT_EQ(wj["target"], "/usr/local/lib/systemd/system/backup.timer");
  const auto& pj = by_path["/lib/systemd/system/memcached.service"];
  EXPECT_EQ(pj["content"], "package");
  EXPECT_EQ(pj["package"], "memcached");
  EXPECT_EQ(pj["version"], "1.6.18-1+deb12u1");
  CmdRun t = Replay(t_, "state --data-dir " + dir + " --at " + std::to_string(t1));
  EXPECT_NE(t.out.find("Unit files, drop-ins and links (4)"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("wants timers.target"), std::string::npos) << t.out;
  CmdRun f = Replay(t_, "state --data-dir " + dir + " --at " + std::to_string(t1) +
                            " --file /usr/local/lib/systemd/system/backup.timer");
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out, timer);
  CmdRun fp = Replay(t_, "state --data-dir " + dir + " --file /lib/systemd/system/memcached.service");
  EXPECT_EQ(fp.code, 1);
  EXPECT_NE(fp.err.find("package memcached 1.6.18-1+deb12u1"), std::string::npos) << fp.err;

  CmdRun dj = Replay(t_, "diff --json --data-dir " + dir + " " + std::to_string(t1) + " " + std::to_string(t2));
  ASSERT_EQ(dj.code, 0) << dj.err;
  auto dd = nlohmann::json::parse(dj.out);
  ASSERT_EQ(dd["unit_config"]["changed"].size(), 1u) << dj.out;
  EXPECT_EQ(dd["unit_config"]["changed"][0]["after"]["sha256"], Sha(dropin2));
  EXPECT_EQ(dd["unit_config"]["removed"][0]["role"], "wants");
  CmdRun e = Replay(t_, "events --kind unit_config --data-dir " + dir);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("add wants timers.target -> backup.timer"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("from memcached 1.6.18-1+deb12u1"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("remove wants timers.target -> backup.timer"), std::string::npos) << e.out;
  CmdRun ej = Replay(t_, "events --json --kind unit_config --data-dir " + dir);
  size_t lines = 0;
  for (char ch : ej.out) lines += ch == '\n';
  EXPECT_EQ(lines, 6u);
}

}  // namespace
}  // namespace twin
