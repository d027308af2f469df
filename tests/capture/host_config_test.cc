// Host configuration capture without privileges: the dpkg status parser, Debian version order,
// passwd/group parsing, the secret rules, the config scanner on a temp tree and the planner.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "eventlog/state.h"
#include "tests/core/test_util.h"
#include "userspace/host_config.h"
#include "userspace/host_config_watch.h"
#include "eventlog/chain.h"
#include "userspace/reconcile.h"

namespace twin::capture {
namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

constexpr const char* kStatus =
    "Package: memcached\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Architecture: amd64\n"
    "Version: 1.6.18-1\n"
    "Conffiles:\n"
    " /etc/memcached.conf 0123456789abcdef0123456789abcdef\n"
    " /etc/old.conf fedcba9876543210fedcba9876543210 obsolete\n"
    "Description: a daemon\n"
    " with a continuation line: Status: fake\n"
    "\n"
    "Package: gone\n"
    "Status: purge ok not-installed\n"
    "Architecture: amd64\n"
    "\n"
    "Package: libfoo1\n"
    "Status: deinstall ok config-files\n"
    "Architecture: all\n"
    "Version: 2:0.9~rc1\n";

TEST(DpkgStatus, ParsesPackagesAndConffilesAndSkipsNotInstalled) {
  DpkgDb db = ParseDpkgStatus(kStatus);
  ASSERT_EQ(db.packages.size(), 2u);
  EXPECT_EQ(db.packages[0].name, "memcached");
  EXPECT_EQ(db.packages[0].arch, "amd64");
  EXPECT_EQ(db.packages[0].version, "1.6.18-1");
  EXPECT_EQ(db.packages[0].status, "install ok installed");
  EXPECT_EQ(db.packages[1].key(), "libfoo1:all");
  EXPECT_EQ(db.packages[1].status, "deinstall ok config-files");
  ASSERT_EQ(db.conffiles.size(), 2u);
  EXPECT_EQ(db.conffiles["/etc/memcached.conf"].package, "memcached");
  EXPECT_EQ(db.conffiles["/etc/memcached.conf"].md5, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(db.conffiles["/etc/old.conf"].md5, "fedcba9876543210fedcba9876543210");
}

TEST(DebianVersion, OrdersAsDpkgDoes) {
  // Pairs checked with `dpkg --compare-versions A lt B` semantics.
  EXPECT_LT(CompareDebianVersions("1.0~rc1", "1.0"), 0);
  EXPECT_LT(CompareDebianVersions("1.2.9", "1.2.10"), 0);
  EXPECT_LT(CompareDebianVersions("1.0-1", "1.0-2"), 0);
  EXPECT_LT(CompareDebianVersions("2.0", "1:1.0"), 0);
  EXPECT_LT(CompareDebianVersions("1.0", "1.0a"), 0);
  EXPECT_LT(CompareDebianVersions("1.0", "1.0-0.1"), 0);
  EXPECT_LT(CompareDebianVersions("1.6.18-1", "1.6.18-1+deb12u1"), 0);
  EXPECT_GT(CompareDebianVersions("1.22.1-9", "1.22.1-8"), 0);
  EXPECT_EQ(CompareDebianVersions("0:1.0-1", "1.0-1"), 0);
  EXPECT_EQ(CompareDebianVersions("1.0", "1.0"), 0);
}

TEST(DebianVersion, AgreesWithDpkgCompareVersions) {
  if (access("/usr/bin/dpkg", X_OK) != 0) GTEST_SKIP() << "no dpkg";
  const char* v[] = {"1.0", "1.0~rc1", "1:0.9", "1.0-1", "1.0-1+b1", "1.0a", "1.0.1", "0.99~~", "2.0~"};
  for (const char* a : v) {
    for (const char* b : v) {
      const std::string cmd = std::string("dpkg --compare-versions '") + a + "' lt '" + b + "'";
      const bool lt = std::system(cmd.c_str()) == 0;
      EXPECT_EQ(lt, CompareDebianVersions(a, b) < 0) << a << " vs " << b;
    }
  }
}

TEST(Accounts, PasswdNeverKeepsThePasswordField) {
  auto users = ParsePasswd(
      "root:$6$saltsalt$HASHHASH:0:0:root:/root:/bin/bash\n"
      "# comment\n"
      "broken:x:notanumber:0::/:/bin/sh\n"
      "+nis\n"
      "memcache:x:105:110:Memcached,,,:/nonexistent:/usr/sbin/nologin\n");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "root");
  EXPECT_EQ(users[0].home, "/root");
  EXPECT_EQ(users[1].uid, 105u);
  EXPECT_EQ(users[1].gecos, "Memcached,,,");
  for (const User& u : users) {
    Event e = UserEvent("add", u);
    for (const auto& [k, val] : e.attrs) EXPECT_EQ(val.find("HASH"), std::string::npos) << k;
  }
  auto groups = ParseGroup("adm:x:4:syslog,alice\nnobody:x:65534:\n");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].members, (std::vector<std::string>{"syslog", "alice"}));
  EXPECT_TRUE(groups[1].members.empty());
}

