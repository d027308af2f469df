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
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const uint64_t kill_ns = WallNow();
  twind.Stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const uint64_t restart_ns = WallNow();
  ASSERT_TRUE(twind.Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  storm.join();
  EXPECT_GT(spawned.load(), 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
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
  int starts = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    const Event& e = ke.event;
    starts += e.kind == EventKind::kDaemonStart;
    if (e.kind == EventKind::kGap && e.gap_start_ns <= kill_ns && e.gap_end_ns >= restart_ns) {
      spanning = true;
      EXPECT_NE(e.reason.find("not running"), std::string::npos) << e.reason;
    }
  }
  EXPECT_EQ(starts, 2);
  EXPECT_TRUE(spanning) << "no gap covers the downtime";
  auto s = FinalState(twind.data_dir());
  ASSERT_TRUE(s.has_value());
  ExpectStateMatchesProc(*s, before, after, tw, [&](const Process& p) {
    return p.argv.size() >= 2 && p.argv[1] == marker;
  });
}

}  // namespace
}  // namespace twin::testing
