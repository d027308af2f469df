// The real twin (label vm) on qemu:///system. One twin is booted for the whole binary (a
// GoogleTest environment; CTest runs the binary as one entry) and the tests below run on it in
// order, each building on what the previous left:
//   1. host changes (a unit added, removed, added with other content, removed) become real
//      external snapshots and Ansible delta runs: the overlay chain qemu reports is the one our
//      record says, and the guest agent shows the unit, its listener and its file content;
//   2. the twin at a snapshot's time comes from the frozen layer alone (no delta runs): the unit
//      is there with that time's content;
//   3. pruning block-commits the real frozen layers into the oldest: the surviving point's image
//      holds exactly the disk of the point it now stands for (qemu-img compare), the twin runs on;
//   4. a multi-unit state lands whole in the twin, and a one-unit delta restarts only that unit.
// Prints BENCH lines (snapshot latency, host change -> twin p50, full state vs delta) quoted in
// docs/BENCHMARKS.md; nothing here asserts a duration.
//
// SAFETYTWIN_VMTEST_DOMAIN names the twin's domain (default safetytwin-vmtest), so two people
// can run this on one host; SAFETYTWIN_KEEP_VMTEST=1 keeps the log and the domains.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/log.h"
#include "eventlog/timefmt.h"
#include "tests/common/skip.h"
#include "vm/catalogue.h"
#include "vm/domain_xml.h"
#include "vm/process.h"
#include "vm/twin.h"
#include "vm/debs.h"

#include <openssl/evp.h>

namespace twin::vm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kDemo[] = "twin-demo.service";
constexpr char kDemoPath[] = "/etc/systemd/system/twin-demo.service";