TEST(Secrets, DefaultDenylistAndPrivateKeysByContent) {
  const auto g = DefaultSecretPaths();
  EXPECT_TRUE(MatchesSecretPath("/etc/shadow", g));
  EXPECT_TRUE(MatchesSecretPath("/etc/shadow-", g));
  EXPECT_TRUE(MatchesSecretPath("/etc/gshadow", g));
  EXPECT_TRUE(MatchesSecretPath("/etc/ssh/ssh_host_ed25519_key", g));
  EXPECT_FALSE(MatchesSecretPath("/etc/ssh/ssh_host_ed25519_key.pub", g));
  EXPECT_TRUE(MatchesSecretPath("/etc/ssl/private/a/b.pem", g));
  EXPECT_FALSE(MatchesSecretPath("/etc/passwd", g));
  EXPECT_FALSE(MatchesSecretPath("/etc/shadowsocks/x/y", {"/etc/shadow*"}));  // '*' stops at '/'
  EXPECT_TRUE(HasPrivateKeyBlock("x\n-----BEGIN RSA PRIVATE KEY-----\nMII..."));
  EXPECT_TRUE(HasPrivateKeyBlock("-----BEGIN OPENSSH PRIVATE KEY-----"));
  EXPECT_TRUE(HasPrivateKeyBlock("-----BEGIN PRIVATE KEY-----"));
  EXPECT_FALSE(HasPrivateKeyBlock("-----BEGIN CERTIFICATE-----\n...PRIVATE KEY-----"));
  EXPECT_FALSE(HasPrivateKeyBlock("-----BEGIN PUBLIC KEY-----"));
}

class Scanner : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = t_.sub("etc");
    dpkg_ = t_.sub("dpkg");
    mkdir(root_.c_str(), 0755);
    mkdir((root_ + "/sub").c_str(), 0755);
    mkdir(dpkg_.c_str(), 0755);
    mkdir((dpkg_ + "/info").c_str(), 0755);
    o_.roots = {root_};
    o_.dpkg_dir = dpkg_;
    o_.passwd_file = root_ + "/passwd";
    o_.group_file = root_ + "/group";
    o_.max_content_bytes = 1024;
    o_.secret_paths = {root_ + "/shadow*"};
  }
  testing::TempDir t_;
  std::string root_, dpkg_;
  HostConfigOptions o_;
};

