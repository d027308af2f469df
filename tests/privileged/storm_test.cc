// 10,000 short-lived processes → exactly 10,000 exec and 10,000 exit events, no drops, no gap.
#include <spawn.h>

#include <set>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

TEST(Storm, TenThousandProcessesAllRecorded) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("storm");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  const int kCount = 10000;
  const std::string marker = "twin-storm-" + std::to_string(getpid());
  std::set<pid_t> pids;
  char* envp[] = {nullptr};
  for (int i = 0; i < kCount; ++i) {
    std::string idx = std::to_string(i);
    char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(marker.c_str()), idx.data(), nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp), 0);
    WaitStatus(pid);
    pids.insert(pid);
  }
  // Let the writer catch up, then stop cleanly (flush).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(twind.Stop(), 0);
  std::set<std::pair<pid_t, uint64_t>> execs;
  std::set<int> indices;
  int exits = 0, gaps = 0;
  for (auto& ke : ReadAll(twind.data_dir())) {
    const Event& e = ke.event;
    if (e.kind == EventKind::kGap && e.reason.find("events lost") != std::string::npos) ++gaps;
    if (e.kind == EventKind::kProcessExec && e.argv.size() == 3 && e.argv[1] == marker) {
      execs.insert({e.pid, e.start_ns});
      indices.insert(std::stoi(e.argv[2]));
    }
  }
  for (auto& ke : ReadAll(twind.data_dir())) {
    const Event& e = ke.event;
    if (e.kind == EventKind::kProcessExit && execs.count({e.pid, e.start_ns})) ++exits;
  }
  EXPECT_EQ(execs.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(indices.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(exits, kCount);
  EXPECT_EQ(gaps, 0);
}

}  // namespace
}  // namespace twin::testing
