// twind's host configuration capture end to end: the real daemon with [host_config] pointed at
// a temporary tree (roots, dpkg dir, passwd, group) sees a config file added, edited and removed,
// a dpkg status replaced by rename (as dpkg does) and a user added, as they happen (inotify), and
// stores the file's bytes so that the log gives them back at each time; a secret is withheld.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <openssl/evp.h>

#include "eventlog/state.h"
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

void Put(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::binary | std::ios::trunc) << bytes;
  ASSERT_EQ(rename(tmp.c_str(), path.c_str()), 0) << path;
}

std::string Sha(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static const char* h = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += {h[md[i] >> 4], h[md[i] & 15]};
  return out;
}

std::string Status(const std::string& version) {
  return "Package: fidpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version +
         "\nConffiles:\n /PLACEHOLDER/app.conf 00000000000000000000000000000000\n\n";
}

TEST(HostConfigProbe, ChangesAreEventsAsTheyHappenAndContentsComeBackAtEachTime) {
  TWIN_REQUIRE_BPF();
  const std::string dir = MakeTempDir("hostcfg");
  const std::string root = dir + "/etc", dpkg = dir + "/dpkg";
  mkdir(root.c_str(), 0755);
  mkdir(dpkg.c_str(), 0755);
  mkdir((dpkg + "/info").c_str(), 0755);
  auto status = [&](const std::string& v) {
    std::string s = Status(v);
    s.replace(s.find("/PLACEHOLDER"), 12, root);
    return s;
  };
  Put(dpkg + "/status", status("1.0-1"));
  Put(root + "/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  Put(root + "/group", "root:x:0:\n");
  Put(root + "/secret.key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n");
  const std::string units = root + "/systemd/system";  // under the watched root, as /etc's is
  std::filesystem::create_directories(units);
  const std::string cfg = dir + "/twind.toml";
  std::ofstream(cfg) << "[host_config]\nroots = [\"" << root << "\"]\ndpkg_dir = \"" << dpkg
                     << "\"\npasswd_file = \"" << root << "/passwd\"\ngroup_file = \"" << root
                     << "/group\"\nunit_dirs = [\"" << units << "\"]\n";
  Twind d(dir + "/data");
  d.set_config(cfg);
  ASSERT_TRUE(d.Start());
  auto kind_attr = [](EventKind k, const char* key, std::string want, const char* op) {
    return [=](const Event& e) {
      return e.kind == k && AttrOf(e, key) == want && AttrOf(e, "op") == op;
    };
  };
  // Start-up: the package, the files and the accounts as they are.
  ASSERT_TRUE(WaitForEvent(d.data_dir(), kind_attr(EventKind::kPackage, "name", "fidpkg", "add")));
  auto secret = WaitForEvent(d.data_dir(), kind_attr(EventKind::kConfigFile, "path", root + "/secret.key", "add"));
  ASSERT_TRUE(secret);
  EXPECT_EQ(AttrOf(*secret, "content"), "withheld");
  EXPECT_EQ(AttrOf(*secret, "via"), "start-up");

  const std::string v1 = "port = 18312\n{{ lookup('pipe','id') }}\n";
  Put(root + "/app.conf", v1);
  auto add = WaitForEvent(d.data_dir(), kind_attr(EventKind::kConfigFile, "path", root + "/app.conf", "add"));
  ASSERT_TRUE(add) << d.Log();
  EXPECT_EQ(AttrOf(*add, "via"), "watch");  // inotify, not the 10 s reconcile
  EXPECT_EQ(AttrOf(*add, "sha256"), Sha(v1));
  EXPECT_EQ(AttrOf(*add, "package"), "fidpkg");
  EXPECT_EQ(AttrOf(*add, "differs"), "yes");
  const uint64_t t1 = add->ts_ns;

  const std::string v2 = "port = 18313\n";
  Put(root + "/app.conf", v2);
  auto change = WaitForEvent(d.data_dir(), kind_attr(EventKind::kConfigFile, "sha256", Sha(v2), "change"));
  ASSERT_TRUE(change) << d.Log();

  // dpkg replaces its status file by rename.
  Put(dpkg + "/status", status("1.1-1"));
  auto up = WaitForEvent(d.data_dir(), kind_attr(EventKind::kPackage, "version", "1.1-1", "change"));
  ASSERT_TRUE(up) << d.Log();
  EXPECT_EQ(AttrOf(*up, "action"), "upgrade");
  EXPECT_EQ(AttrOf(*up, "old_version"), "1.0-1");

  Put(root + "/passwd", "root:x:0:0:root:/root:/bin/bash\nfiduser:x:1234:1234::/home/fiduser:/bin/sh\n");
  ASSERT_TRUE(WaitForEvent(d.data_dir(), kind_attr(EventKind::kUser, "name", "fiduser", "add"))) << d.Log();

  // New directories are watched as they appear.
  mkdir((root + "/conf.d").c_str(), 0755);
  Put(root + "/conf.d/x.conf", "x\n");
  ASSERT_TRUE(WaitForEvent(d.data_dir(), kind_attr(EventKind::kConfigFile, "path", root + "/conf.d/x.conf", "add")));

  unlink((root + "/app.conf").c_str());
  ASSERT_TRUE(WaitForEvent(d.data_dir(), kind_attr(EventKind::kConfigFile, "path", root + "/app.conf", "remove")));

  // A timer unit added, a drop-in for its service and the timer enabled: unit_config records as
  // they happen (the watch, not the reconcile), the drop-in's bytes in the content store.
  const std::string timer = "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n";
  Put(units + "/fid.timer", timer);
  auto tu = WaitForEvent(d.data_dir(), kind_attr(EventKind::kUnitConfig, "path", units + "/fid.timer", "add"));
  ASSERT_TRUE(tu) << d.Log();
  EXPECT_EQ(AttrOf(*tu, "via"), "watch");
  EXPECT_EQ(AttrOf(*tu, "role"), "unit");
  EXPECT_EQ(AttrOf(*tu, "content"), "stored");
  EXPECT_EQ(AttrOf(*tu, "sha256"), Sha(timer));
  const std::string dropin = "[Service]\nEnvironment=X={{ lookup('pipe','id') }}\n";
  std::filesystem::create_directories(units + "/fid.service.d");
  Put(units + "/fid.service.d/override.conf", dropin);
  auto du = WaitForEvent(d.data_dir(), kind_attr(EventKind::kUnitConfig, "path", units + "/fid.service.d/override.conf", "add"));
  ASSERT_TRUE(du) << d.Log();
  EXPECT_EQ(AttrOf(*du, "role"), "dropin");
  EXPECT_EQ(AttrOf(*du, "unit"), "fid.service");
  std::filesystem::create_directories(units + "/timers.target.wants");
  ASSERT_EQ(symlink((units + "/fid.timer").c_str(), (units + "/timers.target.wants/fid.timer").c_str()), 0);
  auto wu = WaitForEvent(d.data_dir(), kind_attr(EventKind::kUnitConfig, "path", units + "/timers.target.wants/fid.timer", "add"));
  ASSERT_TRUE(wu) << d.Log();
  EXPECT_EQ(AttrOf(*wu, "via"), "watch");
  EXPECT_EQ(AttrOf(*wu, "role"), "wants");
  EXPECT_EQ(AttrOf(*wu, "by"), "timers.target");
  EXPECT_EQ(AttrOf(*wu, "target"), units + "/fid.timer");
  EXPECT_EQ(d.Stop(), 0);

  // The bytes at each time, from the content store.
  auto log = EventLog::OpenReader(d.data_dir());
  ASSERT_TRUE(log.ok());
  auto at1 = StateAt(**log, t1);
  ASSERT_TRUE(at1.ok());
  const ConfigFile& f1 = at1->config_files.at(root + "/app.conf");
  auto c1 = (*log)->GetContent(f1.sha256);
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_EQ(**c1, v1);
  auto c2 = (*log)->GetContent(Sha(v2));
  ASSERT_TRUE(c2.ok() && c2->has_value());
  EXPECT_EQ(**c2, v2);
  auto dc = (*log)->GetContent(Sha(dropin));
  ASSERT_TRUE(dc.ok() && dc->has_value());
  EXPECT_EQ(**dc, dropin);
  auto withheld = (*log)->GetContent(std::string(AttrOf(*secret, "sha256")));
  ASSERT_TRUE(withheld.ok());
  EXPECT_FALSE(withheld->has_value()) << "a secret's bytes are in the log";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twin::testing
