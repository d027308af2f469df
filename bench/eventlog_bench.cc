// Event-log micro/system benchmarks (Google Benchmark):
//   BM_Append/<batch>        append throughput, WAL on, default fsync policy (interval)
//   BM_AppendNoSync/<batch>  the same with fsync=never (no group commit of the WAL)
//   BM_AppendFollowed/<b>    append with a compactor following the log (as in twind)
//   BM_RocksDbLayout/5       RocksDB alone doing BM_AppendNoSync's writes with the log's settings
//   BM_RocksDbLayout/1       the same with the events column family alone in its DB
//   BM_CompactWindow         one compaction tick over a 10 s window of 100,000 events, the
//                            compactor following the log (as in twind)
//   BM_CompactWindowCold     the same, the compactor reading the window back from the log
//   BM_ScanWindowRaw         RocksDB alone iterating such a window (the floor under compaction)
//   BM_Fold                  pure fold throughput (decoded events)
//   BM_StateAt / BM_FullFold state --at T at random T on a 10,000,000-event log, vs folding
//                            from the start. The log is built once under $TWIN_BENCH_DIR
//                            (default /var/tmp/safetytwin-bench) and reused.
// bench/run-core-bench.sh runs these next to db_bench fillseq and writes the ratios.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include "eventlog/background_delete.h"
#include "eventlog/codec.h"
#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/rocks_options.h"
#include "eventlog/synth.h"