TEST_F(Scanner, FindsFilesWithMetadataSecretsAndPackageDifferences) {
  const std::string conf = "-l 127.0.0.1\n";
  Write(root_ + "/app.conf", conf);
  chmod((root_ + "/app.conf").c_str(), 0640);
  Write(root_ + "/shadow", "root:$6$x:1::::::\n");
  Write(root_ + "/sub/key.pem", "-----BEGIN EC PRIVATE KEY-----\nabc\n");
  Write(root_ + "/big", std::string(2000, 'x'));
  Write(root_ + "/name\nwith newline {{ x }}", "{{ lookup('pipe','id') }}\n!!python/object:os.system\n");
  ASSERT_EQ(symlink("/usr/share/x", (root_ + "/link").c_str()), 0);
  Write(root_ + "/listed", "shipped\n");
  // app.conf is a conffile shipped with other bytes; listed is in md5sums with its own md5.
  Write(dpkg_ + "/status", "Package: app\nStatus: install ok installed\nArchitecture: amd64\n"
                           "Version: 1.0\nConffiles:\n " + root_ + "/app.conf 00000000000000000000000000000000\n");
  // md5("shipped\n")
  Write(dpkg_ + "/info/app:amd64.md5sums", "0f3d8e2e5d5b3b4d5f0e2b1b2a3c4d5e  " + root_.substr(1) + "/other\n");
  Write(dpkg_ + "/info/app.md5sums", "");
  ConfigScanner s(o_);
  s.Dpkg();
  auto files = s.ScanFiles();
  ASSERT_EQ(files.size(), 7u);
  const ConfigFile& app = files[root_ + "/app.conf"].meta;
  EXPECT_EQ(app.type, "file");
  EXPECT_EQ(app.mode, 0640u);
  EXPECT_EQ(app.uid, getuid());
  EXPECT_EQ(app.size, conf.size());
  EXPECT_EQ(app.sha256, Sha256Hex(conf));
  EXPECT_EQ(app.content, "stored");
  EXPECT_EQ(app.package, "app");
  EXPECT_EQ(app.differs, "yes");
  EXPECT_EQ(*files[root_ + "/app.conf"].content, conf);
  EXPECT_EQ(files[root_ + "/shadow"].meta.content, "withheld");
  EXPECT_FALSE(files[root_ + "/shadow"].content.has_value());
  EXPECT_EQ(files[root_ + "/shadow"].meta.sha256, Sha256Hex("root:$6$x:1::::::\n"));
  EXPECT_EQ(files[root_ + "/sub/key.pem"].meta.content, "withheld");
  EXPECT_EQ(files[root_ + "/big"].meta.content, "too_large");
  EXPECT_EQ(files[root_ + "/big"].meta.sha256, Sha256Hex(std::string(2000, 'x')));
  EXPECT_EQ(files[root_ + "/link"].meta.type, "symlink");
  EXPECT_EQ(files[root_ + "/link"].meta.target, "/usr/share/x");
  const auto& hostile = files[root_ + "/name\nwith newline {{ x }}"];
  EXPECT_EQ(*hostile.content, "{{ lookup('pipe','id') }}\n!!python/object:os.system\n");
  EXPECT_EQ(files[root_ + "/listed"].meta.package, "");
  // A second scan of an unchanged tree hashes nothing and carries no contents.
  const uint64_t hashed = s.files_hashed();
  auto again = s.ScanFiles();
  EXPECT_EQ(s.files_hashed(), hashed);
  EXPECT_FALSE(again[root_ + "/app.conf"].content.has_value());
  EXPECT_EQ(again[root_ + "/app.conf"].meta, app);
  // The package's md5 matching the bytes: not modified.
  Write(dpkg_ + "/status", "Package: app\nStatus: install ok installed\nArchitecture: amd64\n"
                           "Version: 1.1\nConffiles:\n " + root_ + "/app.conf c2b1c1a1e0d2d3a4f0a1b2c3d4e5f6a7\n");
  s.Dpkg();
  std::string md5;
  {
    // the real md5 of conf, computed the same way dpkg does (md5sum)
    FILE* p = popen(("md5sum '" + root_ + "/app.conf'").c_str(), "r");
    char buf[64] = {};
    ASSERT_EQ(fread(buf, 1, 32, p), 32u);
    pclose(p);
    md5 = std::string(buf, 32);
  }
  Write(dpkg_ + "/status", "Package: app\nStatus: install ok installed\nArchitecture: amd64\n"
                           "Version: 1.2\nConffiles:\n " + root_ + "/app.conf " + md5 + "\n");
  s.Dpkg();
  EXPECT_EQ(s.ScanFiles()[root_ + "/app.conf"].meta.differs, "no");
}

