// The delta playbook generator: what it plans for each kind of change, and that hostile host
// strings stay inert through ansible-playbook --syntax-check and a real local-connection run.
#include "vm/playbook.h"

#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/common/skip.h"
#include "vm/ansible_runner.h"

namespace twin::vm {
namespace {

namespace fs = std::filesystem;

const char kDemoUnit[] =
    "[Unit]\nDescription=demo\n[Service]\n"
    "ExecStart=/usr/bin/python3 -m http.server 8088 --bind 127.0.0.1\n"
    "[Install]\nWantedBy=multi-user.target\n";

Unit MakeUnit(const std::string& name, const std::string& content) {
  Unit u;
  u.name = name;
  u.file_path = "/etc/systemd/system/" + name;
  u.file_content = content;
  u.file_sha256 = std::to_string(std::hash<std::string>{}(content));
  return u;
}

Listener MakeListener(const std::string& unit, const std::string& addr, uint16_t port,
                      uint8_t proto = kProtoTcp) {
  Listener l;
  l.proto = proto;
  l.family = addr.find(':') != std::string::npos ? kFamilyInet6 : kFamilyInet;
  l.addr = addr;
  l.port = port;
  l.listening = true;
  l.unit = unit;
  l.comm = "python3";
  return l;
}

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const PlannedAction* FindAction(const DeltaPlan& p, const std::string& kind) {
  for (const auto& a : p.actions) {
    if (a.kind == kind) return &a;
  }
  return nullptr;
}

TEST(ExecPrograms, ParsesPrefixesQuotesAndBareNames) {
  auto p = ExecPrograms(
      "[Service]\nExecStartPre=-/bin/mkdir -p /run/x\nExecStart=@/usr/sbin/foo foo -d\n"
      "  ExecStart = \"/opt/my app/bin\" --x\nExecStartPost=bar\nExecStop=/bin/kill\n");
  EXPECT_EQ(p, (std::vector<std::string>{"/bin/mkdir", "/usr/sbin/foo", "/opt/my app/bin",
                                         "/usr/bin/bar"}));
}

TEST(UnitNames, ValidationRefusesHostileNames) {
  EXPECT_TRUE(ValidUnitName("twin-demo.service"));
  EXPECT_TRUE(ValidUnitName("getty@tty1.service"));
  EXPECT_TRUE(ValidUnitName("a\\x2db.service"));
  EXPECT_FALSE(ValidUnitName("{{ lookup('pipe','id') }}.service"));
  EXPECT_FALSE(ValidUnitName("$(id);x.service"));
  EXPECT_FALSE(ValidUnitName("x\n.service"));
  EXPECT_FALSE(ValidUnitName("../../etc/passwd.service"));
  EXPECT_FALSE(ValidUnitName("!!python/object.service"));
  EXPECT_FALSE(ValidUnitName("noext"));
}

TEST(PlanDelta, AddedUnitWithProgramInTwinIsCopiedVerbatim) {
  StateDiff d;
  State target;
  d.units.added.push_back(MakeUnit("twin-demo.service", kDemoUnit));
  target.units["twin-demo.service"] = d.units.added[0];
  target.listeners[MakeListener("twin-demo.service", "127.0.0.1", 8088).key()] =
      MakeListener("twin-demo.service", "127.0.0.1", 8088);
  d.listeners.added.push_back(MakeListener("twin-demo.service", "127.0.0.1", 8088));
  TwinFacts facts;
  facts.existing_programs = {"/usr/bin/python3"};
  auto plan = PlanDelta(d, target, facts, {});
  ASSERT_EQ(plan.files.size(), 1u);  // the listener is the unit's own: no placeholder
  EXPECT_EQ(plan.files[0].content, kDemoUnit);
  EXPECT_EQ(plan.files[0].dest, "/etc/systemd/system/twin-demo.service");
  EXPECT_EQ(plan.start, std::vector<std::string>{"twin-demo.service"});
  EXPECT_TRUE(plan.stop.empty());
  EXPECT_FALSE(plan.need_placeholder_script);
  ASSERT_NE(FindAction(plan, "unit_exact"), nullptr);
}

TEST(PlanDelta, MissingProgramWithoutMirrorBecomesPlaceholderWithTheUnitsListeners) {
  StateDiff d;
  State target;
  Unit u = MakeUnit("nginx.service", "[Service]\nExecStart=/usr/sbin/nginx -g 'daemon off;'\n");
  d.units.added.push_back(u);
  target.units[u.name] = u;
  for (auto l : {MakeListener("nginx.service", "0.0.0.0", 80),
                 MakeListener("nginx.service", "::", 443)}) {
    target.listeners[l.key()] = l;
    d.listeners.added.push_back(l);
  }
  PlanOptions po;
  po.package_for_path = [](const std::string& p) -> std::optional<std::string> {
    return p == "/usr/sbin/nginx" ? std::optional<std::string>("nginx-core") : std::nullopt;
  };
  auto plan = PlanDelta(d, target, TwinFacts{}, po);
  const auto* a = FindAction(plan, "unit_placeholder");
  ASSERT_NE(a, nullptr);
  EXPECT_NE(a->detail.find("no mirror reachable"), std::string::npos) << a->detail;
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_NE(plan.files[0].content.find("tcp 4 0.0.0.0 80"), std::string::npos);
  EXPECT_NE(plan.files[0].content.find("tcp 6 :: 443"), std::string::npos);
  EXPECT_TRUE(plan.need_placeholder_script);
  EXPECT_TRUE(plan.packages.empty());

  TwinFacts online;
  online.mirror_reachable = true;
  auto plan2 = PlanDelta(d, target, online, po);
  ASSERT_NE(FindAction(plan2, "unit_package"), nullptr);
  EXPECT_EQ(plan2.packages, std::vector<std::string>{"nginx-core"});
  EXPECT_EQ(plan2.files[0].content, u.file_content);
}

TEST(PlanDelta, RemovedAndChangedUnits) {
  StateDiff d;
  State target;
  d.units.removed.push_back(MakeUnit("old.service", kDemoUnit));
  Unit before = MakeUnit("web.service", kDemoUnit);
  Unit after = MakeUnit("web.service", std::string(kDemoUnit) + "# v2\n");
  d.units.changed.push_back({before, after});
  Unit same_file = MakeUnit("same.service", kDemoUnit);
  Unit same_file_moved = same_file;
  same_file_moved.cgroup = "/system.slice/same.service";
  d.units.changed.push_back({same_file, same_file_moved});
  target.units["web.service"] = after;
  TwinFacts facts;
  facts.existing_programs = {"/usr/bin/python3"};
  auto plan = PlanDelta(d, target, facts, {});
  EXPECT_EQ(plan.stop, std::vector<std::string>{"old.service"});
  EXPECT_EQ(plan.remove_files, std::vector<std::string>{"/etc/systemd/system/old.service"});
  EXPECT_EQ(plan.restart, std::vector<std::string>{"web.service"});  // same.service: no-op
  ASSERT_EQ(plan.files.size(), 1u);
  EXPECT_EQ(plan.files[0].content, after.file_content);
}

TEST(PlanDelta, ListenerWithoutUnitGetsPlaceholderAndLosesItWhenClosed) {
  StateDiff d;
  State target;
  Listener l = MakeListener("", "10.1.2.3", 5353, kProtoUdp);
  d.listeners.added.push_back(l);
  target.listeners[l.key()] = l;
  auto plan = PlanDelta(d, target, {}, {});
  ASSERT_EQ(plan.start.size(), 1u);
  EXPECT_EQ(plan.start[0], "safetytwin-listen-udp4-0_0_0_0-5353.service");
  EXPECT_NE(plan.files[0].content.find("udp 4 0.0.0.0 5353"), std::string::npos);
  const auto* a = FindAction(plan, "listener_placeholder");
  ASSERT_NE(a, nullptr);
  EXPECT_NE(a->detail.find("wildcard"), std::string::npos);

  StateDiff gone;
  gone.listeners.removed.push_back(l);
  auto plan2 = PlanDelta(gone, State{}, {}, {});
  EXPECT_EQ(plan2.stop, std::vector<std::string>{"safetytwin-listen-udp4-0_0_0_0-5353.service"});
}

TEST(PlanDelta, HostileUnitNamesAreRefusedAndProtectedUnitsLeftAlone) {
  StateDiff d;
  State target;
  for (std::string n : {"{{ lookup('pipe','id') }}.service", "$(touch x);y.service",
                        "a\nb.service", "systemd-journald.service", "session-1.scope"}) {
    Unit u = MakeUnit(n, kDemoUnit);
    d.units.added.push_back(u);
    target.units[n] = u;
  }
  auto plan = PlanDelta(d, target, {}, {});
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.actions.size(), 5u);
  for (const auto& a : plan.actions) {
    EXPECT_EQ(a.kind, "skip");
    EXPECT_EQ(a.target.find("{{"), std::string::npos);
  }
}

TEST(VarsYaml, EveryStringIsUnsafeAndEscaped) {
  EXPECT_EQ(YamlUnsafeString("a\"b\\c\nd{{x}}\x01\xff"),
            "!unsafe \"a\\\"b\\\\c\\nd{{x}}\\x01\\xff\"");
  DeltaPlan p;
  p.notes = {"{{ lookup('pipe','id') }}"};
  p.start = {"x.service"};
  std::string y = RenderVarsYaml(p, "/b/files", {});
  EXPECT_NE(y.find("  - !unsafe \"{{ lookup('pipe','id') }}\"\n"), std::string::npos) << y;
  EXPECT_NE(y.find("st_start:\n  - !unsafe \"x.service\"\n"), std::string::npos) << y;
}

bool HaveAnsible() { return access("/usr/bin/ansible-playbook", X_OK) == 0; }

class HostileRun : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/twin-playbook-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    markers_ = dir_ + "/markers";
    fs::create_directories(markers_);
    // The root prefix itself contains Jinja: the copy destination must be taken literally.
    root_ = dir_ + "/{{ lookup('pipe','id') }} $(id) ;`id`";
    hostile_content_ =
        "[Unit]\nDescription={{ lookup('pipe','touch " + markers_ + "/jinja') }}\n"
        "# {% for x in range(3) %}loop{% endfor %}\n"
        "X-Yaml=!!python/object/apply:os.system ['touch " + markers_ + "/yaml']\n"
        "[Service]\nExecStart=/bin/sh -c \"$(touch " + markers_ + "/shell); `touch " +
        markers_ + "/tick`\" ; echo 'quote\" mix'\n";
    StateDiff d;
    State target;
    Unit u = MakeUnit("hostile-demo.service", hostile_content_);
    d.units.added.push_back(u);
    target.units[u.name] = u;
    Unit bad = MakeUnit("{{ lookup('pipe','touch " + markers_ + "/name') }}.service", "x");
    d.units.added.push_back(bad);
    target.units[bad.name] = bad;
    Listener l = MakeListener("", "127.0.0.1", 9099);
    l.comm = "{{ lookup('pipe','touch " + markers_ + "/comm') }}\n!!python/object:os.system";
    d.listeners.added.push_back(l);
    target.listeners[l.key()] = l;
    TwinFacts facts;
    facts.existing_programs = {"/bin/sh"};
    opts_.root = root_;
    opts_.manage_systemd = false;
    plan_ = PlanDelta(d, target, facts, opts_);
    ro_.ansible_dir = TWIN_SOURCE_DIR "/vm/ansible";
    ro_.work_dir = dir_ + "/runs";
    target_.connection = "local";
  }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  void ExpectNoMarkers() {
    for (const auto& e : fs::directory_iterator(markers_)) {
      ADD_FAILURE() << "host string was executed: " << e.path();
    }
  }
  std::string dir_, markers_, root_, hostile_content_;
  PlanOptions opts_;
  DeltaPlan plan_;
  RunnerOptions ro_;
  AnsibleTarget target_;
};

