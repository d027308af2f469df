// The web UI in a real browser against a real capture (label privileged: twind's BPF probes need
// root). twind records a marked exec storm, a process with a known lifetime and a process with
// hostile argv; then `twin-replay ui` serves the log and Debian's chromium, driven by
// playwright-core (tests/ui/browser/ui_browser_test.mjs), checks the pages: the storm's count,
// the process appearing and disappearing as the slider crosses its lifetime, hostile argv shown
// as text with no dialog and no request, 401 without the token; then the same for the report
// file opened from disk. Screenshots of every page go to TWIN_UI_SCREENSHOTS (default: the temp
// dir; docs/ui/ is made from a synthetic log by scripts/ui-screenshots.sh).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/timefmt.h"
#include "tests/common/skip.h"
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

constexpr int kStorm = 200;
constexpr const char* kPort = "18301";

pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path, const std::vector<std::string>& env = {}) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> envs = env;
  envs.push_back("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  if (const char* h = getenv("HOME")) envs.push_back(std::string("HOME=") + h);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!out_path.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int Wait(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool Have(const char* path) { return access(path, X_OK) == 0; }

TEST(UiBrowser, PagesShowTheCaptureAndHostileArgvAsText) {
  TWIN_REQUIRE_BPF();
  TWIN_REQUIRE(Have("/usr/bin/chromium"), "needs Debian's chromium (scripts/packages.txt)");
  TWIN_REQUIRE(Have("/usr/bin/node"), "needs node (scripts/packages.txt: nodejs, npm)");
  const std::string modules = std::string(TWIN_UI_BROWSER_DIR) + "/node_modules/playwright-core";
  TWIN_REQUIRE(access(modules.c_str(), R_OK) == 0,
               "needs playwright-core: the ui_browser_setup test runs npm ci from tests/ui/browser/package-lock.json");

  const std::string dir = MakeTempDir("ui-browser");
  ASSERT_FALSE(dir.empty());
  const std::string data = dir + "/data";
  Twind d(data);
  ASSERT_TRUE(d.Start());

  const std::string tag = std::to_string(getpid());
  const std::string storm_marker = "twin-ui-storm-" + tag;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const uint64_t storm_since = WallNowNs();
  for (int i = 0; i < kStorm; ++i) {
    pid_t p = SpawnAs({"/bin/true", storm_marker}, "", static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    ASSERT_GT(p, 0);
    WaitStatus(p);
  }
  const uint64_t storm_until = WallNowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  // A process that lives ~3 s, and one whose argv is hostile markup (it lives 3 s as well, so
  // the state at its middle shows it in the tree).
  const std::string life_marker = "twin-ui-lifetime-" + tag;
  const uint64_t life_before = WallNowNs();
  pid_t life = SpawnAs({"/bin/sh", "-c", "sleep 3", life_marker}, "", static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  pid_t hostile = SpawnAs({"/bin/sh", "-c", "sleep 3", "<script>alert(1)</script>",
                           "\"><img src=x onerror=alert(2)>", "javascript:alert(3)", "\xe2\x80\xae" "gnp.exe",
                           "twin-ui-hostile-" + tag},
                          "", static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  ASSERT_GT(life, 0);
  ASSERT_GT(hostile, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const uint64_t life_mid = WallNowNs();
  WaitStatus(life);
  WaitStatus(hostile);
  const uint64_t life_after = WallNowNs() + 2'000'000'000ull;
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));  // exits folded into a snapshot
  ASSERT_TRUE(WaitForEvent(data, [&](const Event& e) { return e.kind == EventKind::kProcessExit && e.pid == hostile; }, 10000));
  // A real gap: twind killed with SIGKILL, down ~3 s, started again (it records the downtime).
  d.Stop(SIGKILL);
  const uint64_t gap_from = WallNowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const uint64_t gap_mid = WallNowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(d.Start());
  const uint64_t gap_to = WallNowNs();
  ASSERT_TRUE(WaitForEvent(data, [&](const Event& e) { return e.kind == EventKind::kGap && e.gap_end_ns >= gap_mid; }, 10000))
      << "no gap recorded for the downtime";
  ASSERT_EQ(d.Stop(), 0);

  // twin-replay ui, as a user runs it.
  const std::string ui_out = dir + "/ui.out";
  pid_t ui = Spawn({TWIN_REPLAY_BIN, "ui", "--data-dir", data, "--listen", std::string("127.0.0.1:") + kPort}, ui_out);
  ASSERT_GT(ui, 0);
  std::string url;
  for (int i = 0; i < 100 && url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string out = ReadText(ui_out);
    const size_t at = out.find("open: ");
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) url = out.substr(at + 6, out.find('\n', at) - at - 6);
  }
  ASSERT_FALSE(url.empty()) << ReadText(ui_out);
  const std::string report = dir + "/case.html";
  {
    pid_t r = Spawn({TWIN_REPLAY_BIN, "report", "--data-dir", data, "--since", std::to_string(storm_since - 1'000'000'000ull),
                     "--until", std::to_string(life_after), "--out", report,
                     "--max-events", "200000"}, dir + "/report.out");
    ASSERT_EQ(Wait(r), 0) << ReadText(dir + "/report.out");
  }
  const char* shots = getenv("TWIN_UI_SCREENSHOTS");
  const std::string node_out = dir + "/node.out";
  pid_t node = Spawn({"/usr/bin/node", std::string(TWIN_UI_SOURCE_DIR) + "/browser/ui_browser_test.mjs"}, node_out,
                     {"NODE_PATH=" + std::string(TWIN_UI_BROWSER_DIR) + "/node_modules",
                      "TWIN_UI_BROWSER_DIR=" + std::string(TWIN_UI_BROWSER_DIR),
                      "TWIN_UI_URL=" + url, "TWIN_UI_REPORT=" + report,
                      "TWIN_UI_SCREENSHOTS=" + std::string(shots ? shots : dir + "/shots"),
                      "TWIN_STORM_SINCE=" + std::to_string(storm_since), "TWIN_STORM_UNTIL=" + std::to_string(storm_until),
                      "TWIN_STORM_COUNT=" + std::to_string(kStorm), "TWIN_STORM_MARKER=" + storm_marker,
                      "TWIN_LIFE_MARKER=" + life_marker, "TWIN_LIFE_BEFORE=" + std::to_string(life_before),
                      "TWIN_LIFE_MID=" + std::to_string(life_mid), "TWIN_LIFE_AFTER=" + std::to_string(life_after),
                      "TWIN_HOSTILE_MARKER=twin-ui-hostile-" + tag, "TWIN_GAP_FROM=" + std::to_string(gap_from),
                      "TWIN_GAP_MID=" + std::to_string(gap_mid), "TWIN_GAP_TO=" + std::to_string(gap_to)});
  ASSERT_GT(node, 0);
  const int node_rc = Wait(node);
  EXPECT_EQ(node_rc, 0) << ReadText(node_out);
  std::cout << ReadText(node_out);
  // SIGTERM ends the server cleanly.
  kill(ui, SIGTERM);
  EXPECT_EQ(Wait(ui), 0) << ReadText(ui_out);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twin::testing
