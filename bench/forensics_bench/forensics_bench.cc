// Export / bundle / verify-bundle throughput on a synthetic log (hostile strings on).
//   forensics_bench --dir /tmp/fxbench [--events 1000000] [--runs 3] [--formats timesketch,ecs,ocsf,csv]
// Creates the log on first use (deterministic seed), then times each format's export to a sink
// that discards the bytes (so the disk is not measured), a bundle to --dir/../case.tar and
// verify-bundle of it. Prints events/s per stage, best of --runs.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "eventlog/synth.h"
#include "forensics/bundle.h"
#include "forensics/export.h"

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the process (all threads): the machines are shared, wall time is noisy.
double Cpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int Fail(const twin::Status& s) {
  fmt::print(stderr, "forensics_bench: {}\n", s.message());
  return 1;
}

void Row(const std::string& stage, uint64_t n, double wall, double cpu, uint64_t bytes) {
  fmt::print("{:<20} {:>9} {:>9.3f} {:>9.3f} {:>13.0f} {:>13.0f} {:>9.1f}\n", stage, n, wall, cpu, n / wall,
             n / cpu, bytes / cpu / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/fxbench";
  uint64_t events = 1'000'000;
  int runs = 3;
  std::string formats = "timesketch,ecs,ocsf,csv";
  bool bundle_stage = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--events") events = std::stoull(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--formats") formats = argv[i + 1];
    else if (a == "--bundle") bundle_stage = std::strcmp(argv[i + 1], "0") != 0;
    else {
      fmt::print(stderr, "usage: forensics_bench --dir D [--events N] [--runs R] [--formats a,b]\n");
      return 2;
    }
  }
  const std::string log_dir = dir + "/data";
  if (!std::filesystem::exists(log_dir + "/CURRENT")) {
    auto w = twin::EventLog::OpenWriter(log_dir, {.fsync = twin::FsyncPolicy::kNever});
    if (!w.ok()) return Fail(w.status());
    twin::SynthOptions so;
    so.seed = 42;
    so.hostile_strings = true;
    twin::SynthGenerator gen(so);
    twin::Compactor comp(*w.value());
    std::vector<twin::Event> batch;
    const double t0 = Now();
    for (uint64_t n = 0; n < events;) {
      batch.clear();
      const size_t k = static_cast<size_t>(std::min<uint64_t>(1000, events - n));
      gen.Fill(batch, k);
      auto r = w.value()->Append(batch);
      if (!r.ok()) return Fail(r.status());
      n += k;
      if (n % 100'000 == 0) {
        auto c = comp.RunOnce(gen.now_ns());
        if (!c.ok()) return Fail(c.status());
      }
    }
    fmt::print("created {} events in {} in {:.1f}s\n", events, log_dir, Now() - t0);
  }
  auto log_r = twin::EventLog::OpenReader(log_dir);
  if (!log_r.ok()) return Fail(log_r.status());
  const twin::EventLog& log = *log_r.value();
  fmt::print("{:<20} {:>9} {:>9} {:>9} {:>13} {:>13} {:>9}\n", "stage", "events", "wall s", "cpu s",
             "events/s wall", "events/s cpu", "MB/s cpu");
  {  // Baseline: read + decode + filter, nothing formatted.
    twin::ExportOptions o;
    o.filter.kinds = {twin::EventKind::kUnknown};
    const double t0 = Now(), c0 = Cpu();
    auto res = twin::ExportEvents(log, o, [](std::string_view) { return twin::Status::Ok(); });
    if (!res.ok()) return Fail(res.status());
    Row("scan+decode only", log.Head().count, Now() - t0, Cpu() - c0, 0);
  }
  size_t start = 0;
  while (start <= formats.size()) {
    size_t comma = formats.find(',', start);
    std::string name = formats.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? formats.size() + 1 : comma + 1;
    auto f = twin::ParseExportFormat(name);
    if (!f.ok()) return Fail(f.status());
    double best = 1e9, best_cpu = 1e9;
    twin::ExportStats st;
    for (int r = 0; r < runs; ++r) {
      twin::ExportOptions o;
      o.format = f.value();
      o.redactor = twin::Redactor(twin::DefaultRedactRules(), true);
      const double t0 = Now(), c0 = Cpu();
      auto res = twin::ExportEvents(log, o, [](std::string_view) { return twin::Status::Ok(); });
      const double dt = Now() - t0;
      best_cpu = std::min(best_cpu, Cpu() - c0);
      if (!res.ok()) return Fail(res.status());
      st = res.value();
      best = std::min(best, dt);
    }
    Row("export " + name, st.events, best, best_cpu, st.bytes);
  }
  if (!bundle_stage) return 0;
  const std::string bundle = dir + "/case.tar";
  double best_b = 1e9, best_v = 1e9, cpu_b = 1e9, cpu_v = 1e9;
  twin::BundleStats bs;
  twin::BundleReport rep;
  for (int r = 0; r < runs; ++r) {
    twin::BundleOptions bo;
    bo.redactor = twin::Redactor(twin::DefaultRedactRules(), true);
    double t0 = Now(), c0 = Cpu();
    auto b = twin::WriteBundle(log, bo, bundle);
    double dt = Now() - t0;
    cpu_b = std::min(cpu_b, Cpu() - c0);
    if (!b.ok()) return Fail(b.status());
    bs = b.value();
    best_b = std::min(best_b, dt);
    t0 = Now();
    c0 = Cpu();
    rep = twin::VerifyBundle(bundle, nullptr);
    dt = Now() - t0;
    cpu_v = std::min(cpu_v, Cpu() - c0);
    best_v = std::min(best_v, dt);
    if (!rep.ok()) {
      fmt::print(stderr, "verify-bundle failed: {}: {}\n", rep.problems[0].file, rep.problems[0].what);
      return 1;
    }
  }
  Row("bundle", bs.records, best_b, cpu_b, bs.bytes);
  Row("verify-bundle", rep.records, best_v, cpu_v, bs.bytes);
  fmt::print("bundle: {} bytes, {} redacted records, {} seals\n", bs.bytes, bs.redacted_records, bs.seals);
  return 0;
}