TEST_F(HostileRun, SyntaxCheckPasses) {
  TWIN_REQUIRE(HaveAnsible(), "ansible-playbook missing (scripts/packages.txt: ansible-core)");
  ro_.syntax_check_only = true;
  auto r = RunPlaybook(plan_, opts_, target_, ro_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0) << ReadFile(r->log_path);
  ExpectNoMarkers();
}

TEST_F(HostileRun, LocalRunWritesHostileBytesVerbatimAndExecutesNothing) {
  TWIN_REQUIRE(HaveAnsible(), "ansible-playbook missing (scripts/packages.txt: ansible-core)");
  auto r = RunPlaybook(plan_, opts_, target_, ro_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string log = ReadFile(r->log_path);
  ASSERT_EQ(r->exit_code, 0) << log;
  EXPECT_TRUE(r->success()) << log;
  // The unit file arrived byte for byte at the literal (Jinja-looking) destination.
  std::string unit_path = root_ + "/etc/systemd/system/hostile-demo.service";
  ASSERT_TRUE(fs::exists(unit_path)) << log;
  EXPECT_EQ(ReadFile(unit_path), hostile_content_);
  // The listener placeholder and its program are there too; the refused name is not.
  EXPECT_TRUE(fs::exists(root_ + "/etc/systemd/system/safetytwin-listen-tcp4-127_0_0_1-9099.service"));
  EXPECT_TRUE(fs::exists(root_ + "/usr/local/bin/safetytwin-placeholder-listen"));
  size_t units = 0;
  for (const auto& e : fs::directory_iterator(root_ + "/etc/systemd/system")) {
    (void)e;
    ++units;
  }
  EXPECT_EQ(units, 2u);
  ExpectNoMarkers();
  // The hostile comm was printed as data, never evaluated (no `id` output anywhere).
  EXPECT_NE(log.find("lookup('pipe','touch "), std::string::npos) << log;
  EXPECT_EQ(log.find("uid=0("), std::string::npos) << log;
  // Per-task results were captured for the event log.
  bool saw_changed_copy = false;
  for (const auto& t : r->tasks) {
    if (t.task == "unit files" && t.status == "changed") saw_changed_copy = true;
  }
  EXPECT_TRUE(saw_changed_copy) << log;
}

TEST(HostDebs, ClosureTakesWhatTheTwinLacksDependenciesFirst) {
  const std::string dpkg =
      "memcached\t1.6.18-1+deb12u1\tamd64\tinstalled\tinit-system-helpers (>= 1.54~)\t"
      "adduser, perl:any, libc6 (>= 2.34), libevent-2.1-7 (>= 2.1.8-stable), mail-transport | default-mta\t\n"
      "adduser\t3.134\tall\tinstalled\t\tpasswd\t\n"
      "passwd\t1:4.13\tamd64\tinstalled\t\tlibc6\t\n"
      "perl\t5.36.0-7\tamd64\tinstalled\t\tperl-base, libperl5.36\t\n"
      "libperl5.36\t5.36.0-7\tamd64\tinstalled\t\tlibc6\t\n"
      "libc6\t2.36-9\tamd64\tinstalled\t\t\t\n"
      "init-system-helpers\t1.65\tall\tinstalled\t\t\t\n"
      "libevent-2.1-7\t2.1.12\tamd64\tinstalled\t\tlibc6 (>= 2.14)\t\n"
      "exim4\t4.96\tamd64\tinstalled\t\tlibc6\tmail-transport-agent, default-mta\n"
      "gone\t1.0\tamd64\tconfig-files\t\t\t\n";
  auto host = ParseHostPackages(dpkg);
  EXPECT_EQ(host.size(), 9u);
  EXPECT_FALSE(host.count("gone"));
  EXPECT_EQ(host["passwd"].version, "1:4.13");
  std::vector<std::string> unresolved;
  auto order = PackagesToInstall({"memcached"}, host,
                                 {{"libc6", "2.36-9"}, {"perl-base", "5.36.0-7"}, {"passwd", "1:4.13"},
                                  {"libevent-2.1-7", "2.1.7-1"}},
                                 &unresolved);
  // adduser (passwd in the twin), perl (libperl missing), libevent (the twin's is older
  // than memcached's >= 2.1.8-stable); the MTA through its provider.
  std::vector<std::string> want = {"init-system-helpers", "adduser", "libperl5.36", "perl",
                                   "libevent-2.1-7", "exim4", "memcached"};
  EXPECT_EQ(order, want);
  EXPECT_TRUE(unresolved.empty());
  // A twin libc6 too old for the constraint brings the host's; a newer one does not.
  auto libc = PackagesToInstall({"libevent-2.1-7"}, host, {{"libc6", "2.13-1"}}, &unresolved);
  EXPECT_EQ(libc, (std::vector<std::string>{"libc6", "libevent-2.1-7"}));
  libc = PackagesToInstall({"libevent-2.1-7"}, host, {{"libc6", "2.36-9+deb12u9"}}, &unresolved);
  EXPECT_EQ(libc, (std::vector<std::string>{"libevent-2.1-7"}));
  auto none = PackagesToInstall({"nothere"}, host, {}, &unresolved);
  EXPECT_TRUE(none.empty());
  ASSERT_EQ(unresolved.size(), 1u);
}

TEST(HostDebs, TheAptCacheDebIsTakenAtTheExactVersion) {
  char tmpl[] = "/tmp/twin-debs-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/passwd_1%3a4.13_amd64.deb") << "x";
  HostPackage p{"passwd", "1:4.13", "amd64", {}, {}};
  DebChoice c = FindDeb(p, dir + "/work", dir);
  EXPECT_EQ(c.how, "exact");
  EXPECT_EQ(c.path, dir + "/passwd_1%3a4.13_amd64.deb");
  fs::remove_all(dir);
}