std::string DemoUnit(uint16_t port, const std::string& tag = "") {
  return fmt::format(
      "[Unit]\nDescription=safetytwin demo{}\n[Service]\n"
      "ExecStart=/usr/bin/python3 -m http.server {} --bind 127.0.0.1\n"
      "[Install]\nWantedBy=multi-user.target\n",
      tag.empty() ? "" : " " + tag, port);
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::map<std::string, std::string> ParseKv(const std::string& out) {
  std::map<std::string, std::string> kv;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

std::string Attr(const Event& e, const std::string& key) {
  for (const auto& [k, v] : e.attrs) {
    if (k == key) return v;
  }
  return "";
}

// What one test leaves for the next, and the one twin they all share.
struct RealTwin {
  std::string image_dir, dir;
  std::unique_ptr<EventLog> log;
  std::unique_ptr<EventLogTwinStore> store;
  std::unique_ptr<Catalogue> catalogue;
  TwinOptions options;
  std::unique_ptr<TwinVm> twin;
  State applied;               // what the live twin reflects
  uint64_t round0_added = 0;   // a time at which the host had round 0's unit
  std::string round0_content;  // that unit's file
  bool host_changes_done = false, pruned = false;

  void CleanDomains() {
    auto names = twin->virt().ListDomains();
    if (names.ok()) {
      for (const auto& n : *names) {
        if (n.rfind(options.domain, 0) == 0) twin->virt().Undefine(n).IgnoreError();
      }
    }
    std::error_code ec;
    fs::remove_all(options.overlay_root, ec);
  }
};
RealTwin* g_twin = nullptr;

// Why the twin could not be set up for lack of a capability ("" = it could). The environment
// only records it: a skip must be taken inside each test (TWIN_REQUIRE in the fixture), where
// GoogleTest reports it as a skip -- skipped in a global environment, the tests would be reported
// as passed.
std::string g_missing;

class RealTwinEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto require = [](bool cond, const std::string& reason) {
      if (!cond && g_missing.empty()) g_missing = reason;
      return cond;
    };
    if (!require(geteuid() == 0, "the twin VM test needs root (libvirt qemu:///system)") ||
        !require(access("/usr/bin/qemu-system-x86_64", X_OK) == 0, "qemu-system-x86 missing") ||
        !require(access("/usr/bin/ansible-playbook", X_OK) == 0, "ansible-core missing")) {
      return;
    }
    auto t0 = Clock::now();
    ProcessOptions po;
    po.timeout_ms = 20 * 60 * 1000;
    auto img = RunProcess({TWIN_SOURCE_DIR "/scripts/build-twin-image.sh"}, po);
    if (!require(img.ok() && img->exit_code == 0,
                 "scripts/build-twin-image.sh failed: " +
                     (img.ok() ? img->err : img.status().ToString()))) {
      return;
    }
    auto t = std::make_unique<RealTwin>();
    auto kv = ParseKv(img->out);
    t->image_dir = kv["TWIN_IMAGE_DIR"];
    ASSERT_FALSE(t->image_dir.empty()) << img->out;
    std::printf("BENCH image %s (%s) in %.1f s\n", t->image_dir.c_str(),
                kv["TWIN_IMAGE_BUILT"] == "1" ? "built" : "cached", MsSince(t0) / 1000);
    auto lv = RunProcess({TWIN_SOURCE_DIR "/scripts/start-libvirt.sh"}, po);
    if (!require(lv.ok() && lv->exit_code == 0,
                 "scripts/start-libvirt.sh failed: " +
                     (lv.ok() ? lv->err : lv.status().ToString()))) {
      return;
    }

    char tmpl[] = "/tmp/twin-vmtest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    t->dir = tmpl;
    auto log = EventLog::OpenWriter(t->dir + "/log");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    t->log = std::move(log.value());
    t->store = std::make_unique<EventLogTwinStore>(t->log.get());
    t->catalogue = std::make_unique<Catalogue>(t->store.get());
    const char* domain = std::getenv("SAFETYTWIN_VMTEST_DOMAIN");
    t->options.domain = domain && *domain ? domain : "safetytwin-vmtest";
    t->options.image_dir = t->image_dir;
    // Per domain and outside the daemon's root, so that cleaning up never touches the overlays
    // of twind's twin or of another run.
    t->options.overlay_root = "/var/lib/libvirt/images/vmtest-" + t->options.domain;
    t->options.work_dir = t->dir + "/runs";
    EventLog* raw_log = t->log.get();
    auto vm = TwinVm::Open(t->options, t->catalogue.get(), [raw_log](const Event& e) {
      raw_log->Append(e).status().IgnoreError();
    });
    ASSERT_TRUE(vm.ok()) << vm.status().ToString();
    t->twin = std::move(vm.value());
    t->CleanDomains();
    auto boot = t->twin->EnsureRunning();
    ASSERT_TRUE(boot.ok()) << boot.status().ToString();
    std::printf("BENCH boot_to_agent_ms=%.0f accel=%s (%s)\n", *boot,
                AccelName(t->twin->accel().accel), t->twin->accel().reason.c_str());
    g_twin = t.release();
  }
  void TearDown() override {
    if (!g_twin) return;
    const char* keep = std::getenv("SAFETYTWIN_KEEP_VMTEST");
    if (keep && std::string(keep) == "1") {
      std::printf("kept %s/log and the %s domains\n", g_twin->dir.c_str(),
                  g_twin->options.domain.c_str());
      return;
    }
    const bool passed = ::testing::UnitTest::GetInstance()->Passed();
    if (passed) g_twin->CleanDomains();
    g_twin->twin.reset();
    g_twin->log.reset();
    if (passed) fs::remove_all(g_twin->dir);
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new RealTwinEnvironment);

class TwinVmReal : public ::testing::Test {
 protected:
  void SetUp() override {
    TWIN_REQUIRE(g_missing.empty(), g_missing);
    ASSERT_NE(g_twin, nullptr) << "the shared twin did not come up (see the environment set-up)";
  }

  RealTwin& T() { return *g_twin; }
  TwinVm& Twin() { return *g_twin->twin; }
  const std::string& Domain() { return g_twin->options.domain; }

  // Host changes as real events in the log: the states the twin follows are folds of the log,
  // exactly what twind's compactor and `twin-replay vm --at` see.
  void HostAddsDemo(const std::string& content) {
    Event u;
    u.kind = EventKind::kUnitStart;
    u.ts_ns = WallNowNs();
    u.unit = kDemo;
    u.unit_file_path = kDemoPath;
    u.unit_file_content = content;
    u.unit_file_sha256 = std::to_string(std::hash<std::string>{}(content));
    u.cgroup = "/system.slice/twin-demo.service";
    Event l;
    l.kind = EventKind::kSocketListen;
    l.ts_ns = u.ts_ns;
    l.proto = kProtoTcp;
    l.family = kFamilyInet;
    l.addr = "127.0.0.1";
    l.port = 8088;
    l.unit = u.unit;
    l.comm = "python3";
    l.pid = 4242;
    l.start_ns = 1;
    ASSERT_TRUE(T().log->Append(std::vector<Event>{u, l}).ok());
  }
  void HostRemovesDemo() {
    Event u;
    u.kind = EventKind::kUnitStop;
    u.ts_ns = WallNowNs();
    u.unit = kDemo;
    Event l;
    l.kind = EventKind::kListenerClose;
    l.ts_ns = u.ts_ns;
    l.proto = kProtoTcp;
    l.family = kFamilyInet;
    l.addr = "127.0.0.1";
    l.port = 8088;
    ASSERT_TRUE(T().log->Append(std::vector<Event>{u, l}).ok());
  }
  State LogStateAt(uint64_t t) {
    auto s = StateAt(*T().log, t);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : State{};
  }

  // Polls the guest until the unit and its listener reach the wanted state; ms or -1.
  double WaitFor(const std::string& domain, const std::string& unit, uint16_t port, bool want,
                 int timeout_s = 180) {
    auto t0 = Clock::now();
    while (MsSince(t0) < timeout_s * 1000.0) {
      auto a = Twin().UnitActive(domain, unit);
      auto l = Twin().Listening(domain, kProtoTcp, port);
      if (a.ok() && l.ok() && *a == want && *l == want) return MsSince(t0);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return -1;
  }
  // A file in the guest through the agent (argv only), or "<absent>".
  std::string GuestFile(const std::string& domain, const std::string& path) {
    auto r = Twin().virt().GuestExec(domain, "/bin/cat", {path}, "", 60000);
    if (!r.ok()) return "<agent error: " + r.status().message() + ">";
    return r->exit_code == 0 ? r->out : "<absent>";
  }
  std::string GuestSystemctlShow(const std::string& domain, const std::string& unit,
                                 const std::string& property) {
    auto r = Twin().virt().GuestExec(domain, "/bin/systemctl",
                                     {"show", "--value", "-p", property, unit}, "", 60000);
    return r.ok() && r->exit_code == 0 ? std::string(r->out.substr(0, r->out.find('\n'))) : "";
  }

  // The overlay chain as qemu sees it, top first (-U: the images are in use by the twin).
  std::vector<std::string> QemuBackingChain(const std::string& top) {
    ProcessOptions po;
    po.timeout_ms = 120000;
    auto r = RunProcess({"qemu-img", "info", "-U", "--backing-chain", "--output=json", top}, po);
    std::vector<std::string> out;
    if (!r.ok() || r->exit_code != 0) {
      ADD_FAILURE() << "qemu-img info " << top << ": " << (r.ok() ? r->err : r.status().ToString());
      return out;
    }
    for (const auto& layer : nlohmann::json::parse(r->out)) {
      out.push_back(layer["filename"].get<std::string>());
    }
    return out;
  }
  // Our domain record, the disk libvirt runs the twin on and qemu's own view of the chain agree.
  void ExpectRealChainMatchesTheRecord() {
    auto rec = Twin().LoadDomainRecord(Domain());
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    auto xml = Twin().virt().XmlDesc(Domain());
    ASSERT_TRUE(xml.ok()) << xml.status().ToString();
    EXPECT_EQ(DiskSourceFromXml(*xml), rec->active_overlay);
    std::vector<std::string> want(rec->chain.rbegin(), rec->chain.rend());
    want.push_back(rec->base_image);
    EXPECT_EQ(QemuBackingChain(rec->active_overlay), want);
  }
  int CountTwinEvents(const std::string& domain, const std::string& action) {
    int n = 0;
    auto s = T().log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey&, const Event& e) {
      n += e.kind == EventKind::kTwinAction && Attr(e, "domain") == domain &&
           Attr(e, "action") == action;
      return true;
    });
    EXPECT_TRUE(s.ok());
    return n;
  }
};

