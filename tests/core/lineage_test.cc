// Process ids, `twin-replay tree` and `twin-replay lineage` on synthetic logs built with the
// event builders: fork without exec, reparenting to a subreaper, pid reuse, a reboot.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/process_id.h"
#include "eventlog/state.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using testing::CmdRun;
using testing::Replay;
using testing::TempDir;
using json = nlohmann::json;

constexpr const char* kBoot1 = "0123abcd-4567-89ef-0123-456789abcdef";
constexpr const char* kTag1 = "0123abcd456789ef";  // its first 16 hex digits, written out
constexpr const char* kBoot2 = "fedcba98-7654-3210-fedc-ba9876543210";
constexpr uint64_t kT0 = 1'800'000'000'000'000'000ull;
constexpr uint64_t kSec = 1'000'000'000ull;

// A small host: builders for the events a capture writes, at second s of the log.
class Host {
 public:
  Event Host_(uint64_t s, const char* boot) {
    Event e = At(EventKind::kHostFacts, s);
    e.host.hostname = "h";
    e.host.boot_id = boot;
    return e;
  }
  // A process known from /proc at start-up (a resync upsert, as twind writes them).
  Event Known(uint64_t s, int32_t pid, uint64_t start, int32_t ppid, uint64_t pstart, const std::string& exe) {
    Process p;
    p.pid = pid;
    p.start_ns = start;
    p.ppid = ppid;
    p.parent_start_ns = pstart;
    p.comm = exe.substr(exe.rfind('/') + 1);
    p.exe = exe;
    p.argv = {exe};
    Event e = ProcessEvent(EventKind::kResync, p);
    e.resync_entity = ResyncEntity::kProcess;
    e.resync_op = ResyncOp::kUpsert;
    Stamp(e, s);
    return e;
  }
  Event Fork(uint64_t s, int32_t pid, uint64_t start, int32_t ppid, uint64_t pstart) {
    Event e = At(EventKind::kProcessFork, s);
    e.pid = pid;
    e.start_ns = start;
    e.ppid = ppid;
    e.parent_start_ns = pstart;
    e.comm = "forked";
    return e;
  }
  Event Exec(uint64_t s, int32_t pid, uint64_t start, int32_t ppid, uint64_t pstart,
             std::vector<std::string> argv) {
    Event e = At(EventKind::kProcessExec, s);
    e.pid = pid;
    e.start_ns = start;
    e.ppid = ppid;
    e.parent_start_ns = pstart;
    e.exe = argv[0];
    e.comm = argv[0].substr(argv[0].rfind('/') + 1);
    e.argv = std::move(argv);
    return e;
  }
  Event Exit(uint64_t s, int32_t pid, uint64_t start, int32_t ppid) {
    Event e = At(EventKind::kProcessExit, s);
    e.pid = pid;
    e.start_ns = start;
    e.ppid = ppid;
    return e;
  }

 private:
  static void Stamp(Event& e, uint64_t s) {
    e.ts_ns = kT0 + s * kSec;
    e.boottime_ns = 100 * kSec + s * kSec;
  }
  static Event At(EventKind k, uint64_t s) {
    Event e;
    e.kind = k;
    Stamp(e, s);
    return e;
  }
};

std::string Write(const TempDir& t, const std::vector<Event>& events) {
  const std::string dir = t.sub("data");
  auto log = EventLog::OpenWriter(dir);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE(log.value()->Append(events).ok());
  return dir;
}

std::string At(uint64_t s) { return std::to_string(kT0 + s * kSec); }

json RunJson(const TempDir& t, const std::string& args) {
  CmdRun r = Replay(t, args + " --json");
  EXPECT_EQ(r.code, 0) << args << ": " << r.err;
  return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
}

