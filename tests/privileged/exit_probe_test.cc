// sched_process_exit → kProcessExit once per process (not per thread), with the exit code or the
// killing signal.
#include <pthread.h>
#include <sys/syscall.h>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

std::vector<Event> EventsFor(const std::string& dir, EventKind kind, pid_t pid) {
  std::vector<Event> out;
  for (auto& ke : ReadAll(dir))
    if (ke.event.kind == kind && ke.event.pid == pid) out.push_back(ke.event);
  return out;
}

TEST(ExitProbe, KillingSignalIsRecorded) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exit-sig");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  pid_t pid = SpawnAs({"/bin/sleep", "30"}, "/", -1, -1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t start_ns = ProcStartNs(pid);
  kill(pid, SIGKILL);
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(st));
  auto e = WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->start_ns, start_ns);
  EXPECT_EQ(e->signal, SIGKILL);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_FALSE(e->core_dumped);
  EXPECT_EQ(e->comm, "sleep");
  EXPECT_EQ(e->ppid, getpid());
  EXPECT_GE(e->duration_ns, 150000000ull);
}

void* Worker(void* arg) {
  std::this_thread::sleep_for(std::chrono::milliseconds(*static_cast<int*>(arg)));
  return nullptr;
}

TEST(ExitProbe, OneExitPerProcessNotPerThread) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exit-threads");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t th[4];
    int ms = 50;
    for (auto& t : th) pthread_create(&t, nullptr, Worker, &ms);
    for (auto& t : th) pthread_join(t, nullptr);
    _exit(5);
  }
  int st = WaitStatus(pid);
  ASSERT_EQ(WEXITSTATUS(st), 5);
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  }).has_value());
  ASSERT_EQ(twind.Stop(), 0);
  auto exits = EventsFor(twind.data_dir(), EventKind::kProcessExit, pid);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].exit_code, 5);
  EXPECT_EQ(exits[0].signal, 0);
  // Threads are not processes: no fork events name this process as a parent.
  for (auto& ke : ReadAll(twind.data_dir()))
    EXPECT_FALSE(ke.event.kind == EventKind::kProcessFork && ke.event.ppid == pid);
}

TEST(ExitProbe, LeaderExitingFirstReportsTheProcessEndNotTheLeaderThread) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("exit-leader");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  pid_t pid = fork();
  if (pid == 0) {
    pthread_t th;
    pthread_create(&th, nullptr, [](void*) -> void* {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      exit(6);
    }, nullptr);
    // The leader thread leaves first (raw exit: pthread_exit would unwind through gtest).
    syscall(SYS_exit, 0);
  }
  int st = WaitStatus(pid);
  ASSERT_EQ(WEXITSTATUS(st), 6);
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == pid;
  }).has_value());
  ASSERT_EQ(twind.Stop(), 0);
  auto exits = EventsFor(twind.data_dir(), EventKind::kProcessExit, pid);
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].exit_code, 6);
  EXPECT_GE(exits[0].duration_ns, 250000000ull);
}

}  // namespace
}  // namespace twin::testing