TEST_F(TwinVmReal, HostChangesBecomeRealSnapshotsAndDeltaRunsInTheGuest) {
  std::vector<double> change_ms;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    // Host change: the unit appears, with this round's file. Measured end to end.
    const std::string content = DemoUnit(8088, fmt::format("round {}", round));
    HostAddsDemo(content);
    const uint64_t t_add = WallNowNs();
    if (round == 0) {
      T().round0_added = t_add;
      T().round0_content = content;
    }
    State add = LogStateAt(t_add);
    ASSERT_EQ(add.units.count(kDemo), 1u);
    ASSERT_EQ(add.listeners.size(), 1u);
    auto t0 = Clock::now();
    auto out = Twin().Sync(T().applied, add);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_TRUE(out->success()) << "delta run failed, log: " << out->run.log_path;
    EXPECT_GT(out->run.changed, 0) << out->run.log_path;
    ASSERT_GE(WaitFor(Domain(), kDemo, 8088, true), 0) << "unit not active+listening in the twin";
    change_ms.push_back(MsSince(t0));
    EXPECT_EQ(GuestFile(Domain(), kDemoPath), content);
    std::printf("BENCH change=add round=%d sync_ms=%.0f ansible_ms=%.0f reflected_ms=%.0f\n",
                round, out->total_ms, out->run.elapsed_ms, change_ms.back());
    T().applied = add;
    ExpectRealChainMatchesTheRecord();

    // Host change: the unit goes away (the twin is snapshotted first, reflecting `add`).
    HostRemovesDemo();
    State without = LogStateAt(WallNowNs());
    ASSERT_EQ(without.units.count(kDemo), 0u);
    const size_t snapshots_before = T().catalogue->List(Domain()).value().size();
    t0 = Clock::now();
    out = Twin().Sync(T().applied, without);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_TRUE(out->success()) << "delta run failed, log: " << out->run.log_path;
    ASSERT_GE(WaitFor(Domain(), kDemo, 8088, false), 0) << "unit still active or listening";
    change_ms.push_back(MsSince(t0));
    EXPECT_EQ(GuestFile(Domain(), kDemoPath), "<absent>");
    std::printf("BENCH change=remove round=%d sync_ms=%.0f ansible_ms=%.0f reflected_ms=%.0f\n",
                round, out->total_ms, out->run.elapsed_ms, change_ms.back());
    // Exactly one new point, reflecting `add`, on the layer that was active until now.
    auto list = T().catalogue->List(Domain());
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), snapshots_before + 1);
    EXPECT_EQ(list->back().state_ts_ns, add.ts_ns);
    T().applied = without;
    ExpectRealChainMatchesTheRecord();
  }
  // Adding after a removal snapshots too: three syncs after the first, three points.
  auto list = T().catalogue->List(Domain());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3u);
  for (const auto& s : *list) {
    EXPECT_TRUE(fs::exists(s.image)) << s.image;
    std::printf("BENCH snapshot id=%s libvirt_ms=%.1f with_catalogue_ms=%.1f depth=%u\n",
                s.id.c_str(), s.snapshot_ms, s.total_ms, s.chain_depth);
  }
  std::vector<double> sorted = change_ms;
  std::sort(sorted.begin(), sorted.end());
  std::printf("BENCH host_change_to_twin_p50_ms=%.0f samples=%zu\n", sorted[sorted.size() / 2],
              sorted.size());
  T().host_changes_done = true;
}