TEST(PlanDelta, HostConfigInstallsTheUnitsPackageFromTheHostAndRestartsTheUnit) {
  StateDiff d;
  State target;
  Unit u = MakeUnit("memcached.service",
                    "[Service]\nExecStart=/usr/share/memcached/scripts/systemd-memcached-wrapper /etc/memcached.conf\n");
  d.units.added.push_back(u);
  target.units[u.name] = u;
  d.packages.added.push_back(Package{"memcached", "amd64", "1.6.18-1", "install ok installed", 0});
  PlanOptions po;
  po.host_config = true;
  po.package_for_path = [](const std::string&) { return std::optional<std::string>("memcached"); };
  std::vector<std::string> asked;
  po.resolve_debs = [&](const std::vector<std::string>& roots, const std::map<std::string, std::string>&) {
    asked = roots;
    DebResolution r;
    r.debs.push_back(DebChoice{"libevent-2.1-7", "2.1.12", "amd64", "/c/libevent.deb", "exact", "the host's apt cache"});
    r.debs.push_back(DebChoice{"memcached", "1.6.18-1", "amd64", "/w/memcached.deb", "repacked", "dpkg-repack"});
    r.debs.push_back(DebChoice{"libx", "1", "amd64", "", "unavailable", "dpkg-repack failed"});
    return r;
  };
  DeltaPlan p = PlanDelta(d, target, TwinFacts{}, po);
  EXPECT_EQ(asked, std::vector<std::string>{"memcached"});
  std::map<std::string, std::string> kinds;
  for (const auto& a : p.actions) kinds[a.target] = a.kind;
  EXPECT_EQ(kinds["memcached.service"], "unit_exact");
  EXPECT_EQ(kinds["memcached"], "package_repacked");
  EXPECT_EQ(kinds["libevent-2.1-7"], "package_exact");
  EXPECT_EQ(kinds["libx"], "package_unavailable");
  EXPECT_EQ(p.debs.size(), 2u);
  EXPECT_EQ(p.restart, std::vector<std::string>{"memcached.service"});
  EXPECT_TRUE(p.start.empty());
  const std::string y = RenderVarsYaml(p, "", po);
  EXPECT_NE(y.find("st_debs:\n  - src: !unsafe \"/c/libevent.deb\"\n"), std::string::npos) << y;
}

