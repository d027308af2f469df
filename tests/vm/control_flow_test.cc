// Control flow of the twin against libvirt's test driver (test:///default) -- the suites named
// TestDriver* -- : domain definition, snapshot bookkeeping in our catalogue, sync ordering, prune
// bookkeeping, `vm --at` bring-up. The test driver has no disks, no guest and no Ansible run, so
// these prove bookkeeping only; overlays, deltas, block commit and merged points are proven on
// qemu:///system by tests/vm/twin_vm_test.cc. TwinSync's hand-off and backoff are tested
// against libvirt sockets that refuse or never answer.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <fstream>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "eventlog/log.h"
#include "vm/catalogue.h"

#include "tests/vm/vm_cli.h"
#include "vm/domain_xml.h"
#include "vm/twin.h"
#include "vm/twin_sync.h"

namespace twin::vm {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const char* what) {
  std::string t = std::string("/tmp/twin-") + what + "-XXXXXX";
  EXPECT_NE(mkdtemp(t.data()), nullptr);
  // The overlay root lives below: its ancestors must be traversable by the hypervisor's user,
  // which the twin checks (MakeHypervisorDir) whatever the driver.
  chmod(t.c_str(), 0711);
  return t;
}

State StateWithUnit(uint64_t ts, const std::string& unit) {
  State s;
  s.ts_ns = ts;
  s.last_key = {ts, 1};
  if (!unit.empty()) {
    Unit u;
    u.name = unit;
    u.file_path = "/etc/systemd/system/" + unit;
    u.file_content = "[Service]\nExecStart=/usr/bin/python3 -m http.server 8088\n";
    u.file_sha256 = "ab";
    s.units[unit] = u;
  }
  return s;
}

TwinOptions TestOptions(const std::string& dir, const std::string& domain) {
  TwinOptions o;
  o.uri = "test:///default";
  o.domain = domain;
  o.overlay_root = dir + "/overlays";
  o.work_dir = dir + "/work";
  o.image_dir = dir + "/image";
  o.libvirt_metadata = true;  // the test driver can only show snapshots through metadata
  return o;
}

TEST(Catalogue, AtOrBeforeSkipsPrunedAndPicksNewest) {
  MemoryTwinStore store;
  Catalogue c(&store);
  for (uint64_t ts : {100, 200, 300}) {
    SnapshotRecord r;
    r.domain = "d";
    r.id = "d@" + std::to_string(ts);
    r.state_ts_ns = ts;
    r.created_ns = ts + 1;
    r.image = "/img/" + std::to_string(ts);
    r.pruned = ts == 200;
    ASSERT_TRUE(c.Put(r).ok());
  }
  auto at = c.AtOrBefore("d", 250);
  ASSERT_TRUE(at.ok());
  ASSERT_TRUE(at->has_value());
  EXPECT_EQ((*at)->state_ts_ns, 100u);  // 200 was merged away
  at = c.AtOrBefore("d", 99);
  ASSERT_TRUE(at.ok());
  EXPECT_FALSE(at->has_value());
  auto other = c.AtOrBefore("e", 1000);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  auto list = c.List("d");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
}

// Every column family of the log, read straight through RocksDB: the record is in "twin" and
// nowhere else (not an event, not a snapshot, not metadata).
std::map<std::string, std::vector<std::string>> ValuesByColumnFamily(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> out;
  std::vector<std::string> names;
  rocksdb::Options o;
  auto s = rocksdb::DB::ListColumnFamilies(o, dir, &names);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.push_back({n, {}});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(o, dir, cfs, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return out;
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    auto& values = out[names[i]];
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) values.push_back(it->value().ToString());
    db->DestroyColumnFamilyHandle(handles[i]).PermitUncheckedError();
  }
  return out;
}

