// `twind --check`: loads and attaches every hook for real and reports readiness.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

TEST(Check, ReportsEveryHookAndReadiness) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("check");
  std::string cmd = std::string(TWIND_BIN) + " --check --json --no-twin --config /dev/null --data-dir '" +
                    dir + "/data'";  // our own mkdtemp path, not host data
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["ready"].get<bool>());
  std::set<std::string> hooks;
  for (auto& c : j["checks"]) {
    std::string name = c["name"];
    if (name.rfind("hook ", 0) == 0) {
      hooks.insert(name.substr(5));
      EXPECT_EQ(c["status"], "ok") << name << ": " << c["detail"];
    }
  }
  for (const char* h : {"sched_process_exec", "sched_process_exit", "sched_process_fork",
                        "syscalls:sys_enter_bind", "syscalls:sys_exit_bind",
                        "sock:inet_sock_set_state", "syscalls:sys_exit_listen",
                        "cgroup:cgroup_mkdir", "cgroup:cgroup_rmdir"})
    EXPECT_TRUE(hooks.count(h)) << h;
  struct stat st {};
  ASSERT_EQ(stat((dir + "/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace twin::testing