namespace twin {
namespace {

std::string BenchDir() {
  const char* d = std::getenv("TWIN_BENCH_DIR");
  return d ? d : "/var/tmp/safetytwin-bench";
}

uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

const std::vector<Event>& Corpus() {
  static std::vector<Event> events = [] {
    SynthGenerator g(SynthOptions{});
    std::vector<Event> v;
    g.Fill(v, 1'000'000);
    return v;
  }();
  return events;
}

// Append throughput; with `follow`, a compactor follows the log as in twind: what the feed
// costs the writer (copying each committed batch) and the machine (folding on the feed thread).
void Append(benchmark::State& state, bool follow, FsyncPolicy fsync = FsyncPolicy::kInterval) {
  const size_t batch = static_cast<size_t>(state.range(0));
  const auto& corpus = Corpus();
  const std::string dir = BenchDir() + (follow ? "/append-followed" : "/append");
  std::filesystem::remove_all(dir);
  LogOptions options;
  options.fsync = fsync;
  auto log = std::move(EventLog::OpenWriter(dir, options).value());
  std::unique_ptr<Compactor> c;
  if (follow) {
    c = std::make_unique<Compactor>(*log);
    if (!c->Follow().ok()) state.SkipWithError("follow failed");
  }
  size_t pos = 0;
  uint64_t n = 0;
  for (auto _ : state) {
    if (pos + batch > corpus.size()) pos = 0;
    auto r = log->Append(std::span(corpus).subspan(pos, batch));
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
    pos += batch;
    n += batch;
    if (c && n % 100000 < batch) (void)c->RunOnce(corpus[pos - 1].ts_ns);  // a tick now and then
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  // Average stored value size, so db_bench can be run with the same value size.
  uint64_t bytes = 0, cnt = 0;
  for (size_t i = 0; i < 10000; ++i, ++cnt) bytes += 32 + EncodeEventToString(corpus[i]).size();
  state.counters["value_bytes"] = static_cast<double>(bytes) / cnt;
  c.reset();  // before the log it observes
  log.reset();
  std::filesystem::remove_all(dir);
}
void BM_Append(benchmark::State& state) { Append(state, false); }
void BM_AppendFollowed(benchmark::State& state) { Append(state, true); }
// fsync=never: no group commit, like db_bench --sync=false (the WAL stays in the page cache).
void BM_AppendNoSync(benchmark::State& state) { Append(state, false, FsyncPolicy::kNever); }
BENCHMARK(BM_Append)->Arg(100)->Arg(1000)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_AppendNoSync)->Arg(1000)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_AppendFollowed)->Arg(1000)->UseRealTime()->MinTime(3.0);

// RocksDB alone doing the RocksDB part of BM_AppendNoSync: batches of 1,000 already encoded
// records (32 bytes standing for the chain hash + the FlatBuffers event) written to the events
// column family, plus the chain head in meta, through a DB opened with the log's own options
// and column families (eventlog/rocks_options.h) and its background deleter. No encoding, no
// chain, no pipeline: BM_AppendNoSync / this = what safetytwin adds on top of RocksDB.
// Arg 1: the events column family alone in its DB (no meta), to price the layout itself.
void BM_RocksDbLayout(benchmark::State& state) {
  const bool layout = state.range(0) != 1;
  static const std::vector<std::string> values = [] {
    std::vector<std::string> v;
    std::mt19937_64 rng(7);
    for (size_t i = 0; i < 200'000; ++i) {
      std::string hash(32, '\0');
      for (auto& c : hash) c = static_cast<char>(rng());
      v.push_back(hash + EncodeEventToString(Corpus()[i]));
    }
    return v;
  }();
  const std::string dir = BenchDir() + "/rocksdb-layout";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);  // as the log does (RocksDB lists it as it opens)
  auto bg = std::make_shared<BackgroundDeleteFs>(rocksdb::FileSystem::Default());
  auto env = rocksdb::NewCompositeEnv(bg);
  rocksdb::Options opts = LogDbOptions();
  opts.env = env.get();
  auto cfs = LogColumnFamilies(opts);
  if (!layout) cfs = {{rocksdb::kDefaultColumnFamilyName, cfs[kCfIndexEvents].options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(opts, dir, cfs, &handles, &raw);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  auto* events = handles[layout ? kCfIndexEvents : kCfIndexDefault];
  const std::string head(140, 'h');  // the size of the chain head's JSON
  rocksdb::WriteBatch batch;
  uint64_t n = 0;
  for (auto _ : state) {
    batch.Clear();
    for (int i = 0; i < 1000; ++i, ++n) {
      const std::string key = EncodeKey({1'700'000'000'000'000'000ULL + n, n + 1});
      (void)batch.Put(events, key, values[n % values.size()]);
    }
    if (layout) (void)batch.Put(handles[kCfIndexMeta], "chain_head", head);
    s = db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RocksDbLayout)->Arg(5)->Arg(1)->UseRealTime()->MinTime(3.0);

void BM_Fold(benchmark::State& state) {
  const auto& corpus = Corpus();
  uint64_t n = 0;
  for (auto _ : state) {
    State s;
    uint64_t seq = 0;
    for (size_t i = 0; i < 100000; ++i) Fold(s, corpus[i], {corpus[i].ts_ns, ++seq});
    benchmark::DoNotOptimize(s.processes.size());
    n += 100000;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_Fold)->Unit(benchmark::kMillisecond);

// One compaction cycle over a 10 s window holding 100,000 new events: fold, diff and write the
// snapshot. `follow` = as twind runs it (the compactor folds records as they are committed, on
// its feed thread, while the appends run untimed; the tick waits for whatever is left and cuts);
// otherwise the compactor reads the window back from the log (a compactor that just started).
void CompactWindow(benchmark::State& state, bool follow) {
  const std::string dir = BenchDir() + "/compact";
  std::filesystem::remove_all(dir);
  auto log = std::move(EventLog::OpenWriter(dir).value());
  SynthOptions o;
  o.mean_step_ns = 100'000;  // 100,000 events per 10 s
  SynthGenerator g(o);
  std::vector<Event> window;
  auto c = std::make_unique<Compactor>(*log);
  if (follow && !c->Follow().ok()) state.SkipWithError("follow failed");
  g.Fill(window, 100000);
  (void)log->Append(window);
  (void)c->RunOnce(g.now_ns());
  for (auto _ : state) {
    state.PauseTiming();
    g.Fill(window, 100000);
    for (size_t i = 0; i < window.size(); i += 1000) {
      (void)log->Append(std::span(window).subspan(i, 1000));  // twind appends in batches
    }
    (void)log->Drain();  // the last batch is written before the tick is timed
    state.ResumeTiming();
    auto r = c->RunOnce(g.now_ns());
    if (!r.ok() || !r.value()) state.SkipWithError("compaction failed");
  }
  if (follow && !c->following()) state.SkipWithError("the compactor stopped following");
  state.counters["live_processes"] = static_cast<double>(c->current().processes.size());
  state.counters["listeners"] = static_cast<double>(c->current().listeners.size());
  c.reset();  // before the log it observes
  log.reset();
  std::filesystem::remove_all(dir);
}
void BM_CompactWindow(benchmark::State& state) { CompactWindow(state, true); }
void BM_CompactWindowCold(benchmark::State& state) { CompactWindow(state, false); }
BENCHMARK(BM_CompactWindowCold)->Unit(benchmark::kMillisecond)->Iterations(10);
BENCHMARK(BM_CompactWindow)->Unit(benchmark::kMillisecond)->Iterations(10);

// The floor under compaction: RocksDB alone iterating the same kind of fresh 100,000-event
// window (no verification, no fold, no snapshot).
void BM_ScanWindowRaw(benchmark::State& state) {
  const std::string dir = BenchDir() + "/scanwindow";
  std::filesystem::remove_all(dir);
  auto log = std::move(EventLog::OpenWriter(dir).value());
  SynthOptions o;
  o.mean_step_ns = 100'000;
  SynthGenerator g(o);
  std::vector<Event> window;
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    g.Fill(window, 100000);
    const EventKey from = NextKey(log->Head().key);
    (void)log->Append(window);
    (void)log->Drain();  // written before the scan is timed
    state.ResumeTiming();
    uint64_t n = 0;
    (void)log->ScanRaw(from, {UINT64_MAX, UINT64_MAX}, [&](std::string_view, std::string_view v) {
      bytes += v.size();
      return ++n, true;
    });
    if (n != 100000) state.SkipWithError("short scan");
  }
  benchmark::DoNotOptimize(bytes);
  log.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ScanWindowRaw)->Unit(benchmark::kMillisecond)->Iterations(10);

// The 10 M-event log for the state-at benchmarks: synthetic host at TWIN_BENCH_RATE events/s
// (default 1,000/s), compacted every 10 s of event time like twind does.
struct BigLog {
  std::unique_ptr<EventLog> log;
  uint64_t first_ns = 0, last_ns = 0;
};

BigLog& Big() {
  static BigLog big = [] {
    const uint64_t total = EnvU64("TWIN_BENCH_EVENTS", 10'000'000);
    const uint64_t rate = EnvU64("TWIN_BENCH_RATE", 1000);
    const std::string dir = BenchDir() + "/big-" + std::to_string(total) + "-" + std::to_string(rate);
    BigLog b;
    const bool exists = std::filesystem::exists(dir + "/CURRENT");
    if (!exists) {
      auto log = std::move(EventLog::OpenWriter(dir).value());
      SynthOptions o;
      o.mean_step_ns = 1'000'000'000ull / rate;
      SynthGenerator g(o);
      Compactor c(*log);
      std::vector<Event> batch;
      uint64_t next_compact = g.now_ns() + 10'000'000'000ull;
      for (uint64_t done = 0; done < total;) {
        batch.clear();
        while (batch.size() < 1000 && done < total) {
          Event e = g.Next();
          if (e.ts_ns >= next_compact) {
            (void)log->Append(batch);
            batch.clear();
            (void)c.RunOnce(e.ts_ns);
            next_compact += 10'000'000'000ull;
          }
          batch.push_back(std::move(e));
          ++done;
        }
        (void)log->Append(batch);
      }
      (void)c.RunOnce(g.now_ns());
      // Written in about a minute instead of the 2.8 hours of event time: the tables the
      // writer's merger would have merged meanwhile (a pass every 10 s) are merged now.
      if (auto m = log->MergeSmallTablesNow(); !m.ok()) {
        std::fprintf(stderr, "merging the log's small tables: %s\n", m.status().ToString().c_str());
      }
    }
    b.log = std::move(EventLog::OpenReader(dir).value());
    b.first_ns = b.log->First().value()->key.ts_ns;
    b.last_ns = b.log->Last().value()->key.ts_ns;
    return b;
  }();
  return big;
}

void BM_StateAt(benchmark::State& state) {
  BigLog& b = Big();
  std::mt19937_64 rng(7);
  std::vector<double> lat;
  for (auto _ : state) {
    const uint64_t t = b.first_ns + rng() % (b.last_ns - b.first_ns);
    auto start = std::chrono::steady_clock::now();
    auto s = StateAt(*b.log, t);
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!s.ok()) state.SkipWithError(s.status().ToString().c_str());
    benchmark::DoNotOptimize(s);
  }
  std::sort(lat.begin(), lat.end());
  state.counters["p50_ms"] = lat[lat.size() / 2];
  state.counters["p99_ms"] = lat[lat.size() * 99 / 100];
  state.counters["log_events"] = static_cast<double>(b.log->Head().count);
}
BENCHMARK(BM_StateAt)->Unit(benchmark::kMillisecond)->Iterations(200);

void BM_FullFold(benchmark::State& state) {
  BigLog& b = Big();
  std::mt19937_64 rng(7);
  for (auto _ : state) {
    const uint64_t t = b.first_ns + rng() % (b.last_ns - b.first_ns);
    auto s = StateAtByFullFold(*b.log, t);
    if (!s.ok()) state.SkipWithError(s.status().ToString().c_str());
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_FullFold)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace twin

BENCHMARK_MAIN();