TEST(Catalogue, LivesInTheEventLogTwinColumnFamily) {
  std::string dir = TempDir("cat");
  {
    auto log = EventLog::OpenWriter(dir + "/log");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EventLogTwinStore store(log->get());
    Catalogue c(&store);
    SnapshotRecord r;
    r.domain = "twin";
    r.id = "twin@1";
    r.state_ts_ns = 42;
    r.image = "/x-catalogue-marker.qcow2";
    r.note = "{{ not templated }}";
    ASSERT_TRUE(c.Put(r).ok());
  }
  auto by_cf = ValuesByColumnFamily(dir + "/log");
  ASSERT_EQ(by_cf.count("twin"), 1u);
  for (const auto& [cf, values] : by_cf) {
    int with_record = 0;
    for (const auto& v : values) with_record += v.find("/x-catalogue-marker.qcow2") != std::string::npos;
    EXPECT_EQ(with_record, cf == "twin" ? 1 : 0) << "column family " << cf;
  }
  auto log = EventLog::OpenReader(dir + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EventLogTwinStore store(log->get());
  Catalogue c(&store);
  auto at = c.AtOrBefore("twin", 42);
  ASSERT_TRUE(at.ok());
  ASSERT_TRUE(at->has_value());
  EXPECT_EQ((*at)->image, "/x-catalogue-marker.qcow2");
  EXPECT_EQ((*at)->note, "{{ not templated }}");
  fs::remove_all(dir);
}

TEST(DomainXml, TcgWhenNoHardwareKvmAndEscapesPaths) {
  DomainSpec s;
  s.name = "t";
  s.accel = Accel::kTcg;
  s.disk = "/a/b'<c>.qcow2";
  s.kernel = "/k";
  s.initrd = "/i";
  std::string x = DomainXml(s);
  EXPECT_NE(x.find("<domain type='qemu'>"), std::string::npos);
  EXPECT_NE(x.find("/a/b&apos;&lt;c&gt;.qcow2"), std::string::npos);
  EXPECT_NE(x.find("org.qemu.guest_agent.0"), std::string::npos);
  EXPECT_EQ(x.find("<interface"), std::string::npos);  // no NIC unless asked
  EXPECT_EQ(DiskSourceFromXml(x), "/a/b'<c>.qcow2");
  s.accel = Accel::kKvm;
  EXPECT_NE(DomainXml(s).find("<domain type='kvm'>"), std::string::npos);
}

// libvirtd going away while we write to it (restart, crash) must not kill the process: after
// a connection, SIGPIPE is ignored and such a write is an EPIPE error instead.
TEST(Virt, AConnectionLeavesTheProcessImmuneToSigpipe) {
  auto v = Virt::Open("test:///default");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);  // the peer is gone
  errno = 0;
  EXPECT_EQ(write(sv[0], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  close(sv[0]);
}

TEST(Accel, PvmHostFallsBackToTcg) {
  std::string root = TempDir("accel");
  fs::create_directories(root + "/dev");
  fs::create_directories(root + "/sys/module/kvm_pvm");
  { std::ofstream(root + "/dev/kvm") << ""; }
  auto c = DetectAccel("auto", root);
  EXPECT_EQ(c.accel, Accel::kTcg);
  EXPECT_NE(c.reason.find("PVM"), std::string::npos);
  fs::remove_all(root + "/sys/module/kvm_pvm");
  fs::create_directories(root + "/sys/module/kvm_amd");
  EXPECT_EQ(DetectAccel("auto", root).accel, Accel::kKvm);
  fs::remove(root + "/dev/kvm");
  EXPECT_EQ(DetectAccel("auto", root).accel, Accel::kTcg);
  EXPECT_EQ(DetectAccel("kvm", root).accel, Accel::kKvm);
  fs::remove_all(root);
}

class TestDriverControlFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("cf");
    domain_ = "cf" + std::to_string(getpid()) + "-" +
              std::to_string(counter_++);
    auto t = TwinVm::Open(TestOptions(dir_, domain_), &catalogue_,
                          [this](const Event& e) { events_.push_back(e); });
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    twin_ = std::move(t.value());
  }
  void TearDown() override {
    if (twin_) {
      auto names = twin_->virt().ListDomains();
      if (names.ok()) {
        for (const auto& n : *names) {
          if (n.rfind(domain_, 0) == 0) twin_->virt().Undefine(n).IgnoreError();
        }
      }
    }
    fs::remove_all(dir_);
  }
  int CountEvents(const std::string& action, const std::string& status = "") {
    int n = 0;
    for (const auto& e : events_) {
      bool a = false, s = status.empty();
      for (const auto& [k, v] : e.attrs) {
        if (k == "action" && v == action) a = true;
        if (k == "status" && v == status) s = true;
      }
      n += a && s;
    }
    return n;
  }
  static inline int counter_ = 0;
  std::string dir_, domain_;
  MemoryTwinStore store_;
  Catalogue catalogue_{&store_};
  std::vector<Event> events_;
  std::unique_ptr<TwinVm> twin_;
};