TEST_F(TwinVmReal, TheTwinAtASnapshotTimeComesFromTheFrozenLayerAlone) {
  ASSERT_TRUE(T().host_changes_done) << "needs the points of the test before";
  // `twin-replay vm --at`: at round 0's time the newest point is round 0's own, and the state
  // at that point equals the state at t, so nothing is planned or run: what the copy shows is
  // what the frozen layer holds.
  auto state_at = [&](uint64_t t) { return StateAt(*T().log, t); };
  auto t0 = Clock::now();
  auto name = Twin().BringUpAt(T().round0_added, false, state_at);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_NE(*name, Domain());
  EXPECT_EQ(CountTwinEvents(*name, "plan"), 0);
  EXPECT_EQ(CountTwinEvents(*name, "delta_run"), 0);
  EXPECT_GE(WaitFor(*name, kDemo, 8088, true), 0) << "twin-demo.service is not back in " << *name;
  EXPECT_EQ(GuestFile(*name, kDemoPath), T().round0_content);
  std::printf("BENCH vm_at_ms=%.0f domain=%s\n", MsSince(t0), name->c_str());
  // The live twin still reflects the newest state.
  auto live = Twin().UnitActive(Domain(), kDemo);
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(*live);
  // `twin-replay vm --remove`: the copy is listed, then stopped, undefined and its overlays
  // deleted; the layers it was built on are then free for the prune below.
  auto copies = Twin().AtDomains();
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ((*copies)[0].domain, *name);
  const std::string copy_overlay = (*copies)[0].active_overlay;
  EXPECT_TRUE(fs::exists(copy_overlay)) << copy_overlay;
  auto removed = Twin().RemoveAtDomain(*name);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  EXPECT_FALSE(Twin().virt().Exists(*name).value());
  EXPECT_FALSE(fs::exists(copy_overlay)) << copy_overlay;
  EXPECT_TRUE(Twin().AtDomains().value().empty());
  EXPECT_TRUE(Twin().virt().IsActive(Domain()).value());
}