// The tree's JSON as parent id -> child ids, walking the nested children.
void Edges(const json& node, std::vector<std::pair<std::string, std::string>>* out) {
  for (const json& c : node["children"]) {
    out->emplace_back(node["process"]["id"], c["process"]["id"]);
    Edges(c, out);
  }
}
std::vector<std::pair<std::string, std::string>> TreeEdges(const json& tree) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const json& r : tree["roots"]) Edges(r, &out);
  return out;
}
bool HasEdge(const std::vector<std::pair<std::string, std::string>>& edges, const std::string& parent,
             const std::string& child) {
  return std::find(edges.begin(), edges.end(), std::make_pair(parent, child)) != edges.end();
}

std::string Id(int32_t pid, uint64_t start) { return std::string(kTag1) + "-" + std::to_string(start) + "-" + std::to_string(pid); }

TEST(ProcessId, PrintsTheBootsFirstHexDigitsTheStartAndThePid) {
  EXPECT_EQ(ProcessIdOf(kBoot1, 4711, 86400120000000), "0123abcd456789ef-86400120000000-4711");
  EXPECT_EQ(ProcessIdOf("", 1, 5), "0000000000000000-5-1");
  // Upper-case UUIDs are the same boot; anything else is hashed into 16 hex digits.
  EXPECT_EQ(BootTag("0123ABCD-4567-89EF-0123-456789ABCDEF"), kTag1);
  const std::string hashed = BootTag("not a uuid\n\x1b[31m");
  EXPECT_EQ(hashed.size(), 16u);
  EXPECT_EQ(hashed.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(hashed, BootTag("not a uuid"));
  auto p = ParseProcessId("0123abcd456789ef-86400120000000-4711");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p.value(), (ProcessId{kTag1, 86400120000000, 4711}));
  for (const char* bad : {"", "4711", "0123abcd456789ef-1", "0123abcd456789ef--1", "0123abcd456789eg-1-1",
                          "0123ABCD456789EF-1-1", "0123abcd456789ef-1-0", "0123abcd456789ef-1-1x",
                          "0123abcd456789ef-99999999999999999999999-1", "0123abcd456789ef-1-99999999999"}) {
    EXPECT_FALSE(ParseProcessId(bad).ok()) << bad;
  }
}

