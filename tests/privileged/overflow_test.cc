// A tiny ring buffer forced to overflow: drop counters > 0, a gap and a resync in the log, and the
// state after resync matches /proc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>

#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

uint64_t SumMetric(const std::string& text, const std::string& name) {
  uint64_t sum = 0;
  size_t pos = 0;
  while ((pos = text.find("\n" + name, pos)) != std::string::npos) {
    size_t sp = text.find(' ', pos + 1);
    size_t nl = text.find('\n', sp);
    sum += strtoull(text.substr(sp + 1, nl - sp - 1).c_str(), nullptr, 10);
    pos = nl;
  }
  return sum;
}

TEST(Overflow, TinyRingBufferGivesDropsGapAndResync) {
  TWIN_REQUIRE_BPF();
  std::string dir = MakeTempDir("overflow");
  Twind twind(dir + "/data");
  const uint16_t mport = 19000 + getpid() % 1000;
  ASSERT_TRUE(twind.Start({"--ringbuf-size", "4096", "--metrics-addr",
                           "127.0.0.1:" + std::to_string(mport)}));
  const std::string marker = "twin-overflow-" + std::to_string(getpid());
  const std::string pad(3000, 'p');  // one exec record nearly fills the 4 KiB buffer
  std::vector<pid_t> pids;
  char* envp[] = {nullptr};
  for (int i = 0; i < 400; ++i) {
    char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(marker.c_str()),
                    const_cast<char*>(pad.c_str()), nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp), 0);
    pids.push_back(pid);
  }
  for (pid_t p : pids) WaitStatus(p);

  auto gap = WaitForEvent(twind.data_dir(), [](const Event& e) {
    return e.kind == EventKind::kGap && e.lost > 0;
  }, 5000);
  ASSERT_TRUE(gap.has_value()) << twind.Log();
  EXPECT_NE(gap->reason.find("ring buffer"), std::string::npos) << gap->reason;
  EXPECT_LE(gap->gap_start_ns, gap->gap_end_ns);
  std::string metrics = HttpGet(mport, "/metrics");
  EXPECT_GT(SumMetric(metrics, "twind_ringbuf_drops_total"), 0u) << metrics;
  EXPECT_GT(SumMetric(metrics, "twind_gaps_total"), 0u);

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto before = ScanProcKeys();
  const pid_t tw = twind.pid();
  ASSERT_EQ(twind.Stop(), 0);
  auto after = ScanProcKeys();

  // The resync that follows the gap completes after it, in key order.
  bool saw_gap = false, complete_after_gap = false;
  for (auto& ke : ReadAll(twind.data_dir())) {
    if (ke.event.kind == EventKind::kGap && ke.event.lost > 0) saw_gap = true;
    if (saw_gap && ke.event.kind == EventKind::kResync && ke.event.resync_op == ResyncOp::kComplete)
      complete_after_gap = true;
  }
  EXPECT_TRUE(complete_after_gap);
  // The gap is recorded at the drop check that found the loss (up to 0.5 s after it began): a
  // state inside its window is uncertain, although the fold up to then has not seen the gap.
  {
    auto log = EventLog::OpenReader(twind.data_dir());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    auto mid = StateAt(**log, gap->gap_start_ns + (gap->gap_end_ns - gap->gap_start_ns) / 2);
    ASSERT_TRUE(mid.ok()) << mid.status().ToString();
    EXPECT_TRUE(mid->uncertain) << "state inside a ring-buffer gap said certain";
    EXPECT_LE(mid->uncertain_since_ns, gap->gap_start_ns + (gap->gap_end_ns - gap->gap_start_ns) / 2);
  }
  auto s = FinalState(twind.data_dir());
  ASSERT_TRUE(s.has_value());
  ExpectStateMatchesProc(*s, before, after, tw, [&](const Process& p) {
    return p.argv.size() >= 2 && p.argv[1] == marker;
  });
}

}  // namespace
}  // namespace twin::testing