TEST_F(TestDriverControlFlow, EnsureRunningDefinesStartsAndIsIdempotent) {
  auto r = twin_->EnsureRunning();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(twin_->virt().IsActive(domain_).value());
  auto rec = twin_->LoadDomainRecord(domain_);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->chain.size(), 1u);
  EXPECT_EQ(rec->applied_state_ts_ns, 0u);
  ASSERT_TRUE(twin_->EnsureRunning().ok());
  EXPECT_EQ(twin_->LoadDomainRecord(domain_)->chain.size(), 1u);
}

TEST_F(TestDriverControlFlow, SyncCataloguesTheAppliedStateBeforePlanningTheDelta) {
  State s0, s1 = StateWithUnit(1000, "twin-demo.service"), s2 = StateWithUnit(2000, "");
  auto out = twin_->Sync(s0, s1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->success());
  // Nothing reflected yet: no snapshot of the pristine twin.
  EXPECT_EQ(catalogue_.List(domain_)->size(), 0u);
  EXPECT_EQ(twin_->LoadDomainRecord(domain_)->applied_state_ts_ns, 1000u);
  EXPECT_EQ(CountEvents("plan"), 1);

  out = twin_->Sync(s1, s2);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto list = catalogue_.List(domain_);
  ASSERT_EQ(list->size(), 1u);
  const auto& snap = (*list)[0];
  EXPECT_EQ(snap.state_ts_ns, 1000u);  // the twin as it reflected s1, frozen before removing
  EXPECT_TRUE(snap.consistent);
  auto rec = twin_->LoadDomainRecord(domain_);
  EXPECT_EQ(rec->chain.size(), 2u);
  EXPECT_EQ(snap.image, rec->chain[0]);
  EXPECT_EQ(rec->active_overlay, rec->chain[1]);
  EXPECT_EQ(rec->applied_state_ts_ns, 2000u);
  auto names = twin_->virt().SnapshotNames(domain_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u);
  EXPECT_EQ(CountEvents("snapshot", "ok"), 1);
}

TEST_F(TestDriverControlFlow, PruneRetiresTheOldestPointsAndKeepsTheCatalogueTrue) {
  auto t = TwinVm::Open(
      [&] {
        auto o = TestOptions(dir_, domain_);
        o.max_chain = 2;
        return o;
      }(),
      &catalogue_, nullptr);
  ASSERT_TRUE(t.ok());
  twin_ = std::move(t.value());
  State prev;
  for (uint64_t i = 1; i <= 5; ++i) {
    State next = StateWithUnit(i * 1000, i % 2 ? "a.service" : "b.service");
    auto out = twin_->Sync(prev, next);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    prev = next;
  }
  auto rec = twin_->LoadDomainRecord(domain_);
  EXPECT_EQ(rec->chain.size(), 3u);  // max_chain frozen layers + the active one
  auto list = catalogue_.List(domain_);
  ASSERT_EQ(list->size(), 4u);
  int live = 0;
  for (const auto& r : *list) {
    if (r.pruned) continue;
    ++live;
    EXPECT_NE(std::find(rec->chain.begin(), rec->chain.end(), r.image), rec->chain.end())
        << r.id << " points at a layer that is gone: " << r.image;
  }
  EXPECT_EQ(live, 2);
  EXPECT_EQ(catalogue_.AtOrBefore(domain_, 1500)->has_value(), false);  // merged away
  EXPECT_EQ(catalogue_.AtOrBefore(domain_, 4500).value()->state_ts_ns, 4000u);
}