// init (1) -> shell (100) -> forked child (101) that never execs: the child runs the shell's
// image, and the tree and lineage name it as the shell's child.
TEST(Lineage, ForkWithoutExecIsAChildWithItsParentsImage) {
  TempDir t;
  Host h;
  const std::string dir = Write(t, {h.Host_(0, kBoot1), h.Known(0, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                    h.Exec(1, 100, 50 * kSec, 1, 1 * kSec, {"/bin/sh", "-c", "x"}),
                                    h.Fork(2, 101, 60 * kSec, 100, 50 * kSec),
                                    h.Exit(5, 101, 60 * kSec, 100)});
  json tree = RunJson(t, "tree --at " + At(3) + " --data-dir " + dir);
  ASSERT_FALSE(tree.is_discarded());
  auto edges = TreeEdges(tree);
  EXPECT_TRUE(HasEdge(edges, Id(1, 1 * kSec), Id(100, 50 * kSec)));
  EXPECT_TRUE(HasEdge(edges, Id(100, 50 * kSec), Id(101, 60 * kSec)));
  EXPECT_EQ(edges.size(), 2u);
  // The forked child in state --json: its own id, its parent's, the shell's argv.
  json st = RunJson(t, "state --at " + At(3) + " --data-dir " + dir);
  bool seen = false;
  for (const json& p : st["processes"]) {
    if (p["pid"] != 101) continue;
    seen = true;
    EXPECT_EQ(p["id"], Id(101, 60 * kSec));
    EXPECT_EQ(p["parent_id"], Id(100, 50 * kSec));
    EXPECT_EQ(p["argv"], json::array({"/bin/sh", "-c", "x"}));
  }
  EXPECT_TRUE(seen);
  json lin = RunJson(t, "lineage " + Id(101, 60 * kSec) + " --data-dir " + dir);
  ASSERT_FALSE(lin.is_discarded());
  EXPECT_EQ(lin["start_kind"], "fork");
  ASSERT_EQ(lin["ancestors"].size(), 2u);
  EXPECT_EQ(lin["ancestors"][0]["id"], Id(100, 50 * kSec));
  EXPECT_EQ(lin["ancestors"][1]["id"], Id(1, 1 * kSec));
  EXPECT_TRUE(lin["ancestry_complete"]);
  EXPECT_EQ(lin["exit"]["process_id"], Id(101, 60 * kSec));
  json shell = RunJson(t, "lineage " + Id(100, 50 * kSec) + " --data-dir " + dir);
  EXPECT_EQ(shell["descendants"], json::array({Id(101, 60 * kSec)}));
  // The human tree draws the child under the shell, with its id.
  CmdRun human = Replay(t, "tree --at " + At(3) + " --data-dir " + dir);
  ASSERT_EQ(human.code, 0) << human.err;
  EXPECT_NE(human.out.find("   └─ 101 /bin/sh -c x  [" + Id(101, 60 * kSec) + "]"), std::string::npos) << human.out;
}

// init (1) -> subreaper (50) -> parent (100) -> child (101). The parent exits; the kernel hands
// the child to the subreaper, which the log learns from the child's next exec.
TEST(Lineage, ReparentingToASubreaperShowsInTheTreeAndNotInTheAncestryAtStart) {
  TempDir t;
  Host h;
  const std::string dir = Write(t, {h.Host_(0, kBoot1), h.Known(0, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                    h.Known(0, 50, 10 * kSec, 1, 1 * kSec, "/usr/bin/reaper"),
                                    h.Fork(1, 100, 20 * kSec, 50, 10 * kSec),
                                    h.Fork(2, 101, 30 * kSec, 100, 20 * kSec),
                                    h.Exit(3, 100, 20 * kSec, 50),
                                    h.Exec(5, 101, 30 * kSec, 50, 10 * kSec, {"/usr/bin/daemon"}),
                                    h.Exit(8, 101, 30 * kSec, 50)});
  // Between the parent's exit and the child's exec the child's recorded parent is gone.
  json mid = RunJson(t, "tree --at " + At(4) + " --data-dir " + dir);
  bool orphan_root = false;
  for (const json& r : mid["roots"]) {
    if (r["process"]["id"] == Id(101, 30 * kSec)) orphan_root = !r["parent_in_state"].get<bool>();
  }
  EXPECT_TRUE(orphan_root) << mid.dump();
  CmdRun human = Replay(t, "tree --at " + At(4) + " --data-dir " + dir);
  EXPECT_NE(human.out.find("(parent 100 not in the state"), std::string::npos) << human.out;
  // After the exec: under the subreaper.
  auto after = TreeEdges(RunJson(t, "tree --at " + At(6) + " --data-dir " + dir));
  EXPECT_TRUE(HasEdge(after, Id(50, 10 * kSec), Id(101, 30 * kSec)));
  EXPECT_FALSE(HasEdge(after, Id(100, 20 * kSec), Id(101, 30 * kSec)));
  // Its ancestry is as it was at its start: the parent that exited, then the subreaper.
  json lin = RunJson(t, "lineage " + Id(101, 30 * kSec) + " --data-dir " + dir);
  ASSERT_EQ(lin["ancestors"].size(), 3u);
  EXPECT_EQ(lin["ancestors"][0]["id"], Id(100, 20 * kSec));
  EXPECT_EQ(lin["ancestors"][1]["id"], Id(50, 10 * kSec));
  EXPECT_EQ(lin["ancestors"][2]["id"], Id(1, 1 * kSec));
  // The subreaper's descendants: the parent and the child it outlived.
  json reaper = RunJson(t, "lineage " + Id(50, 10 * kSec) + " --data-dir " + dir);
  EXPECT_EQ(reaper["start_kind"], "resync");
  EXPECT_EQ(reaper["descendants"], json::array({Id(100, 20 * kSec), Id(101, 30 * kSec)}));
  EXPECT_TRUE(reaper["exit"].is_null());
  // The subtree of --pid 50 after the exec holds the child.
  auto sub = TreeEdges(RunJson(t, "tree --pid 50 --at " + At(6) + " --data-dir " + dir));
  EXPECT_EQ(sub.size(), 1u);
}

// pid 200 lives twice in one window: first forked by A (10), then by B (20). Two ids, two parents.
TEST(Lineage, PidReuseGivesDifferentIdsAndDifferentParents) {
  TempDir t;
  Host h;
  const std::string dir = Write(t, {h.Host_(0, kBoot1), h.Known(0, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                    h.Known(0, 10, 2 * kSec, 1, 1 * kSec, "/usr/bin/a"),
                                    h.Known(0, 20, 3 * kSec, 1, 1 * kSec, "/usr/bin/b"),
                                    h.Fork(1, 200, 40 * kSec, 10, 2 * kSec),
                                    h.Exec(2, 200, 40 * kSec, 10, 2 * kSec, {"/bin/first"}),
                                    h.Exit(3, 200, 40 * kSec, 10),
                                    h.Fork(4, 200, 70 * kSec, 20, 3 * kSec),
                                    h.Exec(5, 200, 70 * kSec, 20, 3 * kSec, {"/bin/second"})});
  // events --json: the two forks of pid 200 carry different ids and different parents.
  CmdRun ev = Replay(t, "events --kind fork --pid 200 --json --data-dir " + dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  std::vector<json> forks;
  for (size_t i = 0, j; i < ev.out.size(); i = j + 1) {
    j = ev.out.find('\n', i);
    forks.push_back(json::parse(ev.out.substr(i, j - i)));
  }
  ASSERT_EQ(forks.size(), 2u);
  EXPECT_EQ(forks[0]["process_id"], Id(200, 40 * kSec));
  EXPECT_EQ(forks[1]["process_id"], Id(200, 70 * kSec));
  EXPECT_EQ(forks[0]["parent_process_id"], Id(10, 2 * kSec));
  EXPECT_EQ(forks[1]["parent_process_id"], Id(20, 3 * kSec));
  // The events window starting after the host facts still knows the boot (from the state).
  CmdRun late = Replay(t, "events --kind exec --since " + At(4) + " --json --data-dir " + dir);
  EXPECT_NE(late.out.find("\"process_id\":\"" + Id(200, 70 * kSec) + "\""), std::string::npos) << late.out;
  // lineage of each names its own parent.
  json first = RunJson(t, "lineage " + Id(200, 40 * kSec) + " --data-dir " + dir);
  json second = RunJson(t, "lineage " + Id(200, 70 * kSec) + " --data-dir " + dir);
  EXPECT_EQ(first["ancestors"][0]["id"], Id(10, 2 * kSec));
  EXPECT_EQ(second["ancestors"][0]["id"], Id(20, 3 * kSec));
  EXPECT_EQ(first["exit"]["process_id"], Id(200, 40 * kSec));
  EXPECT_TRUE(second["exit"].is_null());
  // A's descendants hold the first only; B's the second only.
  EXPECT_EQ(RunJson(t, "lineage " + Id(10, 2 * kSec) + " --data-dir " + dir)["descendants"],
            json::array({Id(200, 40 * kSec)}));
  EXPECT_EQ(RunJson(t, "lineage " + Id(20, 3 * kSec) + " --data-dir " + dir)["descendants"],
            json::array({Id(200, 70 * kSec)}));
  // The tree at each time.
  EXPECT_TRUE(HasEdge(TreeEdges(RunJson(t, "tree --at " + At(2) + " --data-dir " + dir)), Id(10, 2 * kSec),
                      Id(200, 40 * kSec)));
  EXPECT_TRUE(HasEdge(TreeEdges(RunJson(t, "tree --at " + At(6) + " --data-dir " + dir)), Id(20, 3 * kSec),
                      Id(200, 70 * kSec)));
  // --id picks one incarnation; the other is not in that state.
  EXPECT_EQ(RunJson(t, "tree --id " + Id(200, 70 * kSec) + " --at " + At(6) + " --data-dir " + dir)["roots"].size(), 1u);
  CmdRun gone = Replay(t, "tree --id " + Id(200, 40 * kSec) + " --at " + At(6) + " --data-dir " + dir);
  EXPECT_EQ(gone.code, 1);
  EXPECT_NE(gone.err.find("is not in the state"), std::string::npos) << gone.err;
}

// events --since a point after a snapshot: the boot id comes from the snapshot, or from a host
// facts record between the snapshot and the window (the window itself holds none).
TEST(Lineage, EventsTakeTheBootFromTheSnapshotAndTheHostFactsAfterIt) {
  TempDir t;
  Host h;
  const std::string dir = t.sub("data");
  {
    auto log = std::move(EventLog::OpenWriter(dir).value());
    Compactor c(*log);
    ASSERT_TRUE(log->Append(std::vector<Event>{h.Host_(0, kBoot1), h.Known(0, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                               h.Exec(1, 300, 5 * kSec, 1, 1 * kSec, {"/bin/a"})}).ok());
    ASSERT_TRUE(c.RunOnce(kT0 + 1 * kSec).ok());
    ASSERT_TRUE(log->Append(std::vector<Event>{h.Exec(2, 301, 6 * kSec, 1, 1 * kSec, {"/bin/b"}),
                                               h.Host_(3, kBoot2),
                                               h.Exec(4, 302, 7 * kSec, 1, 1 * kSec, {"/bin/c"})}).ok());
  }
  auto ids = [&](uint64_t since) {
    std::vector<std::string> out;
    CmdRun r = Replay(t, "events --kind exec --since " + At(since) + " --json --data-dir " + dir);
    EXPECT_EQ(r.code, 0) << r.err;
    for (size_t i = 0, j; i < r.out.size(); i = j + 1) {
      j = r.out.find('\n', i);
      out.push_back(json::parse(r.out.substr(i, j - i))["process_id"]);
    }
    return out;
  };
  const std::string tag2 = BootTag(kBoot2);
  // From the snapshot (boot 1), then the host facts in the window (boot 2).
  EXPECT_EQ(ids(2), (std::vector<std::string>{Id(301, 6 * kSec), tag2 + "-" + std::to_string(7 * kSec) + "-302"}));
  // The host facts between the snapshot and the window: boot 2.
  EXPECT_EQ(ids(4), (std::vector<std::string>{tag2 + "-" + std::to_string(7 * kSec) + "-302"}));
}

// The same pid and start time in two boots are two processes.
TEST(Lineage, TheSamePidAndStartInAnotherBootIsAnotherProcess) {
  TempDir t;
  Host h;
  const std::string dir = Write(t, {h.Host_(0, kBoot1), h.Known(0, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                    h.Exec(1, 300, 5 * kSec, 1, 1 * kSec, {"/bin/old"}),
                                    h.Host_(10, kBoot2), h.Known(10, 1, 1 * kSec, 0, 0, "/sbin/init"),
                                    h.Exec(11, 300, 5 * kSec, 1, 1 * kSec, {"/bin/new"})});
  const std::string new_id = BootTag(kBoot2) + "-" + std::to_string(5 * kSec) + "-300";
  EXPECT_NE(new_id, Id(300, 5 * kSec));
  json a = RunJson(t, "lineage " + Id(300, 5 * kSec) + " --data-dir " + dir);
  json b = RunJson(t, "lineage " + new_id + " --data-dir " + dir);
  EXPECT_EQ(a["process"]["argv"], json::array({"/bin/old"}));
  EXPECT_EQ(b["process"]["argv"], json::array({"/bin/new"}));
  EXPECT_EQ(b["boot_id"], kBoot2);
  CmdRun none = Replay(t, "lineage " + std::string(kTag1) + "-5-999 --data-dir " + dir);
  EXPECT_EQ(none.code, 1);
  CmdRun bad = Replay(t, "lineage not-an-id --data-dir " + dir);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("is not a process id"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace twin