// Host configuration in the twin: a diff of groups, users and config files, planned with
// PlanOptions::host_config and run locally (files only: accounts need the real VM).
StateDiff HostConfigDiff(const std::string& markers, std::map<std::string, std::string>* store) {
  StateDiff d;
  auto add_file = [&](std::string path, std::string content, uint32_t mode, std::string package,
                      std::string differs) {
    ConfigFile f;
    f.path = std::move(path);
    f.type = "file";
    f.mode = mode;
    f.uid = getuid();
    f.gid = getgid();
    f.size = content.size();
    f.sha256 = "sha-" + std::to_string(store->size());  // the test's store: any unique key
    f.content = "stored";
    f.package = std::move(package);
    f.differs = std::move(differs);
    (*store)[f.sha256] = std::move(content);
    d.config_files.added.push_back(f);
    return f;
  };
  add_file("/etc/memcached.conf",
           "-p 18311\n# {{ lookup('pipe','touch " + markers + "/jinja') }}\n"
           "x: !!python/object/apply:os.system ['touch " + markers + "/yaml']\n",
           0640, "memcached", "yes");
  add_file("/etc/evil\nname {{ lookup('pipe','touch " + markers + "/name') }}", "bytes\0\xff\n", 0600,
           "", "");
  add_file("/etc/shipped.conf", "as shipped\n", 0644, "pkg", "no");
  add_file("/etc/fstab", "/dev/sda1 / ext4\n", 0644, "", "");
  ConfigFile secret;
  secret.path = "/etc/ssh/ssh_host_ed25519_key";
  secret.type = "file";
  secret.mode = 0600;
  secret.content = "withheld";
  secret.sha256 = "secret-sha";
  d.config_files.added.push_back(secret);
  ConfigFile link;
  link.path = "/etc/app/current";
  link.type = "symlink";
  link.mode = 0777;
  link.target = "/opt/app/{{ x }}";
  d.config_files.added.push_back(link);
  d.groups.added.push_back(Group{"fidusers", 2001, {"alice"}, 0});
  d.groups.added.push_back(Group{"{{ bad }}", 2002, {}, 0});
  d.users.added.push_back(User{"alice", 2001, 2001, "Alice,,,", "/home/alice", "/bin/sh", 0});
  d.users.added.push_back(User{"bob", 2002, 2001, "x", "/home/bob\n:", "/bin/sh", 0});
  return d;
}

