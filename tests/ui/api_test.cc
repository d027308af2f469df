// The UI's API and report against real logs: the timeline aggregate against a plain count of the
// records, the API documents against what the CLI prints with --json, and the report's escaping.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eventlog/synth.h"
#include "eventlog/timefmt.h"
#include "replay/documents.h"
#include "replay/timeline.h"
#include "tests/common/replay_run.h"
#include "tests/core/test_util.h"
#include "ui/app.h"
#include "ui/http.h"
#include "ui/report.h"

namespace twin::ui {
namespace {

using twin::testing::TempDir;

const char* kHostileArgv[] = {"</script><script>alert(1)</script>", "\"><img src=x onerror=alert(2)>",
                              "javascript:alert(3)", "\xe2\x80\xae" "evil", "{{7*7}}"};

// A log of n synthetic events (10 ms apart on average) plus one exec with hostile argv.
void MakeLog(const std::string& dir, size_t n, uint64_t* first, uint64_t* last) {
  auto log = EventLog::OpenWriter(dir);
  ASSERT_TRUE(log.ok()) << log.status().message();
  SynthOptions o;
  o.seed = 7;
  o.mean_step_ns = 10'000'000;
  o.hostile_strings = true;
  SynthGenerator g(o);
  std::vector<Event> v;
  g.Fill(v, n);
  Event e;
  e.kind = EventKind::kProcessExec;
  e.ts_ns = g.now_ns() + 1000;
  e.pid = 4242;
  e.start_ns = 99;
  e.comm = "evil";
  e.exe = "/bin/true";
  for (const char* a : kHostileArgv) e.argv.emplace_back(a);
  v.push_back(e);
  for (size_t i = 0; i < v.size(); i += 500) {
    std::vector<Event> batch(v.begin() + i, v.begin() + std::min(v.size(), i + 500));
    ASSERT_TRUE(log.value()->Append(batch).ok());
  }
  ASSERT_TRUE(log.value()->Sync().ok());
  *first = v.front().ts_ns;
  *last = log.value()->Last().value()->key.ts_ns;
}

HttpRequest Req(const std::string& path, std::vector<std::pair<std::string, std::string>> q) {
  HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.query = std::move(q);
  return r;
}

TEST(TimelineBuckets, WidthFollowsTheRange) {
  constexpr uint64_t s = 1'000'000'000ull;
  EXPECT_EQ(TimelineBucketNs(100'000'000ull, 240), 1'000'000ull);  // 100 ms: 1 ms buckets
  EXPECT_EQ(TimelineBucketNs(s, 240), 5'000'000ull);
  EXPECT_EQ(TimelineBucketName(5'000'000ull), "5ms");
  EXPECT_EQ(TimelineBucketNs(60 * s, 240), 250'000'000ull);
  EXPECT_EQ(TimelineBucketNs(300 * s, 240), 2 * s);
  EXPECT_EQ(TimelineBucketNs(3600 * s, 240), 30 * s);
  EXPECT_EQ(TimelineBucketNs(86400 * s, 240), 600 * s);
  EXPECT_EQ(TimelineBucketNs(30 * 86400 * s, 240), 21600 * s);
  EXPECT_EQ(TimelineBucketNs(3650ull * 86400 * s, 240), 30 * 86400 * s);
  EXPECT_EQ(TimelineBucketName(30 * 86400 * s), "30d");
}

TEST(Timeline, CountsPerBucketAndKindMatchAPlainCountOfTheRecords) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.path(), 20000, &first, &last);
  auto log = EventLog::OpenReader(t.path());
  ASSERT_TRUE(log.ok());
  TimelineOptions o;
  o.since_ns = first + (last - first) / 4;  // a window that cuts buckets at both ends
  o.until_ns = last - (last - first) / 5;
  std::string doc;
  ASSERT_TRUE(TimelineDocument(*log.value(), o, &doc).ok());
  auto j = nlohmann::json::parse(doc);
  const uint64_t width = j["bucket_ns"], origin = j["origin_ns"];
  // The oracle: every record of the window, counted one by one.
  std::map<std::pair<uint64_t, std::string>, uint64_t> want;
  uint64_t total = 0;
  ASSERT_TRUE(log.value()->Scan({o.since_ns, 0}, {o.until_ns - 1, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    ++want[{(k.ts_ns - origin) / width, std::string(KindName(e.kind))}];
    ++total;
    return true;
  }).ok());
  ASSERT_GT(total, 1000u);
  EXPECT_EQ(j["total"].get<uint64_t>(), total);
  std::map<std::pair<uint64_t, std::string>, uint64_t> got;
  for (size_t b = 0; b < j["counts"].size(); ++b) {
    for (size_t k = 0; k < j["kinds"].size(); ++k) {
      const uint64_t c = j["counts"][b][k];
      if (c) got[{b, j["kinds"][k].get<std::string>()}] = c;
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_LE(j["counts"].size(), 241u);
}

TEST(Api, DocumentsAreTheBytesTheCliPrints) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.sub("d"), 3000, &first, &last);
  auto log = EventLog::OpenReader(t.sub("d"));
  ASSERT_TRUE(log.ok());
  const std::string mid = std::to_string(first + (last - first) / 2), end = std::to_string(last);
  struct Case {
    std::string cli;
    HttpRequest req;
  } cases[] = {
      {"state --at " + mid, Req("/api/state", {{"at", mid}})},
      {"diff " + mid + " " + end, Req("/api/diff", {{"t1", mid}, {"t2", end}})},
      {"tree --at " + end, Req("/api/tree", {{"at", end}})},
      {"events --since " + mid + " --limit 50", Req("/api/events", {{"since", mid}, {"limit", "50"}})},
      {"events --kind exec --pid 4242", Req("/api/events", {{"kind", "exec"}, {"pid", "4242"}})},
      {"verify --quick", Req("/api/verify", {{"quick", "1"}})},
      {"info", Req("/api/info", {})},
  };
  for (const auto& c : cases) {
    auto run = twin::testing::Replay(t, "--data-dir " + t.sub("d") + " --json " + c.cli);
    ASSERT_EQ(run.code, 0) << c.cli << ": " << run.err;
    HttpResponse r = ApiResponse(*log.value(), t.sub("d"), c.req);
    EXPECT_EQ(r.status, 200) << c.cli << ": " << r.body;
    EXPECT_EQ(r.body, run.out) << c.cli;
  }
}

