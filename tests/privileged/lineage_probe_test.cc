// twin-replay lineage and tree on real captured processes. This test is a child subreaper: it
// forks A (no exec); A forks B and exits; the kernel hands B to this process, and B then execs
// /bin/sleep. The ids, the ancestry at B's start and the tree after the exec come from the log.
#include <sys/prctl.h>

#include <nlohmann/json.hpp>

#include "eventlog/process_id.h"
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

using json = nlohmann::json;

// twin-replay with argv (no shell); stdout, or "" after a failure reported to the test.
std::string ReplayOut(const std::vector<std::string>& args) {
  int out[2];
  if (pipe(out) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    std::vector<char*> argv{const_cast<char*>(TWIN_REPLAY_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  close(out[0]);
  const int st = WaitStatus(pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << args[0] << " failed: " << s;
  return s;
}

TEST(LineageProbe, ARealForkChainReparentedToASubreaperHasItsIdsAncestryAndTree) {
  TWIN_REQUIRE_BPF();
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
  std::string dir = MakeTempDir("lineage");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const pid_t me = getpid();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const pid_t a = fork();
  if (a == 0) {
    const pid_t b = fork();
    if (b == 0) {
      while (getppid() != me) usleep(10'000);  // A is gone: B is the subreaper's now
      execl("/bin/sleep", "sleep", "3", static_cast<char*>(nullptr));
      _exit(127);
    }
    (void)!write(p[1], &b, sizeof b);
    _exit(0);
  }
  close(p[1]);
  pid_t b = 0;
  ASSERT_EQ(read(p[0], &b, sizeof b), static_cast<ssize_t>(sizeof b));
  close(p[0]);
  const uint64_t a_start = ProcStartNs(a);  // A is a zombie until reaped: /proc still has it
  ASSERT_EQ(WEXITSTATUS(WaitStatus(a)), 0);
  const uint64_t b_start = ProcStartNs(b), me_start = ProcStartNs(me);
  std::string boot = ReadText("/proc/sys/kernel/random/boot_id");
  while (!boot.empty() && boot.back() == '\n') boot.pop_back();
  const std::string a_id = ProcessIdOf(boot, a, a_start), b_id = ProcessIdOf(boot, b, b_start),
                    me_id = ProcessIdOf(boot, me, me_start);

  auto exec = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == b;
  });
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->ppid, me);  // the exec carries the new parent
  EXPECT_EQ(exec->parent_start_ns, me_start);

  json lin = json::parse(ReplayOut({"lineage", b_id, "--json", "--data-dir", twind.data_dir()}), nullptr, false);
  ASSERT_TRUE(lin.is_object());
  EXPECT_EQ(lin["start_kind"], "fork");
  EXPECT_EQ(lin["boot_id"], boot);
  ASSERT_GE(lin["ancestors"].size(), 2u);
  EXPECT_EQ(lin["ancestors"][0]["id"], a_id);   // at its start B was A's child
  EXPECT_EQ(lin["ancestors"][1]["id"], me_id);
  bool exec_seen = false;
  for (const json& e : lin["events"]) {
    if (e["kind"] == "exec" && e["process_id"] == b_id) {
      exec_seen = true;
      EXPECT_EQ(e["parent_process_id"], me_id);
      EXPECT_EQ(e["argv"], json::array({"sleep", "3"}));
    }
  }
  EXPECT_TRUE(exec_seen) << lin.dump();

  // This process's lineage: A forked by it, B by A.
  json mine = json::parse(ReplayOut({"lineage", me_id, "--json", "--data-dir", twind.data_dir()}), nullptr, false);
  ASSERT_TRUE(mine.is_object());
  std::set<std::string> desc;
  for (const json& d : mine["descendants"]) desc.insert(d.get<std::string>());
  EXPECT_TRUE(desc.count(a_id)) << mine.dump();
  EXPECT_TRUE(desc.count(b_id)) << mine.dump();

  // The tree now: B (sleeping) under this process, A gone.
  json tree = json::parse(ReplayOut({"tree", "--id", me_id, "--json", "--data-dir", twind.data_dir()}), nullptr, false);
  ASSERT_TRUE(tree.is_object());
  ASSERT_EQ(tree["roots"].size(), 1u);
  bool b_child = false, a_child = false;
  for (const json& c : tree["roots"][0]["children"]) {
    b_child = b_child || c["process"]["id"] == b_id;
    a_child = a_child || c["process"]["id"] == a_id;
  }
  EXPECT_TRUE(b_child) << tree.dump();
  EXPECT_FALSE(a_child);
  WaitStatus(b);
  ASSERT_EQ(twind.Stop(), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twin::testing
