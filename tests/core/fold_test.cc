#include <gtest/gtest.h>

#include "eventlog/state.h"

namespace twin {
namespace {

Event Exec(int32_t pid, uint64_t start, const std::string& comm, uint64_t ts = 100) {
  Event e;
  e.kind = EventKind::kProcessExec;
  e.ts_ns = ts;
  e.pid = pid;
  e.start_ns = start;
  e.ppid = 1;
  e.comm = comm;
  e.exe = "/usr/bin/" + comm;
  e.argv = {comm, "--flag"};
  return e;
}

Event Sock(EventKind k, uint8_t proto, uint16_t port, int32_t pid = 10) {
  Event e;
  e.kind = k;
  e.ts_ns = 200;
  e.pid = pid;
  e.start_ns = 5;
  e.proto = proto;
  e.family = kFamilyInet;
  e.addr = "127.0.0.1";
  e.port = port;
  return e;
}

void Apply(State& s, const Event& e) {
  static uint64_t seq = 0;
  Fold(s, e, {e.ts_ns, ++seq});
}

// A resync upsert built from an entity gives that entity back when folded: the event builders
// (eventlog/state.h) and the fold are each other's inverse, field by field.
TEST(Fold, ResyncEventsCarryTheWholeEntity) {
  Process p;
  p.pid = 4711;
  p.start_ns = 12345;
  p.ppid = 1;
  p.parent_start_ns = 77;
  p.uid = 1000;
  p.gid = 100;
  p.comm = "worker";
  p.exe = "deep/tail/of/bin/worker";
  p.cwd = "tail/of/cwd";
  p.argv = {"worker", "--x"};
  p.argv_truncated = true;
  p.exe_truncated = true;
  p.cwd_truncated = true;
  p.cgroup = "/system.slice/w.service";
  p.unit = "w.service";
  p.container_id = "abc";
  Event pe = ProcessEvent(EventKind::kResync, p);
  pe.resync_op = ResyncOp::kUpsert;
  pe.resync_entity = ResyncEntity::kProcess;
  pe.ts_ns = 900;
  p.since_ns = 900;

  Listener l;
  l.proto = kProtoTcp;
  l.family = kFamilyInet6;
  l.addr = "::1";
  l.port = 8443;
  l.listening = true;
  l.pid = 4711;
  l.start_ns = 12345;
  l.comm = "worker";
  l.unit = "w.service";
  l.sock_inode = 99;
  Event le = ListenerEvent(EventKind::kResync, l);
  le.resync_op = ResyncOp::kUpsert;
  le.resync_entity = ResyncEntity::kListener;
  le.ts_ns = 901;
  l.since_ns = 901;

  Unit u;
  u.name = "w.service";
  u.cgroup = "/system.slice/w.service";
  u.file_path = "/etc/systemd/system/w.service";
  u.file_sha256 = std::string(64, 'a');
  u.file_content = "[Service]\nExecStart=/bin/worker\n";
  Event ue = UnitEvent(EventKind::kResync, u);
  ue.resync_op = ResyncOp::kUpsert;
  ue.resync_entity = ResyncEntity::kUnit;
  ue.ts_ns = 902;
  u.since_ns = 902;

  State s;
  Fold(s, pe, {900, 1});
  Fold(s, le, {901, 2});
  Fold(s, ue, {902, 3});
  ASSERT_EQ(s.processes.count({p.pid, p.start_ns}), 1u);
  EXPECT_EQ(s.processes.at({p.pid, p.start_ns}), p);
  ASSERT_EQ(s.listeners.count(l.key()), 1u);
  EXPECT_EQ(s.listeners.at(l.key()), l);
  ASSERT_EQ(s.units.count(u.name), 1u);
  EXPECT_EQ(s.units.at(u.name), u);
}

TEST(Fold, ExecAddsProcessWithImage) {
  State s;
  Apply(s, Exec(10, 5, "nginx"));
  ASSERT_EQ(s.processes.size(), 1u);
  const Process& p = s.processes.at({10, 5});
  EXPECT_EQ(p.comm, "nginx");
  EXPECT_EQ(p.exe, "/usr/bin/nginx");
  EXPECT_EQ(p.argv, (std::vector<std::string>{"nginx", "--flag"}));
  EXPECT_EQ(s.events_folded, 1u);
}

TEST(Fold, ExecReplacesImageOfSameProcess) {
  State s;
  Apply(s, Exec(10, 5, "bash"));
  Apply(s, Exec(10, 5, "python3", 150));
  ASSERT_EQ(s.processes.size(), 1u);
  EXPECT_EQ(s.processes.at({10, 5}).comm, "python3");
  EXPECT_EQ(s.processes.at({10, 5}).since_ns, 150u);
}

TEST(Fold, ExitRemovesProcess) {
  State s;
  Apply(s, Exec(10, 5, "bash"));
  Event x;
  x.kind = EventKind::kProcessExit;
  x.pid = 10;
  x.start_ns = 5;
  Apply(s, x);
  EXPECT_TRUE(s.processes.empty());
}

TEST(Fold, ExitOfOtherIncarnationKeepsProcess) {
  State s;
  Apply(s, Exec(10, 5, "bash"));
  Event x;
  x.kind = EventKind::kProcessExit;
  x.pid = 10;
  x.start_ns = 4;  // an older process with the same pid
  Apply(s, x);
  EXPECT_EQ(s.processes.size(), 1u);
}

TEST(Fold, PidReuseIsANewProcess) {
  State s;
  Apply(s, Exec(10, 5, "old"));
  Apply(s, Exec(10, 9, "new"));  // exit of the first was lost
  ASSERT_EQ(s.processes.size(), 1u);
  EXPECT_EQ(s.processes.begin()->first, (ProcKey{10, 9}));
  EXPECT_EQ(s.processes.begin()->second.comm, "new");
}

TEST(Fold, ForkCopiesParentImage) {
  State s;
  Apply(s, Exec(10, 5, "nginx"));
  Event f;
  f.kind = EventKind::kProcessFork;
  f.pid = 11;
  f.start_ns = 7;
  f.ppid = 10;
  f.parent_start_ns = 5;
  Apply(s, f);
  ASSERT_EQ(s.processes.size(), 2u);
  const Process& c = s.processes.at({11, 7});
  EXPECT_EQ(c.comm, "nginx");
  EXPECT_EQ(c.argv, (std::vector<std::string>{"nginx", "--flag"}));
  EXPECT_EQ(c.ppid, 10);
  EXPECT_EQ(c.parent_start_ns, 5u);
}

TEST(Fold, ListenAddsAndCloseRemovesListener) {
  State s;
  Apply(s, Sock(EventKind::kSocketListen, kProtoTcp, 8080));
  ASSERT_EQ(s.listeners.size(), 1u);
  const Listener& l = s.listeners.begin()->second;
  EXPECT_EQ(l.port, 8080);
  EXPECT_EQ(l.pid, 10);
  EXPECT_TRUE(l.listening);
  Apply(s, Sock(EventKind::kListenerClose, kProtoTcp, 8080));
  EXPECT_TRUE(s.listeners.empty());
}

TEST(Fold, TcpBindAloneIsNotAListenerButUdpBindIs) {
  State s;
  Apply(s, Sock(EventKind::kSocketBind, kProtoTcp, 8080));
  EXPECT_TRUE(s.listeners.empty());
  Apply(s, Sock(EventKind::kSocketBind, kProtoUdp, 5353));
  ASSERT_EQ(s.listeners.size(), 1u);
  EXPECT_EQ(s.listeners.begin()->second.proto, kProtoUdp);
  Event failed = Sock(EventKind::kSocketBind, kProtoUdp, 53);
  failed.result = -13;
  Apply(s, failed);
  EXPECT_EQ(s.listeners.size(), 1u);
}

TEST(Fold, CloseOfOtherPortKeepsListener) {
  State s;
  Apply(s, Sock(EventKind::kSocketListen, kProtoTcp, 8080));
  Apply(s, Sock(EventKind::kListenerClose, kProtoTcp, 8081));
  Apply(s, Sock(EventKind::kListenerClose, kProtoUdp, 8080));
  EXPECT_EQ(s.listeners.size(), 1u);
}

TEST(Fold, UnitStartStopAndFileChange) {
  State s;
  Event u;
  u.kind = EventKind::kUnitStart;
  u.unit = "web.service";
  u.unit_file_path = "/etc/systemd/system/web.service";
  u.unit_file_sha256 = "aa";
  u.unit_file_content = "[Service]\n";
  Apply(s, u);
  ASSERT_EQ(s.units.size(), 1u);
  EXPECT_EQ(s.units.at("web.service").file_sha256, "aa");
  Event c = u;
  c.kind = EventKind::kUnitFileChanged;
  c.unit_file_sha256 = "bb";
  c.unit_file_content = "[Service]\nX=1\n";
  Apply(s, c);
  EXPECT_EQ(s.units.at("web.service").file_sha256, "bb");
  EXPECT_EQ(s.units.at("web.service").file_content, "[Service]\nX=1\n");
  Event stop;
  stop.kind = EventKind::kUnitStop;
  stop.unit = "web.service";
  Apply(s, stop);
  EXPECT_TRUE(s.units.empty());
  // A file change of a unit that is not active does not create it.
  Apply(s, c);
  EXPECT_TRUE(s.units.empty());
}

TEST(Fold, GapMarksUncertainUntilResyncCompletes) {
  State s;
  Event g;
  g.kind = EventKind::kGap;
  g.ts_ns = 500;
  g.gap_start_ns = 400;
  g.gap_end_ns = 500;
  Apply(s, g);
  EXPECT_TRUE(s.uncertain);
  EXPECT_EQ(s.uncertain_since_ns, 400u);
  Event up = Exec(20, 3, "sshd");
  up.kind = EventKind::kResync;
  up.resync_entity = ResyncEntity::kProcess;
  up.resync_op = ResyncOp::kUpsert;
  Apply(s, up);
  EXPECT_TRUE(s.uncertain);
  EXPECT_EQ(s.processes.at({20, 3}).comm, "sshd");
  Event done;
  done.kind = EventKind::kResync;
  done.resync_op = ResyncOp::kComplete;
  Apply(s, done);
  EXPECT_FALSE(s.uncertain);
}

TEST(Fold, ResyncRemovesWhatProcSaysIsGone) {
  State s;
  Apply(s, Exec(10, 5, "bash"));
  Apply(s, Sock(EventKind::kSocketListen, kProtoTcp, 22));
  Event rp;
  rp.kind = EventKind::kResync;
  rp.resync_entity = ResyncEntity::kProcess;
  rp.resync_op = ResyncOp::kRemove;
  rp.pid = 10;
  rp.start_ns = 5;
  Apply(s, rp);
  Event rl = Sock(EventKind::kResync, kProtoTcp, 22);
  rl.resync_entity = ResyncEntity::kListener;
  rl.resync_op = ResyncOp::kRemove;
  Apply(s, rl);
  EXPECT_TRUE(s.processes.empty());
  EXPECT_TRUE(s.listeners.empty());
}

TEST(Fold, DaemonStopMakesStateUncertain) {
  State s;
  Event stop;
  stop.kind = EventKind::kDaemonStop;
  stop.ts_ns = 77;
  Apply(s, stop);
  EXPECT_TRUE(s.uncertain);
  EXPECT_EQ(s.uncertain_since_ns, 77u);
}

TEST(Fold, HostFactsReplaceHost) {
  State s;
  Event h;
  h.kind = EventKind::kHostFacts;
  h.host.hostname = "a";
  h.host.cpus = 2;
  Apply(s, h);
  EXPECT_EQ(s.host.hostname, "a");
  h.host.hostname = "b";
  Apply(s, h);
  EXPECT_EQ(s.host.hostname, "b");
}

TEST(Diff, ReportsAddedRemovedChanged) {
  State a, b;
  Apply(a, Exec(1, 1, "gone"));
  Apply(a, Exec(2, 2, "same"));
  Apply(a, Exec(3, 3, "before"));
  b = a;
  b.processes.erase({1, 1});
  b.processes[{3, 3}].comm = "after";
  Apply(b, Exec(4, 4, "new"));
  StateDiff d = Diff(a, b);
  ASSERT_EQ(d.processes.added.size(), 1u);
  EXPECT_EQ(d.processes.added[0].comm, "new");
  ASSERT_EQ(d.processes.removed.size(), 1u);
  EXPECT_EQ(d.processes.removed[0].comm, "gone");
  ASSERT_EQ(d.processes.changed.size(), 1u);
  EXPECT_EQ(d.processes.changed[0].second.comm, "after");
  EXPECT_FALSE(d.Significant());  // process churn alone
  Apply(b, Sock(EventKind::kSocketListen, kProtoTcp, 80));
  EXPECT_TRUE(Diff(a, b).Significant());
}

}  // namespace
}  // namespace twin