// Copies of frozen layers, rebased onto each other (the base left off), flattened into one
// standalone image: the disk of the newest copied point, as far as the overlays hold it.
std::string FlattenOverlays(const std::vector<std::string>& layers, const std::string& dir) {
  std::string below;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string copy = fmt::format("{}/layer{}.qcow2", dir, i);
    fs::copy_file(layers[i], copy, fs::copy_options::overwrite_existing);
    auto r = below.empty()
                 ? RunProcess({"qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "", copy})
                 : RunProcess({"qemu-img", "rebase", "-u", "-f", "qcow2", "-b", below, "-F",
                               "qcow2", copy});
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << "rebase " << copy << ": " << (r.ok() ? r->err : "");
    below = copy;
  }
  const std::string flat = dir + "/flat.qcow2";
  auto c = RunProcess({"qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", below, flat});
  EXPECT_TRUE(c.ok() && c->exit_code == 0) << (c.ok() ? c->err : c.status().ToString());
  return flat;
}

TEST_F(TwinVmReal, PruneBlockCommitsRealLayersAndTheMergedPointKeepsItsDisk) {
  ASSERT_TRUE(T().host_changes_done) << "needs the points of the first test";
  auto before = Twin().LoadDomainRecord(Domain());
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->chain.size(), 4u);  // three frozen layers + the active one
  auto points_before = T().catalogue->List(Domain()).value();
  ASSERT_EQ(points_before.size(), 3u);
  const SnapshotRecord newest = points_before.back();
  ASSERT_EQ(newest.image, before->chain[2]);
  // The newest point's disk above the base, taken before the prune touches anything.
  const std::string work = T().dir + "/prune";
  fs::create_directories(work + "/before");
  fs::create_directories(work + "/after");
  const std::string expected =
      FlattenOverlays({before->chain[0], before->chain[1], before->chain[2]}, work + "/before");

  // Commit the oldest frozen layers of the running twin (live block commit) down to one.
  TwinOptions prune_opts = T().options;
  prune_opts.max_chain = 1;
  auto pruner = TwinVm::Open(prune_opts, T().catalogue.get(), nullptr);
  ASSERT_TRUE(pruner.ok()) << pruner.status().ToString();
  auto t0 = Clock::now();
  auto pruned = (*pruner)->Prune();
  ASSERT_TRUE(pruned.ok()) << pruned.ToString();
  std::printf("BENCH prune_ms=%.0f layers_before=%zu\n", MsSince(t0), before->chain.size());

  auto after = Twin().LoadDomainRecord(Domain());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->chain.size(), 2u);
  EXPECT_EQ(after->chain[0], before->chain[0]);
  EXPECT_EQ(after->chain[1], before->active_overlay);
  EXPECT_FALSE(fs::exists(before->chain[1]));
  EXPECT_FALSE(fs::exists(before->chain[2]));
  ExpectRealChainMatchesTheRecord();
  // The catalogue: the two older points are merged away, the newest now stands on the oldest
  // layer -- and that layer holds exactly its disk.
  auto points_after = T().catalogue->List(Domain()).value();
  int live_points = 0;
  for (const auto& r : points_after) {
    if (r.pruned) continue;
    ++live_points;
    EXPECT_EQ(r.id, newest.id);
    EXPECT_EQ(r.image, after->chain[0]);
  }
  EXPECT_EQ(live_points, 1);
  EXPECT_FALSE(T().catalogue->AtOrBefore(Domain(), points_before[0].state_ts_ns).value());
  const std::string merged = FlattenOverlays({after->chain[0]}, work + "/after");
  auto cmp = RunProcess({"qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", expected, merged});
  ASSERT_TRUE(cmp.ok());
  EXPECT_EQ(cmp->exit_code, 0) << "the merged layer is not the newest point's disk: " << cmp->out
                               << cmp->err;
  // The twin runs on, still reflecting the newest state.
  EXPECT_TRUE(Twin().virt().AgentCommand(Domain(), {{"execute", "guest-ping"}}).ok());
  auto still = Twin().UnitActive(Domain(), kDemo);
  ASSERT_TRUE(still.ok());
  EXPECT_FALSE(*still);
  fs::remove_all(work);
  T().pruned = true;
}