TEST(Api, BadArgumentsAre400AndUnknownIds404) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.path(), 500, &first, &last);
  auto log = EventLog::OpenReader(t.path());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(ApiResponse(*log.value(), t.path(), Req("/api/state", {{"at", "yesterday-ish"}})).status, 400);
  EXPECT_EQ(ApiResponse(*log.value(), t.path(), Req("/api/events", {{"pid", "-1"}})).status, 400);
  EXPECT_EQ(ApiResponse(*log.value(), t.path(), Req("/api/diff", {{"t1", "now"}, {"t2", std::to_string(first)}})).status, 400);
  EXPECT_EQ(ApiResponse(*log.value(), t.path(), Req("/api/lineage", {{"id", "0123456789abcdef-1-1"}})).status, 404);
  EXPECT_EQ(ApiResponse(*log.value(), t.path(), Req("/api/nope", {})).status, 404);
}

TEST(Report, HostileStringsCannotLeaveTheDataBlock) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.path(), 2000, &first, &last);
  auto log = EventLog::OpenReader(t.path());
  ASSERT_TRUE(log.ok());
  auto html = BuildReport(*log.value(), t.path(), first, last + 1);
  ASSERT_TRUE(html.ok()) << html.status().message();
  const std::string& h = html.value();
  // Exactly the two closing tags of the page itself (the data block and the inlined script).
  size_t closes = 0;
  for (size_t p = h.find("</script"); p != std::string::npos; p = h.find("</script", p + 1)) ++closes;
  EXPECT_EQ(closes, 2u);
  EXPECT_EQ(h.find("<img"), std::string::npos);
  EXPECT_NE(h.find("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"),
            std::string::npos);
  // The data block is JSON that still holds the argv, byte for byte.
  const std::string open = "<script type=\"application/json\" id=\"twin-report\">";
  const size_t a = h.find(open) + open.size();
  const size_t b = h.find("</script>", a);
  auto j = nlohmann::json::parse(h.substr(a, b - a));
  const std::string lines = j["docs"]["events"]["lines"];
  EXPECT_NE(lines.find("</script><script>alert(1)</script>"), std::string::npos);
  EXPECT_EQ(EscapeJsonForScript("a</script>&"), "a\\u003c/script\\u003e\\u0026");
}

