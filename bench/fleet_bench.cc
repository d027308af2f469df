// Fleet system bench: N simulated hosts (the real Publisher, fed synthetic digests) publishing
// every interval to a real 3-member etcd cluster on loopback (ports 23850-23855), then the
// reader commands over them. Reports publish latency p50/p99 against a raw etcd put of the same
// bytes in the same run (the baseline), etcd's database growth, the publishers' CPU, and the
// wall time of `twin-replay fleet list` / `fleet drift`.
//   fleet_bench [hosts=200] [seconds=60] [interval_s=10] [change_fraction=1.0] [packages=500]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "fleet/keys.h"
#include "fleet/publisher.h"
#include "fleet/query.h"
#include "tests/fleet/etcd_cluster.h"
#include "tests/fleet/run_argv.h"
#include "tests/fleet/sim.h"

using namespace twin;
using Clock = std::chrono::steady_clock;

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

int64_t DbSize(fleet::EtcdClient& c, const std::string& ep, const char* field) {
  auto s = c.MemberStatus(ep);
  if (!s.ok()) return -1;
  auto j = nlohmann::json::parse(*s, nullptr, false);
  if (!j.is_object() || !j.contains(field)) return -1;
  return std::stoll(j[field].get<std::string>());
}

double TimeCmd(const std::vector<std::string>& argv, int runs, size_t* bytes) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto r = testing::RunArgv(argv);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (r.code != 0) std::fprintf(stderr, "command failed: %s\n", r.err.c_str());
    *bytes = r.out.size();
  }
  return Pct(ms, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  const int hosts = argc > 1 ? std::atoi(argv[1]) : 200;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 60;
  const int interval_s = argc > 3 ? std::atoi(argv[3]) : 10;
  const double change = argc > 4 ? std::atof(argv[4]) : 1.0;
  const size_t packages = argc > 5 ? static_cast<size_t>(std::atoll(argv[5])) : 500;
  if (!testing::EtcdBinary()) {
    std::fprintf(stderr, "fleet_bench: etcd-server is not installed (apt-get install etcd-server)\n");
    return 2;
  }
  testing::EtcdCluster cluster(23850);
  // The settings docs/FLEET.md suggests: periodic compaction keeping an hour here (24h there).
  if (!cluster.Start({"--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
                      "--quota-backend-bytes", std::to_string(8ll << 30)})) {
    std::fprintf(stderr, "fleet_bench: etcd cluster did not start (%s)\n", cluster.dir().c_str());
    return 1;
  }
  fleet::FleetOptions o;
  o.endpoints = cluster.Endpoints();
  o.lease_ttl_s = 3 * interval_s;
  fleet::EtcdClient admin(o, "");
  const fleet::Digest proto = testing::SimDigest("proto", packages, 80);
  const size_t digest_bytes = fleet::DigestToJson(proto).size();

  // Baseline in the same run: raw puts of the same bytes, one at a time.
  std::vector<double> raw_ms;
  for (int i = 0; i < 200; ++i) {
    auto t0 = Clock::now();
    auto r = admin.Put({{"/bench/raw/" + std::to_string(i % 20), fleet::DigestToJson(proto), 0}});
    raw_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r.ok()) std::fprintf(stderr, "raw put: %s\n", r.status().ToString().c_str());
  }
  admin.DeleteRange("/bench/raw/", fleet::PrefixRangeEnd("/bench/raw/")).status().IgnoreError();

  std::mutex mu;
  std::vector<double> lat_ms;
  std::vector<std::unique_ptr<fleet::Publisher>> pubs;
  for (int i = 0; i < hosts; ++i) {
    fleet::FleetOptions ho = o;
    ho.labels = {{"role", i % 2 ? "web" : "db"}};
    char id[40];
    std::snprintf(id, sizeof id, "%032x", i * 2654435761u);
    auto p = std::make_unique<fleet::Publisher>(ho, fleet::HostIdentity{id, std::string("sim-") + id, id, "b"}, nullptr);
    p->SetOnPublished([&](const fleet::PublisherStats& s) {
      std::lock_guard<std::mutex> lock(mu);
      lat_ms.push_back(s.last_latency_ns / 1e6);
    });
    if (!p->Start().ok()) return 1;
    pubs.push_back(std::move(p));
  }
  std::vector<fleet::Digest> cur(hosts);
  for (int i = 0; i < hosts; ++i) {
    cur[i] = proto;
    cur[i].host_id = pubs[i]->identity().host_id;
    if (i == 17) cur[i].packages["openssl"] = "3.0.11-1~deb12u2";  // one odd host for drift
  }
  // Round 0: every host's first digest (the fleet's initial state), not counted in the growth.
  for (int i = 0; i < hosts; ++i) pubs[i]->Offer(cur[i]);
  for (int i = 0; i < hosts; ++i) {
    fleet::Digest d = cur[i];
    d.labels = pubs[i]->options().labels;
    pubs[i]->WaitPublished(fleet::ContentHash(d), std::chrono::seconds(60));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    lat_ms.clear();  // round 0 is a burst of 200 at once, not the steady state
  }
  const int64_t db0 = DbSize(admin, cluster.ClientUrl(0), "dbSize");
  const double cpu0 = CpuSeconds();
  const auto t_start = Clock::now();
  std::mt19937 rng(1);
  uint64_t offers = 0, tick = 0;
  // Each host's compaction tick at its own phase within the interval.
  while (Clock::now() - t_start < std::chrono::seconds(seconds)) {
    for (int i = 0; i < hosts; ++i) {
      const auto due = t_start + std::chrono::milliseconds(
                                     static_cast<int64_t>((tick * interval_s * 1000.0) + i * (interval_s * 1000.0 / hosts)));
      std::this_thread::sleep_until(due);
      cur[i].state_ts_ns += interval_s * 1'000'000'000ull;
      if (std::uniform_real_distribution<>(0, 1)(rng) < change) {
        cur[i].units["service-3.service"] = std::to_string(tick) + std::string(60, 'e');
      }
      pubs[i]->Offer(cur[i]);
      ++offers;
    }
    ++tick;
  }
  // Let the last round land.
  for (int i = 0; i < hosts; ++i) {
    fleet::Digest d = cur[i];
    d.labels = pubs[i]->options().labels;
    pubs[i]->WaitPublished(fleet::ContentHash(d), std::chrono::seconds(60));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t_start).count();
  const double cpu = CpuSeconds() - cpu0;
  const int64_t db1 = DbSize(admin, cluster.ClientUrl(0), "dbSize");
  uint64_t published = 0, heartbeats = 0, failures = 0;  // published includes round 0
  for (auto& p : pubs) {
    auto s = p->stats();
    published += s.published;
    heartbeats += s.heartbeats;
    failures += s.failures;
  }

  const std::string R = TWIN_REPLAY_BIN;
  size_t list_bytes = 0, drift_bytes = 0, state_bytes = 0;
  const std::vector<std::string> common = {"--endpoints", cluster.EndpointList(), "--config", "/dev/null"};
  auto cmd = [&](std::vector<std::string> a) {
    std::vector<std::string> v = {R, "fleet"};
    v.insert(v.end(), a.begin(), a.end());
    v.insert(v.end(), common.begin(), common.end());
    return v;
  };
  const double list_ms = TimeCmd(cmd({"list", "--json"}), 5, &list_bytes);
  const double drift_ms = TimeCmd(cmd({"drift", "--group-by", "role", "--json"}), 5, &drift_bytes);
  const double state_ms = TimeCmd(cmd({"state", pubs[17]->identity().host_id, "--at", "-30s"}), 5, &state_bytes);

  std::printf("hosts %d, %d s at one digest per host per %d s, change fraction %.2f, digest %zu bytes (%zu packages, 81 units)\n",
              hosts, seconds, interval_s, change, digest_bytes, packages);
  std::printf("offers %lu, published %lu, heartbeats %lu, failures %lu\n", (unsigned long)offers,
              (unsigned long)published, (unsigned long)heartbeats, (unsigned long)failures);
  std::printf("publish latency (offer -> in etcd): p50 %.2f ms, p99 %.2f ms, max %.2f ms over %zu publishes\n",
              Pct(lat_ms, 0.5), Pct(lat_ms, 0.99), Pct(lat_ms, 1.0), lat_ms.size());
  std::printf("baseline raw put of the same bytes (one client, sequential): p50 %.2f ms, p99 %.2f ms; ratio p50 %.2f\n",
              Pct(raw_ms, 0.5), Pct(raw_ms, 0.99), Pct(lat_ms, 0.5) / std::max(Pct(raw_ms, 0.5), 1e-9));
  std::printf("etcd db size after round 0 %ld -> %ld bytes %.0f s later: %.1f MB/hour before compaction\n", (long)db0, (long)db1,
              wall, db1 >= 0 && db0 >= 0 ? (db1 - db0) / wall * 3600 / 1e6 : -1.0);
  std::printf("publisher CPU (all %d publishers, incl. Offer's hash): %.2f s in %.0f s = %.3f %% of a core; per host %.2f ms CPU/s of wall\n",
              hosts, cpu, wall, cpu / wall * 100, cpu / wall / hosts * 1000);
  std::printf("twin-replay fleet list --json over %d hosts: median %.0f ms (%zu bytes)\n", hosts, list_ms, list_bytes);
  std::printf("twin-replay fleet drift --group-by role --json: median %.0f ms (%zu bytes)\n", drift_ms, drift_bytes);
  std::printf("twin-replay fleet state HOST --at -30s: median %.0f ms\n", state_ms);
  for (auto& p : pubs) p->Stop(true);
  return 0;
}