TEST(PlanDelta, HostConfigCopiesChangedAndUnownedFilesAndValidAccounts) {
  std::map<std::string, std::string> store;
  StateDiff d = HostConfigDiff("/nonexistent", &store);
  PlanOptions po;
  po.host_config = true;
  po.config_content = [&](const std::string& sha) -> std::optional<std::string> {
    auto it = store.find(sha);
    if (it == store.end()) return std::nullopt;
    return it->second;
  };
  DeltaPlan p = PlanDelta(d, State{}, TwinFacts{}, po);
  std::map<std::string, std::string> kinds;
  for (const auto& a : p.actions) kinds[a.target] = a.kind;
  EXPECT_EQ(kinds["/etc/memcached.conf"], "config_exact");
  EXPECT_EQ(kinds["/etc/shipped.conf"], "config_skip");  // comes with its package
  EXPECT_EQ(kinds["/etc/fstab"], "config_skip");         // the twin's own
  EXPECT_EQ(kinds["/etc/ssh/ssh_host_ed25519_key"], "config_standin");
  EXPECT_EQ(kinds["/etc/app/current"], "config_exact");
  EXPECT_EQ(kinds["alice"], "user_exact");
  EXPECT_EQ(kinds["fidusers"], "group_exact");
  ASSERT_EQ(p.users.size(), 1u);
  ASSERT_EQ(p.groups.size(), 1u);
  ASSERT_EQ(p.config_files.size(), 4u);
  // Without host_config nothing of it is planned.
  EXPECT_TRUE(PlanDelta(d, State{}, TwinFacts{}, PlanOptions{}).empty());
  const std::string y = RenderVarsYaml(p, "", po);
  EXPECT_NE(y.find("st_users:\n  - name: !unsafe \"alice\"\n    uid: 2001\n"), std::string::npos) << y;
  EXPECT_NE(y.find("    target: !unsafe \"/opt/app/{{ x }}\"\n"), std::string::npos) << y;
  EXPECT_NE(y.find("!unsafe \"/etc/evil\\nname {{ lookup("), std::string::npos) << y;
}

