// A real twind publishing to a real 3-member etcd cluster (ports 23810-23815): its state in etcd
// equals the local digest of its own log; with two members killed publishing fails, capture is
// unaffected (a marked exec storm is fully recorded) and the loss is in the log; with them back
// it catches up; killed with SIGKILL, its lease expires and the fleet shows it down.
// Needs root and BPF (label privileged); skips otherwise, failing under SAFETYTWIN_NO_SKIP.
#include <spawn.h>

#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fleet/query.h"
#include "tests/common/skip.h"
#include "tests/fleet/etcd_cluster.h"
#include "tests/fleet/run_argv.h"
#include "tests/privileged/harness.h"

namespace twin::fleet {
namespace {

using json = nlohmann::json;
using testing::Eventually;

std::string Scrape(const std::string& sock_path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  strncpy(sa.sun_path, sock_path.c_str(), sizeof(sa.sun_path) - 1);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    (void)!send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    char buf[8192];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

size_t CountFleet(const std::string& dir, const std::string& what) {
  size_t n = 0;
  for (const auto& ke : testing::ReadAll(dir)) {
    n += ke.event.kind == EventKind::kFleet && !ke.event.attrs.empty() && ke.event.attrs[0].second == what;
  }
  return n;
}

TEST(FleetTwind, PublishesItsStateSurvivesQuorumLossWithoutLosingCaptureAndExpires) {
  TWIN_REQUIRE_BPF();
  TWIN_REQUIRE(testing::EtcdBinary() != nullptr, "etcd-server is not installed (scripts/packages.txt)");
  testing::EtcdCluster cluster(23810);
  ASSERT_TRUE(cluster.Start()) << cluster.dir();
  const std::string tmp = testing::MakeTempDir("fleet-twind");
  const std::string data = tmp + "/data", cfg = tmp + "/twind.toml";
  {
    std::ofstream f(cfg);
    f << "[fleet]\nendpoints = [";
    for (size_t i = 0; i < cluster.Endpoints().size(); ++i) f << (i ? ", " : "") << '"' << cluster.Endpoints()[i] << '"';
    f << "]\nhost_id = \"twind-under-test\"\nlabels = { role = \"test\" }\nlease_ttl = 5\ntimeout_ms = 1000\n";
  }
  // twind --check asks etcd as the publisher will: each member, then its own keys. A fleet it
  // cannot reach is a warning, never NOT READY (capture does not wait for it).
  auto check = [&](std::map<std::string, std::string>* status) {
    auto r = testing::RunArgv({TWIND_BIN, "--check", "--json", "--config", cfg, "--data-dir",
                               tmp + "/check-data", "--no-twin", "--metrics-addr", "off"});
    auto j = json::parse(r.out, nullptr, false);
    status->clear();
    if (j.is_object() && j["checks"].is_array()) {
      for (const auto& c : j["checks"]) {
        const std::string name = c["name"];
        if (name.starts_with("fleet")) (*status)[name] = std::string(c["status"]) + " " + std::string(c["detail"]);
      }
    }
    return r;
  };
  std::map<std::string, std::string> fleet_check;
  {
    auto r = check(&fleet_check);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    for (const auto& ep : cluster.Endpoints()) {
      EXPECT_TRUE(fleet_check["fleet " + ep].starts_with("ok etcd 3.")) << ep << ": " << fleet_check["fleet " + ep];
    }
    EXPECT_TRUE(fleet_check["fleet access"].starts_with("ok host twind-under-test may read its keys"))
        << fleet_check["fleet access"];
  }
  testing::Twind twind(data);
  twind.set_config(cfg);
  ASSERT_TRUE(twind.Start({"--metrics-socket", tmp + "/metrics.sock"}));

  FleetOptions o;
  o.endpoints = cluster.Endpoints();
  o.timeout_ms = 1000;
  EtcdClient client(o, "");
  auto host_state = [&]() -> std::string {
    auto r = ListHosts(client, kDefaultPrefix);
    if (!r.ok()) return "error";
    for (const auto& h : r->hosts) {
      if (h.host_id == "twind-under-test") return h.alive ? "alive" : "down";
    }
    return "absent";
  };
  ASSERT_TRUE(Eventually([&] { return host_state() == "alive" && DigestAtTime(client, kDefaultPrefix, "twind-under-test", 0).ok(); }))
      << twind.Log();
  EXPECT_EQ(CountFleet(data, "connected"), 1u);
  ASSERT_TRUE(Eventually([&] { return Scrape(tmp + "/metrics.sock").find("twind_fleet_connected 1\n") != std::string::npos; }));
  EXPECT_NE(Scrape(tmp + "/metrics.sock").find("twind_fleet_published_total "), std::string::npos);

  // Its state in etcd is the digest of its own log at the state's time.
  auto pub = DigestAtTime(client, kDefaultPrefix, "twind-under-test", 0);
  ASSERT_TRUE(pub.ok());
  auto local = testing::RunArgv({TWIN_REPLAY_BIN, "fleet", "digest", "--data-dir", data, "--config", cfg,
                                 "--at", std::to_string(pub->digest.state_ts_ns), "--json"});
  ASSERT_EQ(local.code, 0) << local.err;
  EXPECT_EQ(json::parse(local.out)["sha256"], pub->digest.sha256);
  EXPECT_EQ(pub->digest.labels, (Labels{{"role", "test"}}));

  // Two of three members gone: no quorum.
  cluster.Kill(0);
  cluster.Kill(1);
  {
    auto r = check(&fleet_check);
    EXPECT_EQ(r.code, 0) << "a fleet without quorum made --check NOT READY\n" << r.out << r.err;
    EXPECT_TRUE(fleet_check["fleet " + cluster.Endpoints()[0]].starts_with("warn ")) << fleet_check["fleet " + cluster.Endpoints()[0]];
    EXPECT_TRUE(fleet_check["fleet " + cluster.Endpoints()[1]].starts_with("warn "));
    EXPECT_TRUE(fleet_check["fleet " + cluster.Endpoints()[2]].starts_with("ok ")) << fleet_check["fleet " + cluster.Endpoints()[2]];
    EXPECT_TRUE(fleet_check["fleet access"].starts_with("warn ")) << "a read without quorum: " << fleet_check["fleet access"];
  }
  // A listener makes the next digest differ, so there is something to publish.
  pid_t listener = -1;
  {
    std::vector<std::string> args = {"/usr/bin/python3", "-c",
        "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        "s.bind(('127.0.0.1', 23816)); s.listen(); time.sleep(600)"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&listener, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  }
  const std::string marker = "fleet-storm-" + std::to_string(getpid());
  constexpr int kStorm = 2000;
  for (int i = 0; i < kStorm; ++i) {
    std::string idx = std::to_string(i);
    char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(marker.c_str()), idx.data(), nullptr};
    char* envp[] = {nullptr};
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp), 0);
    waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(Eventually([&] { return CountFleet(data, "lost") >= 1; })) << twind.Log();
  EXPECT_NE(Scrape(tmp + "/metrics.sock").find("twind_fleet_connected 0\n"), std::string::npos);
  std::set<std::string> seen;
  ASSERT_TRUE(Eventually([&] {
    seen.clear();
    for (const auto& ke : testing::ReadAll(data)) {
      const Event& e = ke.event;
      if (e.kind == EventKind::kProcessExec && e.argv.size() == 3 && e.argv[1] == marker) seen.insert(e.argv[2]);
    }
    return seen.size() == static_cast<size_t>(kStorm);
  })) << "capture lost execs while etcd had no quorum: " << seen.size() << " of " << kStorm;

  // Back: it reconnects and publishes the newest state (with the listener).
  ASSERT_TRUE(cluster.StartMember(0));
  ASSERT_TRUE(cluster.StartMember(1));
  ASSERT_TRUE(Eventually([&] { return CountFleet(data, "caught_up") >= 1; })) << twind.Log();
  ASSERT_TRUE(Eventually([&] {
    auto d = DigestAtTime(client, kDefaultPrefix, "twind-under-test", 0);
    return d.ok() && d->digest.listeners.count("tcp 127.0.0.1:23816") == 1;
  }));
  kill(listener, SIGKILL);
  waitpid(listener, nullptr, 0);

  // Killed: no revoke, the 5 s lease runs out and the fleet shows it down.
  EXPECT_EQ(host_state(), "alive");
  twind.Stop(SIGKILL);
  ASSERT_TRUE(Eventually([&] { return host_state() == "down"; }));
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
}

}  // namespace
}  // namespace twin::fleet
