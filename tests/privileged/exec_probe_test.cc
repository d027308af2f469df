// sched_process_exec → kProcessExec, and its matching kProcessExit: every field checked against
// what the test itself arranged (argv, cwd, uid/gid) or read from /proc while the process ran.
#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

uint64_t Now(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

TEST(ExecProbe, RecordsEveryFieldOfAnExecAndItsExit) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exec");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());

  std::string cwd = MakeTempDir("exec-cwd");
  chmod(cwd.c_str(), 0755);
  const std::vector<std::string> args = {"/bin/sh", "-c", "sleep 0.5; exit 3", "argv0-name",
                                         "two words"};
  const uint64_t wall0 = Now(CLOCK_REALTIME), boot0 = Now(CLOCK_BOOTTIME);
  pid_t pid = SpawnAs(args, cwd, 65534, 65534);
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t start_ns = ProcStartNs(pid);
  const std::string cgroup = CgroupV2Of(pid);
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 3);
  const uint64_t wall1 = Now(CLOCK_REALTIME), boot1 = Now(CLOCK_BOOTTIME);

  auto exec = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == pid;
  });
  ASSERT_TRUE(exec.has_value()) << twind.Log();
  auto exit = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  });
  ASSERT_TRUE(exit.has_value());

  char real_sh[PATH_MAX];
  ASSERT_NE(realpath("/bin/sh", real_sh), nullptr);
  EXPECT_EQ(exec->pid, pid);
  EXPECT_EQ(exec->start_ns, start_ns);
  EXPECT_EQ(exec->ppid, getpid());
  EXPECT_EQ(exec->parent_start_ns, ProcStartNs(getpid()));
  EXPECT_EQ(exec->uid, 65534u);
  EXPECT_EQ(exec->gid, 65534u);
  EXPECT_EQ(exec->comm, "sh");
  EXPECT_EQ(exec->exe, real_sh);
  EXPECT_EQ(exec->cwd, cwd);
  EXPECT_EQ(exec->argv, args);
  EXPECT_FALSE(exec->argv_truncated);
  EXPECT_FALSE(exec->exe_truncated);
  EXPECT_FALSE(exec->cwd_truncated);
  EXPECT_EQ(exec->cgroup, cgroup);
  EXPECT_EQ(exec->container_id, "");
  EXPECT_GE(exec->ts_ns, wall0 - 5000000);  // clock offset measured at start: allow 5 ms
  EXPECT_LE(exec->ts_ns, wall1 + 5000000);
  EXPECT_GE(exec->boottime_ns, boot0);
  EXPECT_LE(exec->boottime_ns, boot1);

  EXPECT_EQ(exit->start_ns, start_ns);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_FALSE(exit->core_dumped);
  EXPECT_EQ(exit->comm, "sh");
  // The lifetime lies within what this test saw: the script's own sleep, and no more than the
  // span from just before the spawn to just after the wait (bounds, not a performance target).
  EXPECT_GE(exit->duration_ns, 500000000ull - 10000000ull);  // start_ns is rounded to clock ticks
  EXPECT_LE(exit->duration_ns, boot1 - boot0 + 10000000ull);
  EXPECT_GT(exit->boottime_ns, exec->boottime_ns);
  EXPECT_EQ(twind.Stop(), 0);
}

// A program and a working directory deeper than the probe walks (2 * TWIN_PATH_DEPTH steps):
// the event keeps the components nearest the file and says the path is truncated.
TEST(ExecProbe, DeepPathsKeepTheirLeafAndAreMarkedTruncated) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exec-deep");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());

  std::string deep = MakeTempDir("exec-deep-tree");
  chmod(deep.c_str(), 0755);
  for (int i = 0; i < 80; ++i) {
    deep += "/d" + std::to_string(i);
    ASSERT_EQ(mkdir(deep.c_str(), 0755), 0) << deep;
  }
  const std::string prog = deep + "/deep-sh";
  ASSERT_EQ(std::system(("cp /bin/dash " + prog).c_str()), 0);  // fixed test path, no host data
  pid_t pid = SpawnAs({prog, "-c", "exit 0"}, deep, 65534, 65534);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WIFEXITED(WaitStatus(pid)));
  auto exec = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == pid;
  });
  ASSERT_TRUE(exec.has_value()) << twind.Log();
  EXPECT_TRUE(exec->exe_truncated) << exec->exe;
  EXPECT_TRUE(exec->cwd_truncated) << exec->cwd;
  // What is kept is the tail of the real path, leaf included.
  EXPECT_LT(exec->exe.size(), prog.size());
  EXPECT_TRUE(exec->exe.ends_with("/d79/deep-sh")) << exec->exe;
  EXPECT_TRUE(prog.ends_with(exec->exe)) << exec->exe;
  EXPECT_TRUE(exec->cwd.ends_with("/d78/d79")) << exec->cwd;
  EXPECT_TRUE(deep.ends_with(exec->cwd)) << exec->cwd;
  EXPECT_EQ(twind.Stop(), 0);
}

}  // namespace
}  // namespace twin::testing

namespace twin::testing {
namespace {

// The raw_tp programs (used where tp_btf is refused) produce the same records.
TEST(ExecProbe, RawTracepointFallbackRecordsTheSameFields) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exec-raw");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start({"--force-raw-tp"}));
  std::string cwd = MakeTempDir("exec-raw-cwd");
  chmod(cwd.c_str(), 0755);
  const std::vector<std::string> args = {"/bin/sh", "-c", "sleep 0.3; exit 4", "raw tp"};
  pid_t pid = SpawnAs(args, cwd, 65534, 65534);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t start_ns = ProcStartNs(pid);
  WaitStatus(pid);
  auto exec = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == pid;
  });
  ASSERT_TRUE(exec.has_value()) << twind.Log();
  EXPECT_EQ(exec->start_ns, start_ns);
  EXPECT_EQ(exec->ppid, getpid());
  EXPECT_EQ(exec->uid, 65534u);
  EXPECT_EQ(exec->cwd, cwd);
  EXPECT_EQ(exec->argv, args);
  auto exit = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  });
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 4);
  auto fork_ev = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessFork && e.ppid == pid;  // sh forks sleep
  });
  ASSERT_TRUE(fork_ev.has_value());
  ASSERT_EQ(twind.Stop(), 0);
  bool raw_mode = false;
  for (auto& ke : ReadAll(twind.data_dir()))
    for (auto& [k, v] : ke.event.attrs)
      if (ke.event.kind == EventKind::kDaemonStart && k == "probe_mode") raw_mode = v == "raw_tp";
  EXPECT_TRUE(raw_mode);
}

}  // namespace
}  // namespace twin::testing