TEST_F(Scanner, PlanAddsChangesAndRemovesAndFoldsBackToTheScan) {
  Write(root_ + "/a.conf", "one\n");
  Write(root_ + "/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  Write(root_ + "/group", "root:x:0:\n");
  Write(dpkg_ + "/status", "Package: app\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n");
  ConfigScanner s(o_);
  auto scan_all = [&] {
    HostConfigScan scan;
    scan.packages = s.Dpkg().packages;
    scan.files = s.ScanFiles();
    scan.users = s.Users();
    scan.groups = s.Groups();
    return scan;
  };
  State st;
  uint64_t ts = 1000;
  auto apply = [&](HostConfigPlan& p) {
    for (Event& e : p.events) {
      e.ts_ns = ++ts;
      Fold(st, e, EventKey{e.ts_ns, ts});
    }
  };
  HostConfigScan scan = scan_all();
  HostConfigPlan p = PlanHostConfig(st, scan, "start-up");
  // 1 package, 3 files (a.conf, passwd, group), 1 user, 1 group
  ASSERT_EQ(p.events.size(), 6u);
  EXPECT_EQ(p.contents.size(), 3u);
  EXPECT_EQ(p.contents[Sha256Hex("one\n")], "one\n");
  EXPECT_EQ(AttrOf(p.events[0], "action"), "install");
  EXPECT_EQ(AttrOf(p.events[0], "via"), "start-up");
  apply(p);
  EXPECT_EQ(st.packages["app:amd64"].version, "1.0-1");
  EXPECT_EQ(st.config_files[root_ + "/a.conf"].sha256, Sha256Hex("one\n"));
  EXPECT_EQ(st.users["root"].shell, "/bin/bash");
  // Nothing changed: nothing planned.
  scan = scan_all();
  EXPECT_TRUE(PlanHostConfig(st, scan, "reconcile").events.empty());
  // An upgrade, an edit, a removal, a new user.
  Write(dpkg_ + "/status", "Package: app\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-2\n");
  Write(root_ + "/a.conf", "two\n");
  Write(root_ + "/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\n");
  unlink((root_ + "/group").c_str());
  scan = scan_all();
  scan.groups.reset();  // an unreadable group file concludes nothing
  p = PlanHostConfig(st, scan, "watch");
  std::map<std::string, std::string> ops;
  for (const Event& e : p.events) {
    const std::string what = std::string(KindName(e.kind)) + " " +
                             std::string(e.kind == EventKind::kConfigFile ? AttrOf(e, "path") : AttrOf(e, "name"));
    ops[what] = AttrOf(e, "op");
  }
  EXPECT_EQ(ops["package app"], "change");
  EXPECT_EQ(AttrOf(p.events[0], "action"), "upgrade");
  EXPECT_EQ(AttrOf(p.events[0], "old_version"), "1.0-1");
  EXPECT_EQ(ops["config_file " + root_ + "/a.conf"], "change");
  EXPECT_EQ(ops["config_file " + root_ + "/group"], "remove");
  EXPECT_EQ(ops["user alice"], "add");
  EXPECT_FALSE(ops.count("group root"));
  EXPECT_EQ(p.contents[Sha256Hex("two\n")], "two\n");
  apply(p);
  EXPECT_EQ(st.packages["app:amd64"].version, "1.0-2");
  EXPECT_FALSE(st.config_files.count(root_ + "/group"));
  EXPECT_EQ(st.users["alice"].uid, 1001u);
  EXPECT_EQ(st.groups.size(), 1u);
}

TEST_F(Scanner, WatchReportsEditsRenamesAndNewDirectories) {
  HostConfigWatch w;
  ASSERT_TRUE(w.Start({root_}, dpkg_).ok());
  EXPECT_FALSE(w.Poll().files);
  Write(root_ + "/sub/x.conf", "1");
  HostConfigWatch::Dirty d = w.Poll();
  EXPECT_TRUE(d.files);
  EXPECT_FALSE(d.dpkg);
  // dpkg writes status-new and renames it over status.
  Write(dpkg_ + "/status-new", "Package: a\n");
  EXPECT_FALSE(w.Poll().dpkg);
  ASSERT_EQ(rename((dpkg_ + "/status-new").c_str(), (dpkg_ + "/status").c_str()), 0);
  EXPECT_TRUE(w.Poll().dpkg);
  // A directory made after the start is watched too.
  mkdir((root_ + "/new").c_str(), 0755);
  EXPECT_TRUE(w.Poll().files);
  Write(root_ + "/new/y.conf", "2");
  EXPECT_TRUE(w.Poll().files);
}

TEST(UnitPaths, ClassifiesUnitsDropInsLinksAndMasks) {
  const std::string d = "/etc/systemd/system";
  auto c = [&](const std::string& rel, bool link = false, const std::string& target = "") {
    return ClassifyUnitPath(d, d + "/" + rel, link, target);
  };
  auto unit = c("backup.timer");
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->unit, "backup.timer");
  EXPECT_EQ(unit->role, "unit");
  EXPECT_EQ(unit->dir, d);
  EXPECT_EQ(unit->type, "file");
  auto dropin = c("backup.service.d/10-limits.conf");
  ASSERT_TRUE(dropin);
  EXPECT_EQ(dropin->unit, "backup.service");
  EXPECT_EQ(dropin->role, "dropin");
  EXPECT_EQ(c("service.d/all.conf")->unit, "service");  // a drop-in for every service
  EXPECT_EQ(c("foo-.service.d/x.conf")->role, "dropin");
  auto wants = c("timers.target.wants/backup.timer", true, "/etc/systemd/system/backup.timer");
  ASSERT_TRUE(wants);
  EXPECT_EQ(wants->role, "wants");
  EXPECT_EQ(wants->by, "timers.target");
  EXPECT_EQ(wants->unit, "backup.timer");
  EXPECT_EQ(wants->type, "symlink");
  EXPECT_EQ(c("local-fs.target.requires/data.mount", true, "../data.mount")->role, "requires");
  EXPECT_EQ(c("multi-user.target.upholds/a.service", true, "x")->role, "upholds");
  EXPECT_EQ(c("masked.service", true, "/dev/null")->role, "mask");
  EXPECT_EQ(c("dbus-org.x.service", true, "/lib/systemd/system/x.service")->role, "link");
  // Not unit configuration: other names, other depths, other directories.
  EXPECT_FALSE(c("README"));
  EXPECT_FALSE(c(".service"));
  EXPECT_FALSE(c("backup.service.d/notes.txt"));
  EXPECT_FALSE(c("junk.d/x.conf"));
  EXPECT_FALSE(c("timers.target.wants/README", true, "x"));
  EXPECT_FALSE(c("a.service.d/deeper/x.conf"));
  EXPECT_FALSE(ClassifyUnitPath(d, "/etc/systemd/systemx/a.service", false, ""));
  EXPECT_FALSE(ClassifyUnitPath(d, "/etc/other/a.service", false, ""));
}