// A state of nine units, each a unit file and a listener, lands whole in the twin; a delta that
// changes one unit's file replaces that file and restarts that unit only. Also the measurement
// quoted in docs/BENCHMARKS.md (full state vs one-unit delta, printed, not asserted).
TEST_F(TwinVmReal, MultiUnitStateAndDeltaRunInTheTwin) {
  State full;
  full.ts_ns = WallNowNs();
  full.last_key = {full.ts_ns, 1};
  std::map<std::string, uint16_t> ports;
  for (int i = 0; i < 9; ++i) {
    const std::string name = i == 0 ? kDemo : fmt::format("twin-extra{}.service", i);
    const uint16_t port = i == 0 ? 8088 : static_cast<uint16_t>(8100 + i);
    ports[name] = port;
    Unit u;
    u.name = name;
    u.file_path = "/etc/systemd/system/" + name;
    u.file_content = DemoUnit(port);
    u.file_sha256 = std::to_string(std::hash<std::string>{}(u.file_content));
    full.units[name] = u;
    Listener l;
    l.proto = kProtoTcp;
    l.family = kFamilyInet;
    l.addr = "127.0.0.1";
    l.port = port;
    l.listening = true;
    l.unit = name;
    l.comm = "python3";
    full.listeners[l.key()] = l;
  }
  auto t0 = Clock::now();
  auto out = Twin().Sync(T().applied, full);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_TRUE(out->success()) << out->run.log_path;
  const double full_ms = MsSince(t0);
  T().applied = full;
  std::map<std::string, std::string> started;
  for (const auto& [name, port] : ports) {
    SCOPED_TRACE(name);
    EXPECT_GE(WaitFor(Domain(), name, port, true), 0) << "not active+listening";
    EXPECT_EQ(GuestFile(Domain(), "/etc/systemd/system/" + name), full.units[name].file_content);
    started[name] = GuestSystemctlShow(Domain(), name, "ActiveEnterTimestampMonotonic");
    EXPECT_NE(started[name], "");
    EXPECT_EQ(GuestSystemctlShow(Domain(), name, "UnitFileState"), "enabled");
  }
  // Nothing else of ours runs there.
  auto listed = Twin().virt().GuestExec(
      Domain(), "/bin/systemctl",
      {"list-units", "--no-legend", "--plain", "--state=active", "twin-*"}, "", 60000);
  ASSERT_TRUE(listed.ok());
  int ours = 0;
  std::istringstream in(listed->out);
  for (std::string line; std::getline(in, line);) {
    const std::string unit = line.substr(0, line.find(' '));
    if (unit.empty()) continue;
    ++ours;
    EXPECT_EQ(ports.count(unit), 1u) << unit;
  }
  EXPECT_EQ(ours, 9) << listed->out;

  State changed = full;
  changed.ts_ns = WallNowNs();
  changed.last_key = {changed.ts_ns, 1};
  changed.units[kDemo].file_content = DemoUnit(8088, "changed");
  changed.units[kDemo].file_sha256 = "changed";
  t0 = Clock::now();
  out = Twin().Sync(full, changed);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_TRUE(out->success()) << out->run.log_path;
  const double delta_ms = MsSince(t0);
  T().applied = changed;
  EXPECT_GE(WaitFor(Domain(), kDemo, 8088, true), 0);
  EXPECT_EQ(GuestFile(Domain(), kDemoPath), changed.units[kDemo].file_content);
  for (const auto& [name, port] : ports) {
    SCOPED_TRACE(name);
    const std::string now = GuestSystemctlShow(Domain(), name, "ActiveEnterTimestampMonotonic");
    if (name == kDemo) {
      EXPECT_NE(now, started[name]) << "the changed unit was not restarted";
    } else {
      EXPECT_EQ(now, started[name]) << "an unchanged unit was restarted";
      EXPECT_EQ(GuestFile(Domain(), "/etc/systemd/system/" + name), full.units[name].file_content);
    }
  }
  std::printf("BENCH full_state_units=9 full_ms=%.0f delta_one_unit_ms=%.0f ratio=%.1f\n",
              full_ms, delta_ms, full_ms / delta_ms);
}

