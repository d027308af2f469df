// ui_day_log: writes a day of synthetic host activity for the web UI's benchmark
// (bench/run-ui-bench.sh): N events (default 1,000,000) spread evenly over the 24 hours that end
// now, in batches of 1000, with a compactor snapshot every 10 s of log time (8,640 a day) as
// twind cuts them. Then measures the timeline aggregate of the whole day in-process (open +
// TimelineDocument), --runs times, and prints the times in ms. --hostile 1 mixes hostile strings
// into the events and adds a running process with markup in its argv (scripts/ui-screenshots.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "eventlog/timefmt.h"
#include "replay/timeline.h"

int main(int argc, char** argv) {
  std::string dir;
  uint64_t n = 1'000'000, runs = 5;
  bool write = true, hostile = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--data-dir") dir = argv[i + 1];
    else if (a == "--events") n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--runs") runs = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--write") write = std::string(argv[i + 1]) != "0";
    else if (a == "--hostile") hostile = std::string(argv[i + 1]) != "0";
  }
  if (dir.empty() || n == 0) {
    std::fprintf(stderr, "usage: ui_day_log --data-dir DIR [--events N] [--runs R] [--write 0|1] [--hostile 0|1]\n");
    return 2;
  }
  constexpr uint64_t kDay = 86'400'000'000'000ull;
  const uint64_t end = twin::WallNowNs();
  if (write) {
    auto opened = twin::EventLog::OpenWriter(dir);
    if (!opened.ok()) {
      std::fprintf(stderr, "ui_day_log: %s\n", opened.status().message().c_str());
      return 1;
    }
    auto log = std::move(opened).value();
    twin::Compactor compactor(*log, UINT64_MAX);
    twin::SynthOptions so;
    so.start_ns = end - kDay;
    so.mean_step_ns = kDay / n;
    so.hostile_strings = hostile;
    twin::SynthGenerator gen(so);
    std::vector<twin::Event> batch;
    uint64_t next_snap = so.start_ns + 10'000'000'000ull;
    // One process whose argv is markup, a javascript: URL and a bidi override, started half an
    // hour before the end and still running (for the UI's screenshots).
    twin::Event bad;
    bad.kind = twin::EventKind::kProcessExec;
    bad.ts_ns = end - 1'800'000'000'000ull;
    bad.pid = 31337;
    bad.ppid = 1;
    bad.start_ns = 123'000'000'000ull;
    bad.comm = "sh";
    bad.exe = "/usr/bin/dash";
    bad.cwd = "/tmp";
    bad.argv = {"/bin/sh", "-c", "sleep 1d", "<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>",
                "javascript:alert(3)", "\xe2\x80\xae" "gnp.exe"};
    bool bad_written = !hostile;
    for (uint64_t done = 0; done < n;) {
      batch.clear();
      for (uint64_t i = 0; i < 1000 && done < n; ++i, ++done) {
        batch.push_back(gen.Next());
        batch.back().ts_ns = so.start_ns + done * (kDay / n);  // evenly over the day
        if (!bad_written && batch.back().ts_ns >= bad.ts_ns) {
          bad.ts_ns = batch.back().ts_ns;
          batch.push_back(bad);
          bad_written = true;
        }
      }
      if (auto r = log->Append(batch); !r.ok()) {
        std::fprintf(stderr, "ui_day_log: %s\n", r.status().message().c_str());
        return 1;
      }
      const uint64_t t = batch.back().ts_ns;
      if (t >= next_snap) {
        if (auto r = compactor.RunOnce(t); !r.ok()) {
          std::fprintf(stderr, "ui_day_log: compactor: %s\n", r.status().message().c_str());
          return 1;
        }
        while (next_snap <= t) next_snap += 10'000'000'000ull;
      }
    }
    if (auto s = log->Sync(); !s.ok()) return 1;
  }
  // Interleaved runs: one thread (the baseline) and the default slicing, each a fresh open.
  std::vector<double> ms[2];
  for (uint64_t r = 0; r < runs; ++r) {
    for (int variant = 0; variant < 2; ++variant) {
      const auto t0 = std::chrono::steady_clock::now();
      auto log = twin::EventLog::OpenReader(dir);
      if (!log.ok()) return 1;
      auto first = log.value()->First();
      auto last = log.value()->Last();
      twin::TimelineOptions o;
      o.since_ns = first.value()->key.ts_ns;
      o.until_ns = last.value()->key.ts_ns + 1;
      o.threads = variant == 0 ? 1 : 0;
      std::string doc;
      if (auto s = twin::TimelineDocument(*log.value(), o, &doc); !s.ok()) {
        std::fprintf(stderr, "ui_day_log: %s\n", s.message().c_str());
        return 1;
      }
      ms[variant].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (r == 0 && variant == 1) std::printf("timeline document: %zu bytes\n", doc.size());
    }
  }
  for (int variant = 0; variant < 2; ++variant) {
    auto& v = ms[variant];
    std::sort(v.begin(), v.end());
    std::printf("open + timeline of the whole day (%llu events), %s, %zu runs: median %.0f ms, min %.0f, max %.0f\n",
                static_cast<unsigned long long>(n), variant == 0 ? "1 thread " : "default  ", v.size(),
                v[v.size() / 2], v.front(), v.back());
  }
  return 0;
}