TEST_F(HostileRun, HostConfigFilesArriveByteExactWithModesAndExecuteNothing) {
  TWIN_REQUIRE(HaveAnsible(), "ansible-playbook missing (scripts/packages.txt: ansible-core)");
  std::map<std::string, std::string> store;
  StateDiff d = HostConfigDiff(markers_, &store);
  opts_.host_config = true;
  opts_.config_content = [&](const std::string& sha) -> std::optional<std::string> {
    auto it = store.find(sha);
    if (it == store.end()) return std::nullopt;
    return it->second;
  };
  DeltaPlan plan = PlanDelta(d, State{}, TwinFacts{}, opts_);
  auto r = RunPlaybook(plan, opts_, target_, ro_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string log = ReadFile(r->log_path);
  ASSERT_EQ(r->exit_code, 0) << log;
  EXPECT_TRUE(r->success()) << log;
  for (const ConfigFile& f : d.config_files.added) {
    const std::string dest = root_ + f.path;
    if (f.path == "/etc/shipped.conf" || f.path == "/etc/fstab") {
      EXPECT_FALSE(fs::exists(dest)) << f.path;
      continue;
    }
    struct stat st {};
    ASSERT_EQ(lstat(dest.c_str(), &st), 0) << f.path << "\n" << log;
    if (f.type == "symlink") {
      EXPECT_EQ(fs::read_symlink(dest).string(), f.target);
      continue;
    }
    EXPECT_EQ(st.st_mode & 07777, f.mode) << f.path;
    if (f.content == "withheld") {
      EXPECT_NE(ReadFile(dest).find("stand-in"), std::string::npos);
    } else {
      EXPECT_EQ(ReadFile(dest), store[f.sha256]) << f.path;
    }
  }
  ExpectNoMarkers();
}

// Unit config of a host: a timer and its oneshot service, the timer enabled by a wants link, a
// socket enabled for a running service, a drop-in for that service (hostile bytes), a mask, a
// package's unit, a protected unit's link, and hostile names and paths.
struct UnitConfigCase {
  StateDiff diff;
  State target;
  std::map<std::string, std::string> store;
};
UnitConfigCase MakeUnitConfigCase(const std::string& markers) {
  UnitConfigCase c;
  const std::string etc = "/etc/systemd/system";
  auto add = [&](UnitConfig u, const std::string& content = "") {
    if (u.type.empty()) u.type = "file";
    if (u.type == "file" && u.content.empty()) {
      u.content = "stored";
      u.sha256 = "sha-" + std::to_string(c.store.size());
      u.size = content.size();
      u.mode = 0644;
      c.store[u.sha256] = content;
    }
    c.diff.unit_config.added.push_back(u);
    c.target.unit_config[u.path] = u;
    return u;
  };
  auto unit = [&](const std::string& dir, const std::string& name, const std::string& content) {
    UnitConfig u;
    u.path = dir + "/" + name;
    u.dir = dir;
    u.unit = name;
    u.role = "unit";
    return add(u, content);
  };
  auto link = [&](const std::string& by, const std::string& kind, const std::string& name,
                  const std::string& target) {
    UnitConfig u;
    u.path = etc + "/" + by + "." + kind + "/" + name;
    u.dir = etc;
    u.unit = name;
    u.role = kind;
    u.by = by;
    u.type = "symlink";
    u.target = target;
    return add(u);
  };
  unit(etc, "fid.timer", "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n");
  unit(etc, "fid.service", "[Service]\nType=oneshot\nExecStart=/bin/true\n");
  link("timers.target", "wants", "fid.timer", etc + "/fid.timer");
  unit("/usr/local/lib/systemd/system", "fidd.socket", "[Socket]\nListenStream=127.0.0.1:18999\n");
  link("sockets.target", "wants", "fidd.socket", "/usr/local/lib/systemd/system/fidd.socket");
  UnitConfig d;
  d.path = etc + "/fidd.service.d/override.conf";
  d.dir = etc;
  d.unit = "fidd.service";
  d.role = "dropin";
  add(d, "[Service]\nEnvironment=X={{ lookup('pipe','touch " + markers + "/dropin') }}\n"
         "# !!python/object/apply:os.system ['touch " + markers + "/yaml']\n\x01\xff\n");
  UnitConfig m;
  m.path = etc + "/fidmasked.service";
  m.dir = etc;
  m.unit = "fidmasked.service";
  m.role = "mask";
  m.type = "symlink";
  m.target = "/dev/null";
  add(m);
  UnitConfig pkg;
  pkg.path = "/lib/systemd/system/memcached.service";
  pkg.dir = "/lib/systemd/system";
  pkg.unit = "memcached.service";
  pkg.role = "unit";
  pkg.content = "package";
  pkg.package = "memcached";
  pkg.version = "1.6.18-1";
  add(pkg);
  link("getty.target", "wants", "getty@tty1.service", "/lib/systemd/system/getty@.service");
  UnitConfig bad;
  bad.path = etc + "/{{ lookup('pipe','touch " + markers + "/name') }}.timer";
  bad.dir = etc;
  bad.unit = "{{ lookup('pipe','touch " + markers + "/name') }}.timer";
  bad.role = "unit";
  add(bad, "x");
  UnitConfig escape;
  escape.path = etc + "/../../tmp/x.service";
  escape.dir = etc;
  escape.unit = "x.service";
  escape.role = "unit";
  add(escape, "y");
  // The service the socket activates runs on the host.
  Unit svc = MakeUnit("fidd.service", "[Service]\nExecStart=/bin/sleep infinity\n");
  svc.file_path = "/usr/local/lib/systemd/system/fidd.service";
  c.diff.units.added.push_back(svc);
  c.target.units[svc.name] = svc;
  return c;
}

TEST(PlanDelta, UnitConfigIsWrittenExactlyAndStartedInDependencyOrder) {
  UnitConfigCase c = MakeUnitConfigCase("/nonexistent");
  PlanOptions po;
  po.host_config = true;
  po.config_content = [&](const std::string& sha) -> std::optional<std::string> {
    auto it = c.store.find(sha);
    return it == c.store.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  TwinFacts facts;
  facts.existing_programs = {"/bin/sleep", "/bin/true"};
  DeltaPlan p = PlanDelta(c.diff, c.target, facts, po);
  std::map<std::string, std::string> kinds;
  for (const auto& a : p.actions) kinds[a.target] = a.kind + ": " + a.detail;
  const std::string etc = "/etc/systemd/system";
  EXPECT_EQ(kinds[etc + "/fid.timer"].rfind("unit_config_exact: unit file", 0), 0u) << kinds[etc + "/fid.timer"];
  EXPECT_EQ(kinds[etc + "/timers.target.wants/fid.timer"],
            "unit_config_exact: enabled: wants by timers.target, link -> " + etc + "/fid.timer");
  EXPECT_EQ(kinds[etc + "/fidd.service.d/override.conf"].rfind("unit_config_exact: drop-in for fidd.service", 0), 0u);
  EXPECT_EQ(kinds[etc + "/fidmasked.service"], "unit_config_exact: masked (-> /dev/null)");
  EXPECT_EQ(kinds["package unit files"].rfind("unit_config_skip: 1 files", 0), 0u) << kinds["package unit files"];
  EXPECT_EQ(kinds[etc + "/getty.target.wants/getty@tty1.service"].rfind("unit_config_skip: protected", 0), 0u);
  EXPECT_EQ(kinds["unit config"].rfind("unit_config_skip: ", 0), 0u);  // the hostile ones, unnamed
  size_t refused = 0;
  for (const auto& a : p.actions) refused += a.target == "unit config";
  EXPECT_EQ(refused, 2u) << "the Jinja-named unit and the ../ path";
  std::map<std::string, UnitConfigCopy> copies;
  for (const auto& u : p.unit_config) copies[u.dest] = u;
  EXPECT_EQ(copies.size(), 7u);
  EXPECT_EQ(copies[etc + "/timers.target.wants/fid.timer"].target, etc + "/fid.timer");
  EXPECT_EQ(copies[etc + "/fid.timer"].content, c.store["sha-0"]);
  EXPECT_FALSE(copies.count("/lib/systemd/system/memcached.service")) << "a package's file copied";
  // Sockets before the service they activate, services before timers; the timer's service is
  // not started (the timer starts it), the host's links are not redone by systemctl enable.
  EXPECT_EQ(p.start, (std::vector<std::string>{"fidd.socket", "fidd.service", "fid.timer"}));
  EXPECT_TRUE(p.start_only.count("fid.timer"));
  EXPECT_TRUE(p.start_only.count("fidd.socket"));
  EXPECT_FALSE(p.start_only.count("fidd.service"));
  const std::string y = RenderVarsYaml(p, "", po);
  EXPECT_NE(y.find("st_unit_reload: true\n"), std::string::npos);
  EXPECT_NE(y.find("  - name: !unsafe \"fid.timer\"\n    enable: false\n"), std::string::npos) << y;
  EXPECT_NE(y.find("    target: !unsafe \"/dev/null\"\n"), std::string::npos) << y;

  // The timer disabled on the host (its link removed): the link goes, the timer is stopped; a
  // changed drop-in restarts the running service it modifies.
  StateDiff d2;
  State t2 = c.target;
  UnitConfig w = t2.unit_config.at(etc + "/timers.target.wants/fid.timer");
  d2.unit_config.removed.push_back(w);
  t2.unit_config.erase(w.path);
  UnitConfig dropin = t2.unit_config.at(etc + "/fidd.service.d/override.conf");
  UnitConfig dropin2 = dropin;
  dropin2.sha256 = "sha-0";
  d2.unit_config.changed.emplace_back(dropin, dropin2);
  t2.unit_config[dropin.path] = dropin2;
  DeltaPlan p2 = PlanDelta(d2, t2, facts, po);
  EXPECT_EQ(p2.remove_unit_config, (std::vector<std::string>{etc + "/timers.target.wants/fid.timer"}));
  EXPECT_EQ(p2.stop, (std::vector<std::string>{"fid.timer"}));
  EXPECT_EQ(p2.restart, (std::vector<std::string>{"fidd.service"}));
  EXPECT_TRUE(p2.start.empty());
  // Without host_config none of it.
  EXPECT_TRUE(PlanDelta(d2, t2, facts, PlanOptions{}).empty());
}

TEST_F(HostileRun, UnitConfigArrivesByteExactAsFilesAndLinksAndExecutesNothing) {
  TWIN_REQUIRE(HaveAnsible(), "ansible-playbook missing (scripts/packages.txt: ansible-core)");
  UnitConfigCase c = MakeUnitConfigCase(markers_);
  opts_.host_config = true;
  opts_.config_content = [&](const std::string& sha) -> std::optional<std::string> {
    auto it = c.store.find(sha);
    return it == c.store.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  TwinFacts facts;
  facts.existing_programs = {"/bin/sleep", "/bin/true"};
  DeltaPlan plan = PlanDelta(c.diff, c.target, facts, opts_);
  auto r = RunPlaybook(plan, opts_, target_, ro_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string log = ReadFile(r->log_path);
  ASSERT_EQ(r->exit_code, 0) << log;
  EXPECT_TRUE(r->success()) << log;
  size_t checked = 0;
  for (const UnitConfig& u : c.diff.unit_config.added) {
    if (!UnitConfigRefused(u).empty() || u.content == "package") continue;
    const std::string dest = root_ + u.path;
    SCOPED_TRACE(u.path);
    if (u.type == "symlink") {
      ASSERT_TRUE(fs::is_symlink(dest)) << log;
      EXPECT_EQ(fs::read_symlink(dest).string(), u.target);
    } else {
      EXPECT_EQ(ReadFile(dest), c.store[u.sha256]);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 7u);
  EXPECT_FALSE(fs::exists(root_ + "/lib/systemd/system/memcached.service"));
  EXPECT_FALSE(fs::exists(root_ + "/tmp/x.service"));
  ExpectNoMarkers();
}

}  // namespace
}  // namespace twin::vm
