// kill -9 of twind during a storm → restart → the log verifies, a gap spans the downtime, and the
// state matches /proc.
#include <spawn.h>

#include <atomic>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

uint64_t WallNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

TEST(CrashRestart, KillNineDuringStormLeavesAVerifiableLogWithAGap) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("crash");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const std::string marker = "twin-crash-" + std::to_string(getpid());
  std::atomic<bool> stop{false};
  std::atomic<int> spawned{0};
  std::thread storm([&] {
    char* envp[] = {nullptr};
    while (!stop) {
      char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(marker.c_str()), nullptr};
      pid_t pid;
      if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) == 0) {
        WaitStatus(pid);
        ++spawned;
      }
    }
  });
  // The phases are counted in processes, not timed: the storm runs on through each of them.
  auto spawn_more = [&](int n) {
    const int until = spawned.load() + n;
    while (spawned.load() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  spawn_more(200);  // captured
  const uint64_t kill_ns = WallNow();
  twind.Stop(SIGKILL);
  spawn_more(200);  // missed: twind is down
  const uint64_t restart_ns = WallNow();
  ASSERT_TRUE(twind.Start());
  spawn_more(200);  // captured again
  stop = true;
  storm.join();
  // A last process after the storm: once its exit is in the log, twind has read past the storm.
  pid_t last = SpawnAs({"/bin/true", marker + "-last"}, "/", -1, -1);
  WaitStatus(last);
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return e.kind == EventKind::kProcessExit && e.pid == last;
  }, 60000).has_value()) << twind.Log();
  auto before = ScanProcKeys();
  const pid_t tw = twind.pid();
  ASSERT_EQ(twind.Stop(), 0);
  auto after = ScanProcKeys();

  {
    auto log = EventLog::OpenReader(twind.data_dir());
    ASSERT_TRUE(log.ok());
    VerifyReport r = (*log)->Verify();
    EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0].key + ": " + r.problems[0].what);
  }
  bool spanning = false;
  int starts = 0, storm_before_kill = 0, storm_after_restart = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    const Event& e = ke.event;
    starts += e.kind == EventKind::kDaemonStart;
    if (e.kind == EventKind::kProcessExec && e.argv.size() == 2 && e.argv[1] == marker) {
      storm_before_kill += e.ts_ns < kill_ns;
      storm_after_restart += e.ts_ns > restart_ns;
    }
    if (e.kind == EventKind::kGap && e.gap_start_ns <= kill_ns && e.gap_end_ns >= restart_ns) {
      spanning = true;
      EXPECT_NE(e.reason.find("not running"), std::string::npos) << e.reason;
    }
  }
  EXPECT_EQ(starts, 2);
  // The storm was captured on both sides of the downtime.
  EXPECT_GT(storm_before_kill, 0);
  EXPECT_GT(storm_after_restart, 0);
  EXPECT_TRUE(spanning) << "no gap covers the downtime";
  auto s = FinalState(twind.data_dir());
  ASSERT_TRUE(s.has_value());
  ExpectStateMatchesProc(*s, before, after, tw, [&](const Process& p) {
    return p.argv.size() >= 2 && p.argv[1].starts_with(marker);
  });
}

}  // namespace
}  // namespace twin::testing