TEST(UiCli, NonLoopbackListenIsRefusedWithExit2) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.sub("d"), 10, &first, &last);
  for (const char* addr : {"0.0.0.0:18300", "192.168.0.1:18300", "[::]:18300"}) {
    auto run = twin::testing::Replay(t, std::string("ui --data-dir ") + t.sub("d") + " --listen " + addr);
    EXPECT_EQ(run.code, 2) << addr;
    EXPECT_NE(run.err.find("not a loopback address"), std::string::npos) << run.err;
    EXPECT_EQ(run.out.find("token="), std::string::npos);  // no token printed, nothing served
  }
}

TEST(UiCli, ServesUntilSigtermThenExitsZero) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.sub("d"), 10, &first, &last);
  const std::string out = t.sub("ui.out");
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string d = t.sub("d");
    execl(TWIN_REPLAY_BIN, TWIN_REPLAY_BIN, "ui", "--data-dir", d.c_str(), "--listen", "127.0.0.1:0", nullptr);
    _exit(127);
  }
  std::string text;
  for (int i = 0; i < 100 && text.find("token=") == std::string::npos; ++i) {
    usleep(50000);
    text = twin::testing::Slurp(out);
  }
  EXPECT_NE(text.find("open: http://127.0.0.1:"), std::string::npos) << text;
  kill(pid, SIGTERM);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st)) << "killed by signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 0) << twin::testing::Slurp(out);
}

TEST(UiCli, ReportWritesOneSelfContainedFile) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.sub("d"), 1000, &first, &last);
  auto run = twin::testing::Replay(t, "report --data-dir " + t.sub("d") + " --since " + std::to_string(first) +
                                          " --until " + std::to_string(last) + " --out " + t.sub("case.html"));
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string h = twin::testing::Slurp(t.sub("case.html"));
  EXPECT_EQ(h.find("<script src"), std::string::npos);  // nothing is loaded from anywhere
  EXPECT_EQ(h.find("<link"), std::string::npos);
  EXPECT_NE(h.find("\"mode\":\"report\""), std::string::npos);
}

// --max-events sets how many events the page embeds (the page knows there were more); a value
// that is not a count, or more than a page can hold, is a usage error and writes nothing.
TEST(UiCli, ReportMaxEventsBoundsTheEmbeddedEvents) {
  TempDir t;
  uint64_t first = 0, last = 0;
  MakeLog(t.sub("d"), 1000, &first, &last);
  const std::string base = "report --data-dir " + t.sub("d") + " --since " + std::to_string(first) +
                           " --until " + std::to_string(last) + " --out " + t.sub("case.html");
  auto embedded = [&]() {
    const std::string h = twin::testing::Slurp(t.sub("case.html"));
    const std::string open = "id=\"twin-report\">";
    const size_t a = h.find(open), b = h.find("</script>", a);
    auto j = nlohmann::json::parse(h.substr(a + open.size(), b - a - open.size()));
    const std::string lines = j["docs"]["events"]["lines"];
    return std::make_pair(std::count(lines.begin(), lines.end(), '\n'), j["docs"]["events"]["more"].get<bool>());
  };
  auto run = twin::testing::Replay(t, base + " --max-events 10");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(embedded(), std::make_pair(std::ptrdiff_t{10}, true));
  run = twin::testing::Replay(t, base);
  ASSERT_EQ(run.code, 0) << run.err;
  const auto all = embedded();  // the default (20000) holds the whole window
  EXPECT_GE(all.first, 1000);
  EXPECT_FALSE(all.second);
  std::filesystem::remove(t.sub("case.html"));
  for (const char* bad : {"0", "-1", "ten", "1e3", "1000001"}) {
    run = twin::testing::Replay(t, base + " --max-events " + bad);
    EXPECT_EQ(run.code, 2) << bad;
    EXPECT_NE(run.err.find("--max-events"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(t.sub("case.html"))) << bad;
  }
}

}  // namespace
}  // namespace twin::ui
