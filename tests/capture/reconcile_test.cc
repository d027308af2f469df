// The reconciliation's decision (userspace/reconcile.h) on states and scans made here: what is
// corrected, what is left alone and why, what systemd is asked about.
#include "userspace/reconcile.h"

#include <gtest/gtest.h>

namespace twin::capture {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;

Process Proc(int pid, uint64_t start_ns, std::string exe) {
  Process p;
  p.pid = pid;
  p.start_ns = start_ns;
  p.exe = std::move(exe);
  p.comm = "c" + std::to_string(pid);
  return p;
}

Listener Tcp(uint16_t port, int pid) {
  Listener l;
  l.proto = kProtoTcp;
  l.family = kFamilyInet;
  l.addr = "127.0.0.1";
  l.port = port;
  l.listening = true;
  l.pid = pid;
  return l;
}

// A lookup that reads back the scanned processes, as ReadProcess would, and counts its calls.
struct Host {
  std::map<int, Process> procs;
  std::map<std::string, UnitFile> unit_files;
  int reads = 0;
  ReconcileLookups Lookups() {
    ReconcileLookups l;
    l.read_process = [this](int pid) -> std::optional<ProcessInfo> {
      ++reads;
      auto it = procs.find(pid);
      if (it == procs.end()) return std::nullopt;
      return ProcessInfo{it->second, 'S'};
    };
    l.find_unit_file = [this](const std::string& u) -> std::optional<UnitFile> {
      auto it = unit_files.find(u);
      if (it == unit_files.end()) return std::nullopt;
      return it->second;
    };
    return l;
  }
  HostScan Scan() const {
    HostScan s;
    for (const auto& [pid, p] : procs) s.processes.push_back({pid, p.start_ns, p.exe});
    return s;
  }
};

std::vector<const Event*> Of(const ReconcilePlan& plan, ResyncOp op, ResyncEntity en) {
  std::vector<const Event*> out;
  for (const Event& e : plan.events)
    if (e.kind == EventKind::kResync && e.resync_op == op && e.resync_entity == en) out.push_back(&e);
  return out;
}

TEST(Reconcile, AHostThatMatchesTheStateNeedsNothingAndWritesNoComplete) {
  Host h;
  h.procs[10] = Proc(10, 5 * kSec, "/usr/sbin/sshd");
  State believed;
  believed.processes[{10, 5 * kSec}] = h.procs[10];
  ReconcileOptions o;
  o.why = "periodic";
  auto plan = PlanReconcile(believed, h.Scan(), h.Lookups(), o);
  EXPECT_TRUE(plan.events.empty());
  EXPECT_EQ(plan.corrections, 0u);
  EXPECT_EQ(h.reads, 0) << "a matching process is not read in full";
}

TEST(Reconcile, GoneProcessesAreRemovedAndUnknownOnesReadInFullAndAdded) {
  Host h;
  h.procs[20] = Proc(20, 7 * kSec, "/usr/bin/python3");
  State believed;
  believed.processes[{11, 6 * kSec}] = Proc(11, 6 * kSec, "/bin/true");  // exited unseen
  ReconcileOptions o;
  o.why = "after gap";
  auto plan = PlanReconcile(believed, h.Scan(), h.Lookups(), o);
  auto rm = Of(plan, ResyncOp::kRemove, ResyncEntity::kProcess);
  auto up = Of(plan, ResyncOp::kUpsert, ResyncEntity::kProcess);
  ASSERT_EQ(rm.size(), 1u);
  EXPECT_EQ(rm[0]->pid, 11);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->pid, 20);
  EXPECT_EQ(up[0]->exe, "/usr/bin/python3");
  EXPECT_EQ(h.reads, 1);
  EXPECT_EQ(plan.corrections, 2u);
  ASSERT_FALSE(plan.events.empty());
  const Event& c = plan.events.back();
  EXPECT_EQ(c.resync_op, ResyncOp::kComplete);
  EXPECT_EQ(c.reason, "after gap");
  EXPECT_EQ(c.attrs[0], (std::pair<std::string, std::string>{"corrections", "2"}));
}

TEST(Reconcile, AnExecSeenOnlyByProcIsAnUpsertOfTheNewImage) {
  Host h;
  h.procs[30] = Proc(30, 8 * kSec, "/usr/bin/new");
  State believed;
  believed.processes[{30, 8 * kSec}] = Proc(30, 8 * kSec, "/usr/bin/old");
  auto plan = PlanReconcile(believed, h.Scan(), h.Lookups(), {});
  auto up = Of(plan, ResyncOp::kUpsert, ResyncEntity::kProcess);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->exe, "/usr/bin/new");
}

TEST(Reconcile, YoungProcessesAreLeftToTheQueueOnlyWhenAGraceIsGiven) {
  Host h;
  h.procs[40] = Proc(40, 100 * kSec, "/bin/sleep");
  ReconcileOptions periodic;
  periodic.grace_ns = 2 * kSec;
  periodic.now_boot_ns = 101 * kSec;  // 1 s old: its exec may still be queued
  auto plan = PlanReconcile(State{}, h.Scan(), h.Lookups(), periodic);
  EXPECT_EQ(plan.corrections, 0u);
  EXPECT_EQ(h.reads, 0);
  periodic.now_boot_ns = 103 * kSec;  // 3 s old: the queue would have delivered it
  plan = PlanReconcile(State{}, h.Scan(), h.Lookups(), periodic);
  EXPECT_EQ(plan.corrections, 1u);
  ReconcileOptions after_gap;  // no grace: everything is corrected
  after_gap.now_boot_ns = 101 * kSec;
  plan = PlanReconcile(State{}, h.Scan(), h.Lookups(), after_gap);
  EXPECT_EQ(plan.corrections, 1u);
}