std::string Sha256HexOf(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

// Fidelity: a Debian package that ships a daemon and its unit (memcached, installed on this host
// by scripts/packages.txt), its config changed (the listen port), a user and a group, a config
// file with Jinja and YAML tags and a file name with a newline. The twin gets the package at the
// host's exact version with no mirror (the host's apt cache, else dpkg-repack), the config
// byte-exact, the account, and memcached running and listening on the changed port.
TEST_F(TwinVmReal, HostPackageConfigAndUserArriveExactAndTheDaemonListensOnTheChangedPort) {
  auto host = ReadHostPackages();
  ASSERT_TRUE(host.ok()) << host.status().ToString();
  TWIN_REQUIRE(host->count("memcached") == 1, "memcached is not installed on the host (scripts/packages.txt)");
  const HostPackage& mc = host->at("memcached");
  std::ifstream conf_in("/etc/memcached.conf", std::ios::binary);
  std::string conf((std::istreambuf_iterator<char>(conf_in)), std::istreambuf_iterator<char>());
  const auto p = conf.find("-p 11211");
  ASSERT_NE(p, std::string::npos) << conf;
  conf.replace(p, 8, "-p 18311");
  conf += "# {{ lookup('pipe','touch /tmp/pwned') }}\n# !!python/object/apply:os.system ['touch /tmp/pwned-yaml']\n";
  std::ifstream unit_in("/lib/systemd/system/memcached.service", std::ios::binary);
  std::string unit_file((std::istreambuf_iterator<char>(unit_in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(unit_file.empty());
  const std::string hostile_name = "/etc/fidtest\nname {{ lookup('pipe','touch /tmp/pwned-name') }}.conf";
  const std::string hostile_bytes = "{% raw %}{{ x }}{% endraw %}\n!!binary AAAA\n\x01\xff\n";

  State target = T().applied;
  target.ts_ns = WallNowNs();
  target.last_key = {target.ts_ns, 1};
  target.packages["memcached:" + mc.arch] = Package{"memcached", mc.arch, mc.version, "install ok installed", 0};
  auto add_file = [&](const std::string& path, const std::string& bytes, const std::string& pkg) {
    ASSERT_TRUE(T().log->PutContent(Sha256HexOf(bytes), bytes).ok());
    target.config_files[path] = ConfigFile{path, "file", 0644, 0, 0, bytes.size(), Sha256HexOf(bytes),
                                           "stored", pkg, pkg.empty() ? "" : "yes", "", 0};
  };
  add_file("/etc/memcached.conf", conf, "memcached");
  add_file(hostile_name, hostile_bytes, "");
  // Unit config (issue 14): a timer and its service added and the timer enabled on the host
  // (timers.target.wants), a drop-in for memcached with Jinja and YAML tags, and a timer whose
  // service does not exist: its start fails alone, the rest lands.
  const std::string etc = "/etc/systemd/system";
  auto add_unit_config = [&](const std::string& path, const std::string& unit,
                             const std::string& role, const std::string& by,
                             const std::string& bytes, const std::string& link_target) {
    UnitConfig c{path, etc, unit, role, by, link_target.empty() ? "file" : "symlink",
                 link_target.empty() ? 0644u : 0777u, 0, 0, bytes.size(), Sha256HexOf(
                     link_target.empty() ? bytes : link_target),
                 link_target.empty() ? "stored" : "", "", "", "", link_target, 0};
    if (link_target.empty()) ASSERT_TRUE(T().log->PutContent(c.sha256, bytes).ok());
    target.unit_config[path] = c;
  };
  const std::string timer_unit =
      "[Unit]\nDescription=safetytwin fidelity timer\n[Timer]\nOnCalendar=*-*-* 03:00:00\n"
      "[Install]\nWantedBy=timers.target\n";
  const std::string dropin =
      "[Service]\nEnvironment=\"FIDTEST={{ lookup('pipe','touch /tmp/pwned-dropin') }}\"\n"
      "# !!python/object/apply:os.system ['touch /tmp/pwned-dropin-yaml']\n";
  add_unit_config(etc + "/fidtimer.timer", "fidtimer.timer", "unit", "", timer_unit, "");
  add_unit_config(etc + "/fidtimer.service", "fidtimer.service", "unit", "",
                  "[Service]\nType=oneshot\nExecStart=/usr/bin/touch /var/tmp/fidtimer.ran\n", "");
  add_unit_config(etc + "/timers.target.wants/fidtimer.timer", "fidtimer.timer", "wants",
                  "timers.target", "", etc + "/fidtimer.timer");
  add_unit_config(etc + "/memcached.service.d/override.conf", "memcached.service", "dropin", "",
                  dropin, "");
  add_unit_config(etc + "/fidbroken.timer", "fidbroken.timer", "unit", "",
                  "[Timer]\nOnCalendar=daily\nUnit=fidmissing.service\n[Install]\nWantedBy=timers.target\n", "");
  add_unit_config(etc + "/timers.target.wants/fidbroken.timer", "fidbroken.timer", "wants",
                  "timers.target", "", etc + "/fidbroken.timer");
  target.groups["fidtwin"] = Group{"fidtwin", 2345, {}, 0};
  target.users["fidtwin"] = User{"fidtwin", 2345, 2345, "fidelity test", "/home/fidtwin", "/bin/sh", 0};
  Unit u;
  u.name = "memcached.service";
  u.file_path = "/lib/systemd/system/memcached.service";
  u.file_content = unit_file;
  u.file_sha256 = Sha256HexOf(unit_file);
  target.units[u.name] = u;
  Listener l;
  l.proto = kProtoTcp;
  l.family = kFamilyInet;
  l.addr = "127.0.0.1";
  l.port = 18311;
  l.listening = true;
  l.unit = u.name;
  l.comm = "memcached";
  target.listeners[l.key()] = l;

  TwinOptions o = T().options;
  o.host_config = true;
  EventLog* raw_log = T().log.get();
  o.config_content = [raw_log](const std::string& sha) -> std::optional<std::string> {
    auto c = raw_log->GetContent(sha);
    return c.ok() ? *c : std::nullopt;
  };
  auto hc = TwinVm::Open(o, T().catalogue.get(), [raw_log](const Event& e) {
    raw_log->Append(e).status().IgnoreError();
  });
  ASSERT_TRUE(hc.ok()) << hc.status().ToString();
  auto t0 = Clock::now();
  auto out = (*hc)->Sync(T().applied, target);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const double sync_ms = MsSince(t0);
  std::map<std::string, std::string> kinds;
  for (const auto& a : out->plan.actions) kinds[a.target] = a.kind + ": " + a.detail;
  EXPECT_EQ(kinds["memcached.service"].rfind("unit_exact", 0), 0u) << kinds["memcached.service"];
  EXPECT_TRUE(kinds["memcached"].rfind("package_exact", 0) == 0 ||
              kinds["memcached"].rfind("package_repacked", 0) == 0) << kinds["memcached"];
  for (const char* p : {"/fidtimer.timer", "/timers.target.wants/fidtimer.timer",
                        "/memcached.service.d/override.conf"}) {
    EXPECT_EQ(kinds[etc + p].rfind("unit_config_exact", 0), 0u) << p << ": " << kinds[etc + p];
  }
  // One failing item (the timer with no service to trigger) is recorded and blocks nothing.
  std::vector<std::string> failed;
  for (const auto& t : out->run.tasks)
    if (t.status == "failed") failed.push_back(t.task + " / " + t.item + ": " + t.msg);
  ASSERT_EQ(failed.size(), 1u) << out->run.log_path << "\n" << ::testing::PrintToString(failed);
  EXPECT_NE(failed[0].find("fidbroken.timer"), std::string::npos) << failed[0];
  int failed_events = 0;
  auto scan = T().log->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey&, const Event& e) {
    failed_events += e.kind == EventKind::kTwinAction && Attr(e, "action") == "task" &&
                     Attr(e, "status") == "failed" && Attr(e, "item") == "fidbroken.timer";
    return true;
  });
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(failed_events, 1) << "the failed item is not a twin event";
  T().applied = target;

  // The timer enabled (the host's link) and active, the drop-in byte-exact and in effect.
  auto is_enabled = Twin().virt().GuestExec(Domain(), "/bin/systemctl", {"is-enabled", "--", "fidtimer.timer"}, "", 60000);
  ASSERT_TRUE(is_enabled.ok());
  EXPECT_EQ(is_enabled->out, "enabled\n");
  auto timer_active = Twin().UnitActive(Domain(), "fidtimer.timer");
  EXPECT_TRUE(timer_active.ok() && *timer_active) << "fidtimer.timer not active in the twin";
  auto link = Twin().virt().GuestExec(Domain(), "/usr/bin/readlink", {etc + "/timers.target.wants/fidtimer.timer"}, "", 60000);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->out, etc + "/fidtimer.timer\n");
  EXPECT_EQ(GuestFile(Domain(), etc + "/fidtimer.timer"), timer_unit);
  EXPECT_EQ(GuestFile(Domain(), etc + "/memcached.service.d/override.conf"), dropin);
  EXPECT_NE(GuestSystemctlShow(Domain(), "memcached.service", "Environment").find("FIDTEST={{ lookup("),
            std::string::npos) << "the drop-in is not in effect in memcached";

  auto version = Twin().virt().GuestExec(Domain(), "/usr/bin/dpkg-query", {"-W", "-f", "${Version}", "memcached"}, "", 60000);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->out, mc.version) << "the twin's memcached is not the host's version";
  EXPECT_EQ(GuestFile(Domain(), "/etc/memcached.conf"), conf);
  EXPECT_EQ(GuestFile(Domain(), hostile_name), hostile_bytes);
  auto pw = Twin().virt().GuestExec(Domain(), "/usr/bin/getent", {"passwd", "fidtwin"}, "", 60000);
  ASSERT_TRUE(pw.ok());
  EXPECT_NE(pw->out.find("fidtwin:x:2345:2345:fidelity test:/home/fidtwin:/bin/sh"), std::string::npos) << pw->out;
  EXPECT_GE(WaitFor(Domain(), "memcached.service", 18311, true), 0) << "memcached not active on 18311";
  auto old_port = Twin().Listening(Domain(), kProtoTcp, 11211);
  EXPECT_TRUE(old_port.ok() && !*old_port) << "still listening on the package's default port";
  for (const char* m : {"/tmp/pwned", "/tmp/pwned-yaml", "/tmp/pwned-name", "/tmp/pwned-dropin",
                        "/tmp/pwned-dropin-yaml"}) {
    auto t = Twin().virt().GuestExec(Domain(), "/usr/bin/test", {"-e", m}, "", 30000);
    ASSERT_TRUE(t.ok());
    EXPECT_NE(t->exit_code, 0) << m << " exists: a host string was executed in the twin";
    EXPECT_NE(access(m, F_OK), 0) << m << " exists on the host";
  }
  std::printf("BENCH fidelity_sync_ms=%.0f memcached=%s how=%s\n", sync_ms, mc.version.c_str(),
              kinds["memcached"].c_str());
}

}  // namespace
}  // namespace twin::vm
