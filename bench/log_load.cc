// log_load: a writer for the whole-process benchmarks (bench/run-cli-bench.sh). Appends
// synthetic events stamped with the wall clock to a data dir the way twind does (batches,
// default fsync policy, a compactor following the log and cutting a snapshot every 10 s and
// every kSnapshotEveryEvents events), either
//   --rate N     at N events/s until SIGTERM/SIGINT, or
//   --burst N    N events as fast as it can, then stays open, idle, until SIGTERM/SIGINT;
//   --snapshot-every N  cut by count every N events instead (0: every 10 s only, as twind did
//                before the count bound: the baseline of the burst benchmark).
// Prints "ready" once the burst is written (or, with --rate, once it runs), then closes the log
// cleanly on the signal.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "eventlog/timefmt.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Usage(const char* what) {
  std::fprintf(stderr, "log_load: %s\nusage: log_load --data-dir DIR (--rate N | --burst N) [--snapshot-every N]\n", what);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  uint64_t rate = 0, burst = 0, snapshot_every = twin::kSnapshotEveryEvents;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage("every option takes a value");
    char* end = nullptr;
    if (a == "--data-dir") {
      dir = argv[++i];
    } else if (a == "--rate" || a == "--burst") {
      const uint64_t v = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0' || v == 0) return Usage((a + " needs a positive integer").c_str());
      (a == "--rate" ? rate : burst) = v;
    } else if (a == "--snapshot-every") {
      snapshot_every = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0') return Usage("--snapshot-every needs an integer (0: time only)");
    } else {
      return Usage("unknown option");
    }
  }
  if (dir.empty() || (rate == 0) == (burst == 0)) return Usage("give --data-dir and one of --rate, --burst");
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  auto opened = twin::EventLog::OpenWriter(dir);
  if (!opened.ok()) return Usage(opened.status().message().c_str());
  auto log = std::move(opened).value();
  twin::Compactor compactor(*log, snapshot_every == 0 ? UINT64_MAX : snapshot_every);
  if (auto s = compactor.Follow(); !s.ok()) return Usage(s.message().c_str());
  twin::SynthOptions so;
  so.start_ns = twin::WallNowNs();
  so.mean_step_ns = rate ? 1'000'000'000ull / rate : 1000;
  twin::SynthGenerator gen(so);
  std::vector<twin::Event> batch;
  constexpr uint64_t kTickMs = 20;  // twind hands a batch to the log about this often
  uint64_t next_compact = twin::WallNowNs() + 10'000'000'000ull;
  auto compact_if_due = [&] {
    const uint64_t now = twin::WallNowNs();
    if (now >= next_compact) {
      (void)compactor.RunOnce(now);  // a failed tick is retried by the next, as in twind
      next_compact = now + 10'000'000'000ull;
    } else if (compactor.DueByCount()) {
      (void)compactor.RunOnce(now);  // as twind: a burst cuts a snapshot every N events
    }
  };
  auto append = [&](size_t n) -> bool {
    batch.clear();
    const uint64_t now = twin::WallNowNs();
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(gen.Next());
      batch.back().ts_ns = now;  // `events --since -1m` finds them
    }
    auto r = log->Append(batch);
    if (!r.ok()) std::fprintf(stderr, "log_load: %s\n", r.status().message().c_str());
    if (r.ok()) compactor.Appended(n);
    return r.ok();
  };
  if (burst) {
    for (uint64_t done = 0; done < burst && !g_stop; done += 1000) {
      if (!append(std::min<uint64_t>(1000, burst - done))) return 1;
      compact_if_due();
    }
    (void)log->Drain();
    std::printf("ready\n");
    std::fflush(stdout);
    while (!g_stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
      compact_if_due();
    }
    return 0;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const uint64_t start = twin::WallNowNs();
  uint64_t written = 0;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
    const uint64_t due = (twin::WallNowNs() - start) / 1000 * rate / 1'000'000;
    if (due > written && !append(due - written)) return 1;
    written = due;
    compact_if_due();
  }
  return 0;
}