TEST_F(TestDriverControlFlow, BringUpAtUsesTheNearestSnapshotUnderItsOwnName) {
  State s0, s1 = StateWithUnit(1000, "twin-demo.service"), s2 = StateWithUnit(2000, "");
  ASSERT_TRUE(twin_->Sync(s0, s1).ok());
  ASSERT_TRUE(twin_->Sync(s1, s2).ok());
  std::vector<uint64_t> asked;
  auto state_at = [&](uint64_t t) -> Result<State> {
    asked.push_back(t);
    return t < 2000 ? s1 : s2;
  };
  auto name = twin_->BringUpAt(1500, false, state_at);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_NE(*name, domain_);
  EXPECT_EQ(name->rfind(domain_ + "-at-", 0), 0u);
  EXPECT_TRUE(twin_->virt().IsActive(*name).value());
  EXPECT_TRUE(twin_->virt().IsActive(domain_).value());  // the live twin is untouched
  auto rec = twin_->LoadDomainRecord(*name);
  ASSERT_TRUE(rec.ok());
  EXPECT_TRUE(rec->from_snapshot);
  EXPECT_EQ(rec->base_image, catalogue_.List(domain_).value()[0].image);
  EXPECT_EQ(asked, (std::vector<uint64_t>{1000, 1500}));

  auto replaced = twin_->BringUpAt(1500, true, state_at);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ(*replaced, domain_);
  auto main = twin_->LoadDomainRecord(domain_);
  EXPECT_EQ(main->applied_state_ts_ns, 1000u);  // s1's time: what the twin now reflects
  EXPECT_EQ(CountEvents("revert"), 2);
}

TEST_F(TestDriverControlFlow, VmAtCopiesAreListedAndRemovedButNeverTheLiveTwin) {
  State s0, s1 = StateWithUnit(1000, "twin-demo.service"), s2 = StateWithUnit(2000, "");
  ASSERT_TRUE(twin_->Sync(s0, s1).ok());
  ASSERT_TRUE(twin_->Sync(s1, s2).ok());
  auto state_at = [&](uint64_t t) -> Result<State> { return t < 2000 ? s1 : s2; };
  auto copy = twin_->BringUpAt(1500, false, state_at);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  const std::string snapshot_image = catalogue_.List(domain_).value()[0].image;

  auto copies = twin_->AtDomains();
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ((*copies)[0].domain, *copy);
  EXPECT_EQ((*copies)[0].applied_state_ts_ns, 1000u);

  const std::vector<std::string> common = {"--uri", "test:///default", "--domain", domain_,
                                           "--overlay-root", dir_ + "/overlays"};
  auto cli = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {"twin-replay", "vm"});
    args.insert(args.end(), common.begin(), common.end());
    return testing::RunVmCli(args, out);
  };
  std::string out;
  EXPECT_EQ(cli({"--domains"}, &out), 0);
  EXPECT_NE(out.find(*copy), std::string::npos) << out;
  EXPECT_NE(out.find("yes"), std::string::npos) << out;  // running
  EXPECT_EQ(out.find(domain_ + " "), std::string::npos) << "the live twin is not a copy:\n" << out;
  EXPECT_EQ(cli({"--domains", "--json"}, &out), 0);
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j.size(), 1u) << out;
  EXPECT_EQ(j[0]["domain"], *copy);
  EXPECT_EQ(j[0]["running"], true);
  EXPECT_EQ(j[0]["state_ts_ns"], 1000u);

  // Never the live twin, nothing outside "<domain>-at-", no path games.
  EXPECT_EQ(cli({"--remove", domain_}, &out), 2);
  EXPECT_EQ(cli({"--remove", domain_ + "-at-../" + domain_}, &out), 2);
  EXPECT_EQ(cli({"--remove", "other-at-1"}, &out), 2);
  EXPECT_EQ(cli({"--remove", domain_ + "-at-20991231T000000Z"}, &out), 1);  // no such copy
  EXPECT_EQ(cli({"--list", "--remove", *copy}, &out), 2);
  EXPECT_TRUE(twin_->virt().IsActive(*copy).value());

  EXPECT_EQ(cli({"--remove", *copy}, &out), 0) << out;
  EXPECT_FALSE(twin_->virt().Exists(*copy).value());
  EXPECT_FALSE(fs::exists(twin_->DomainDir(*copy)));
  EXPECT_TRUE(twin_->AtDomains().value().empty());
  EXPECT_EQ(cli({"--remove", *copy}, &out), 1);  // gone
  EXPECT_EQ(cli({"--domains"}, &out), 0);
  EXPECT_NE(out.find("no `vm --at` copies"), std::string::npos) << out;
  // The live twin, its record and the snapshot layer the copy was built on are untouched.
  EXPECT_TRUE(twin_->virt().IsActive(domain_).value());
  EXPECT_TRUE(twin_->LoadDomainRecord(domain_).ok());
  EXPECT_EQ(catalogue_.List(domain_).value()[0].image, snapshot_image);
  EXPECT_TRUE(fs::exists(twin_->DomainDir(domain_) + "/domain.json"));
  // Through the API the same refusals hold; removals are recorded as twin actions.
  EXPECT_EQ(twin_->RemoveAtDomain(domain_).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CountEvents("remove"), 0);  // the CLI's TwinVm has its own sink
}