std::string Md5Hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr);
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    char b[3];
    snprintf(b, sizeof b, "%02x", md[i]);
    out += b;
  }
  return out;
}

// A unit-directory tree as a host has it: admin units, a drop-in, an enablement link and a mask
// under etc/; a package's units (one unchanged, one edited) and a hand-placed one under lib/,
// reached a second time through a symlinked directory (merged /usr).
TEST_F(Scanner, UnitConfigStoresAdminFilesAndReferencesUnchangedPackageFiles) {
  const std::string etc = t_.sub("etc-systemd"), lib = t_.sub("lib-systemd");
  const std::string usrlib = t_.sub("usr-lib-systemd");
  mkdir(etc.c_str(), 0755);
  mkdir(lib.c_str(), 0755);
  ASSERT_EQ(symlink(lib.c_str(), usrlib.c_str()), 0);
  mkdir((etc + "/backup.service.d").c_str(), 0755);
  mkdir((etc + "/timers.target.wants").c_str(), 0755);
  mkdir((etc + "/deep").c_str(), 0755);
  const std::string timer = "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n";
  const std::string service = "[Service]\nType=oneshot\nExecStart=/bin/true\n";
  const std::string dropin = "[Service]\nEnvironment=X={{ lookup('pipe','id') }}\n";
  Write(etc + "/backup.timer", timer);
  Write(etc + "/backup.service", service);
  Write(etc + "/backup.service.d/override.conf", dropin);
  ASSERT_EQ(symlink((etc + "/backup.timer").c_str(), (etc + "/timers.target.wants/backup.timer").c_str()), 0);
  ASSERT_EQ(symlink("/dev/null", (etc + "/masked.service").c_str()), 0);
  Write(etc + "/README", "not a unit\n");
  Write(etc + "/deep/x.service", "too deep\n");
  const std::string shipped = "[Service]\nExecStart=/usr/bin/pkgd\n";
  Write(lib + "/pkgd.service", shipped);
  Write(lib + "/pkgd-edited.service", "[Service]\nExecStart=/usr/bin/pkgd --edited\n");
  Write(lib + "/loose.socket", "[Socket]\nListenStream=1234\n");
  Write(dpkg_ + "/status", "Package: pkgd\nStatus: install ok installed\nArchitecture: amd64\n"
                           "Version: 2.4-1\n");
  Write(dpkg_ + "/info/pkgd:amd64.md5sums",
        Md5Hex(shipped) + "  " + lib.substr(1) + "/pkgd.service\n" + Md5Hex("original\n") + "  " +
            lib.substr(1) + "/pkgd-edited.service\n");
  o_.unit_dirs = {etc, lib, usrlib};
  ConfigScanner s(o_);
  s.Dpkg();
  auto found = s.ScanUnitConfig();
  std::vector<std::string> paths;
  for (const auto& [p, u] : found) paths.push_back(p);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       etc + "/backup.service", etc + "/backup.service.d/override.conf",
                       etc + "/backup.timer", etc + "/masked.service",
                       etc + "/timers.target.wants/backup.timer", lib + "/loose.socket",
                       lib + "/pkgd-edited.service", lib + "/pkgd.service"}));
  const UnitConfig& t = found[etc + "/backup.timer"].meta;
  EXPECT_EQ(t.role, "unit");
  EXPECT_EQ(t.content, "stored");
  EXPECT_EQ(t.sha256, Sha256Hex(timer));
  EXPECT_EQ(t.size, timer.size());
  EXPECT_EQ(*found[etc + "/backup.timer"].content, timer);
  EXPECT_EQ(*found[etc + "/backup.service.d/override.conf"].content, dropin);
  EXPECT_EQ(found[etc + "/backup.service.d/override.conf"].meta.unit, "backup.service");
  const UnitConfig& w = found[etc + "/timers.target.wants/backup.timer"].meta;
  EXPECT_EQ(w.role, "wants");
  EXPECT_EQ(w.by, "timers.target");
  EXPECT_EQ(w.target, etc + "/backup.timer");
  EXPECT_FALSE(found[etc + "/timers.target.wants/backup.timer"].content.has_value());
  EXPECT_EQ(found[etc + "/masked.service"].meta.role, "mask");
  const UnitConfig& pkg = found[lib + "/pkgd.service"].meta;
  EXPECT_EQ(pkg.content, "package");
  EXPECT_EQ(pkg.package, "pkgd");
  EXPECT_EQ(pkg.version, "2.4-1");
  EXPECT_EQ(pkg.differs, "no");
  EXPECT_EQ(pkg.sha256, Sha256Hex(shipped));
  EXPECT_FALSE(found[lib + "/pkgd.service"].content.has_value()) << "a package's file is not copied";
  const UnitConfig& edited = found[lib + "/pkgd-edited.service"].meta;
  EXPECT_EQ(edited.content, "stored");
  EXPECT_EQ(edited.differs, "yes");
  EXPECT_EQ(edited.package, "pkgd");
  EXPECT_TRUE(found[lib + "/pkgd-edited.service"].content.has_value());
  EXPECT_EQ(found[lib + "/loose.socket"].meta.content, "stored");
  EXPECT_EQ(found[lib + "/loose.socket"].meta.package, "");

  // Planned, stored and folded back: the state holds what the scan found, the content store
  // gets the admin files and the edited package file, never the unchanged package file.
  State st;
  HostConfigScan scan;
  scan.unit_config = found;
  HostConfigPlan p = PlanHostConfig(st, scan, "start-up");
  ASSERT_EQ(p.events.size(), 8u);
  EXPECT_EQ(p.contents.size(), 5u);  // timer, service, drop-in, edited, loose
  EXPECT_EQ(p.contents[Sha256Hex(dropin)], dropin);
  EXPECT_FALSE(p.contents.count(Sha256Hex(shipped)));
  uint64_t ts = 100;
  auto apply = [&](HostConfigPlan& plan) {
    for (Event& e : plan.events) {
      e.ts_ns = ++ts;
      EXPECT_EQ(e.kind, EventKind::kUnitConfig);
      Fold(st, e, EventKey{e.ts_ns, ts});
    }
  };
  apply(p);
  ASSERT_EQ(st.unit_config.size(), found.size());
  for (const auto& [path, u] : found) {
    UnitConfig got = st.unit_config[path];
    got.since_ns = 0;
    EXPECT_EQ(got, u.meta) << path;
  }
  // Disabled (the link removed) and the drop-in edited: one remove, one change with content.
  ASSERT_EQ(unlink((etc + "/timers.target.wants/backup.timer").c_str()), 0);
  const std::string dropin2 = "[Service]\nNice=5\n";
  Write(etc + "/backup.service.d/override.conf", dropin2);
  scan.unit_config = s.ScanUnitConfig();
  p = PlanHostConfig(st, scan, "watch");
  ASSERT_EQ(p.events.size(), 2u);
  std::map<std::string, std::string> ops;
  for (const Event& e : p.events) ops[std::string(AttrOf(e, "path"))] = AttrOf(e, "op");
  EXPECT_EQ(ops[etc + "/timers.target.wants/backup.timer"], "remove");
  EXPECT_EQ(ops[etc + "/backup.service.d/override.conf"], "change");
  EXPECT_EQ(p.contents.size(), 1u);
  EXPECT_EQ(p.contents[Sha256Hex(dropin2)], dropin2);
  apply(p);
  EXPECT_FALSE(st.unit_config.count(etc + "/timers.target.wants/backup.timer"));
  EXPECT_EQ(st.unit_config[etc + "/backup.service.d/override.conf"].sha256, Sha256Hex(dropin2));
  // Unchanged: nothing planned.
  scan.unit_config = s.ScanUnitConfig();
  EXPECT_TRUE(PlanHostConfig(st, scan, "reconcile").events.empty());
}

}  // namespace
}  // namespace twin::capture
