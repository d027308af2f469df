// sched_process_fork → kProcessFork for new processes (not threads); a forked worker that never
// execs is in the state.
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

TEST(ForkProbe, ForkWithoutExecIsRecordedAndInTheState) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("fork");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  pid_t pid = fork();
  if (pid == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    _exit(7);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t start_ns = ProcStartNs(pid);
  std::string comm = ReadText("/proc/self/comm");
  comm.pop_back();

  auto fork_ev = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessFork && e.pid == pid;
  });
  ASSERT_TRUE(fork_ev.has_value());
  EXPECT_EQ(fork_ev->start_ns, start_ns);
  EXPECT_EQ(fork_ev->ppid, getpid());
  EXPECT_EQ(fork_ev->parent_start_ns, ProcStartNs(getpid()));
  EXPECT_EQ(fork_ev->uid, getuid());
  EXPECT_EQ(fork_ev->gid, getgid());
  EXPECT_EQ(fork_ev->comm, comm);

  // After the next compaction the worker is a live process with the parent's image.
  bool in_state = false;
  for (int i = 0; i < 25 && !in_state; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto log = EventLog::OpenReader(twind.data_dir());
    if (!log.ok()) continue;
    auto snap = (*log)->SnapshotAtOrBefore({UINT64_MAX, UINT64_MAX});
    if (!snap.ok() || !snap->has_value()) continue;
    auto it = (*snap)->state.processes.find(ProcKey{pid, start_ns});
    if (it != (*snap)->state.processes.end()) {
      in_state = true;
      EXPECT_EQ(it->second.ppid, getpid());
      EXPECT_EQ(it->second.comm, comm);
    }
  }
  EXPECT_TRUE(in_state) << "forked worker not in the snapshot state";
  int st = WaitStatus(pid);
  ASSERT_EQ(WEXITSTATUS(st), 7);
  auto exit_ev = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  });
  ASSERT_TRUE(exit_ev.has_value());
  EXPECT_EQ(exit_ev->start_ns, start_ns);
  EXPECT_EQ(exit_ev->exit_code, 7);
  ASSERT_EQ(twind.Stop(), 0);
  for (auto& ke : ReadAll(twind.data_dir()))
    EXPECT_FALSE(ke.event.kind == EventKind::kProcessExec && ke.event.pid == pid &&
                 ke.event.start_ns == start_ns);
}

TEST(ForkProbe, ThreadsAreNotForks) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("fork-thread");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  std::thread t([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  const pid_t me = getpid();
  t.join();
  // A marker fork after the thread: once it is in the log, the thread's fork would be too.
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  WaitStatus(pid);
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessFork && e.pid == pid;
  }).has_value());
  ASSERT_EQ(twind.Stop(), 0);
  int forks_from_me = 0;
  for (auto& ke : ReadAll(twind.data_dir()))
    if (ke.event.kind == EventKind::kProcessFork && ke.event.ppid == me) ++forks_from_me;
  EXPECT_EQ(forks_from_me, 1);
}

}  // namespace
}  // namespace twin::testing