TEST(Reconcile, APidReusedOrGoneBetweenTheScanAndTheReadIsNotAdded) {
  Host h;
  h.procs[50] = Proc(50, 9 * kSec, "/bin/a");
  HostScan scan = h.Scan();
  h.procs[50].start_ns = 12 * kSec;  // the pid was reused after the brief scan
  scan.processes.push_back({51, 9 * kSec, "/bin/b"});  // and 51 is gone when read
  auto plan = PlanReconcile(State{}, scan, h.Lookups(), {});
  EXPECT_EQ(plan.corrections, 0u);
  EXPECT_EQ(h.reads, 2);
}

TEST(Reconcile, ListenersAreAddedAndRemovedButAnInvisibleOwnerIsNotACorrection) {
  State believed;
  believed.listeners[Tcp(22, 100).key()] = Tcp(22, 100);
  believed.listeners[Tcp(8080, 200).key()] = Tcp(8080, 200);  // closed unseen (e.g. UDP)
  HostScan scan;
  scan.listeners = {Tcp(22, 0), Tcp(9000, 300)};  // 22's owner is not visible to us now
  auto plan = PlanReconcile(believed, scan, {}, {});
  auto up = Of(plan, ResyncOp::kUpsert, ResyncEntity::kListener);
  auto rm = Of(plan, ResyncOp::kRemove, ResyncEntity::kListener);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->port, 9000);
  ASSERT_EQ(rm.size(), 1u);
  EXPECT_EQ(rm[0]->port, 8080);
  EXPECT_EQ(plan.corrections, 2u);
}

TEST(Reconcile, AUnitWithoutACgroupIsAskedAboutWhenSystemdAnswersAndRemovedOtherwise) {
  State believed;
  Unit oneshot;
  oneshot.name = "setup.service";  // Type=oneshot + RemainAfterExit: active, no cgroup
  believed.units[oneshot.name] = oneshot;
  ReconcileOptions with_bus;
  with_bus.systemd_answers_for_units = true;
  auto plan = PlanReconcile(believed, {}, {}, with_bus);
  EXPECT_EQ(plan.corrections, 0u);
  EXPECT_EQ(plan.recheck_units, std::vector<std::string>{"setup.service"});
  plan = PlanReconcile(believed, {}, {}, {});
  auto rm = Of(plan, ResyncOp::kRemove, ResyncEntity::kUnit);
  ASSERT_EQ(rm.size(), 1u);
  EXPECT_EQ(rm[0]->unit, "setup.service");
  EXPECT_TRUE(plan.recheck_units.empty());
}

TEST(Reconcile, AnEditedUnitFileIsAChangeEventNotAResync) {
  Host h;
  h.unit_files["web.service"] = UnitFile{"/etc/systemd/system/web.service", "bbbb", "[Service]\n"};
  h.unit_files["new.service"] = UnitFile{"/etc/systemd/system/new.service", "cccc", "[Unit]\n"};
  State believed;
  Unit web;
  web.name = "web.service";
  web.file_path = "/etc/systemd/system/web.service";
  web.file_sha256 = "aaaa";
  believed.units[web.name] = web;
  HostScan scan;
  scan.unit_cgroups = {{"web.service", "/system.slice/web.service"},
                       {"new.service", "/system.slice/new.service"}};
  auto plan = PlanReconcile(believed, scan, h.Lookups(), {});
  size_t changed = 0;
  for (const Event& e : plan.events) {
    if (e.kind != EventKind::kUnitFileChanged) continue;
    ++changed;
    EXPECT_EQ(e.unit, "web.service");
    EXPECT_EQ(e.unit_file_sha256, "bbbb");
  }
  EXPECT_EQ(changed, 1u);
  auto up = Of(plan, ResyncOp::kUpsert, ResyncEntity::kUnit);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0]->unit, "new.service");
  EXPECT_EQ(up[0]->unit_file_sha256, "cccc");
  EXPECT_EQ(plan.corrections, 1u) << "a file change is not a correction of the state";
}

TEST(Reconcile, AnUncertainStateOrAStartUpGetsACompleteEvenWithoutCorrections) {
  State uncertain;
  uncertain.uncertain = true;
  auto plan = PlanReconcile(uncertain, {}, {}, {});
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_EQ(plan.events[0].resync_op, ResyncOp::kComplete);
  ReconcileOptions startup;
  startup.always_complete = true;
  startup.why = "start-up";
  plan = PlanReconcile(State{}, {}, {}, startup);
  ASSERT_EQ(plan.events.size(), 1u);
  EXPECT_EQ(plan.events[0].reason, "start-up");
  plan = PlanReconcile(State{}, {}, {}, {});
  EXPECT_TRUE(plan.events.empty());
}

}  // namespace
}  // namespace twin::capture