// TwinSync pointed at a libvirt socket of the test's making (or none), polling faster.
TwinOptions OptionsAtSocket(const std::string& dir, const std::string& domain,
                            const std::string& socket) {
  TwinOptions o = TestOptions(dir, domain);
  o.uri = "qemu+unix:///system?socket=" + dir + "/" + socket;
  return o;
}
TwinSyncOptions FastRetries() {
  TwinSyncOptions so;
  so.initial_backoff = std::chrono::milliseconds(50);
  so.max_backoff = std::chrono::milliseconds(200);
  return so;
}
// Polls until pred holds or 30 s have passed (a deadline, not a measurement).
template <typename Pred>
void WaitUntil(Pred pred) {
  for (int i = 0; i < 600 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

std::string Attr(const Event& e, const std::string& key) {
  for (const auto& [k, v] : e.attrs) {
    if (k == key) return v;
  }
  return "";
}

// Each failed attempt is a twin event naming the wait before the next one; the waits double up
// to the cap, and the next attempt never comes sooner (a lower bound: load only adds to it).
TEST(TwinSync, FailuresAreEventsRetriedAfterADoublingBackoff) {
  std::string dir = TempDir("sync");
  auto log = EventLog::OpenWriter(dir + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  TwinSync sync(OptionsAtSocket(dir, "syncfail", "no-such-libvirt-sock"), log->get(), FastRetries());
  sync.Start();
  Snapshot snap;
  snap.state = StateWithUnit(1000, "twin-demo.service");
  sync.OnSnapshot(snap);
  WaitUntil([&] { return sync.stats().syncs_failed >= 5; });
  sync.Stop();
  ASSERT_GE(sync.stats().syncs_failed, 5u) << sync.stats().last_error;
  EXPECT_EQ(sync.stats().syncs_ok, 0u);
  EXPECT_NE(sync.stats().last_error.find("no-such-libvirt-sock"), std::string::npos)
      << sync.stats().last_error;
  std::vector<Event> failures;
  auto s = (*log)->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey&, const Event& e) {
    if (e.kind == EventKind::kTwinAction && Attr(e, "action") == "sync" &&
        Attr(e, "status") == "failed") {
      failures.push_back(e);
    }
    return true;
  });
  ASSERT_TRUE(s.ok());
  ASSERT_GE(failures.size(), 5u);
  const std::vector<std::string> waits = {"50", "100", "200", "200", "200"};
  for (size_t i = 0; i < waits.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(Attr(failures[i], "retry_in_ms"), waits[i]);
    EXPECT_NE(Attr(failures[i], "error").find("no-such-libvirt-sock"), std::string::npos);
    if (i + 1 < failures.size()) {
      const uint64_t wait_ns = std::stoull(waits[i]) * 1000000;
      EXPECT_GE(failures[i + 1].ts_ns + 1000000, failures[i].ts_ns + wait_ns)
          << "attempt " << i + 1 << " came before its backoff was over";
    }
  }
  log->reset();
  fs::remove_all(dir);
}

// A libvirt socket that accepts connections and never answers: a client connecting to it
// blocks inside virConnectOpen until the connection is closed.
class SilentLibvirtSocket {
 public:
  explicit SilentLibvirtSocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path_.c_str(), sizeof(sa.sun_path) - 1);
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
          listen(fd_, 4) == 0;
    timeval tv{120, 0};  // a deadline for Accept, not a measurement
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~SilentLibvirtSocket() { CloseAll(); }
  bool ok() const { return ok_; }
  bool Accept() {
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    conns_.push_back(c);
    return true;
  }
  // Closing the connections ends the client's wait; closing the listener refuses new ones.
  void CloseAll() {
    for (int c : conns_) close(c);
    conns_.clear();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::vector<int> conns_;
};

// twind's compactor calls OnSnapshot on its own thread: it must return while the worker is
// stuck in libvirt (here provably so: connected to a socket that never answers).
TEST(TwinSync, OnSnapshotReturnsWhileTheWorkerIsStuckInLibvirt) {
  std::string dir = TempDir("syncstuck");
  auto log = EventLog::OpenWriter(dir + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  SilentLibvirtSocket libvirt(dir + "/libvirt-sock");
  ASSERT_TRUE(libvirt.ok()) << strerror(errno);
  TwinSync sync(OptionsAtSocket(dir, "syncstuck", "libvirt-sock"), log->get(), FastRetries());
  sync.Start();
  Snapshot snap;
  snap.state = StateWithUnit(1000, "twin-demo.service");
  sync.OnSnapshot(snap);
  ASSERT_TRUE(libvirt.Accept()) << "the worker never connected to libvirt";
  // The worker now waits for libvirt's answer; the caller carries on regardless.
  for (int i = 0; i < 100; ++i) {
    snap.state.ts_ns = 1001 + i;
    sync.OnSnapshot(snap);
  }
  auto st = sync.stats();
  EXPECT_EQ(st.received, 101u);
  EXPECT_EQ(st.syncs_failed, 0u);  // still inside the connect
  EXPECT_EQ(st.syncs_ok, 0u);
  libvirt.CloseAll();
  WaitUntil([&] { return sync.stats().syncs_failed >= 1; });
  sync.Stop();
  EXPECT_GE(sync.stats().syncs_failed, 1u);
  EXPECT_EQ(sync.stats().syncs_ok, 0u);
  log->reset();
  fs::remove_all(dir);
}

TEST(TestDriverTwinSync, CatchesUpFromTheNewestStateAndRecordsTheCatalogue) {
  std::string dir = TempDir("sync2");
  auto log = EventLog::OpenWriter(dir + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  TwinOptions o = TestOptions(dir, "syncok" + std::to_string(getpid()));
  TwinSync sync(o, log->get());
  sync.Start();
  Snapshot a, b;
  a.state = StateWithUnit(1000, "twin-demo.service");
  b.state = StateWithUnit(2000, "");
  sync.OnSnapshot(a);
  for (int i = 0; i < 200 && sync.stats().syncs_ok < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sync.OnSnapshot(b);
  for (int i = 0; i < 200 && sync.stats().syncs_ok < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Snapshot c = b;  // process churn only: not significant
  c.state.ts_ns = 3000;
  c.state.processes[{1, 1}] = Process{};
  sync.OnSnapshot(c);
  for (int i = 0; i < 200 && sync.stats().skipped < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sync.Stop();
  EXPECT_EQ(sync.stats().syncs_ok, 2u) << sync.stats().last_error;
  EXPECT_EQ(sync.stats().skipped, 1u);
  EventLogTwinStore store(log->get());
  Catalogue cat(&store);
  auto list = cat.List(o.domain);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state_ts_ns, 1000u);
  auto v = twin::vm::Virt::Open("test:///default");
  ASSERT_TRUE(v.ok());
  (*v)->Undefine(o.domain).IgnoreError();
  log->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace twin::vm
