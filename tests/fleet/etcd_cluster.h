// A real etcd cluster for tests and benches: N members (default 3) on loopback ports, each with
// its own data dir under a temp dir, started with posix_spawn (no shell) and killed at the end.
// Ports: member i serves clients on base + 2i and peers on base + 2i + 1.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fleet/etcd.h"

extern char** environ;

namespace twin::testing {

inline const char* EtcdBinary() {
  for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

class EtcdCluster {
 public:
  EtcdCluster(int base_port, int members = 3) : base_(base_port), n_(members) {
    char tmpl[] = "/tmp/twin-etcd-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pids_.assign(n_, -1);
  }
  ~EtcdCluster() {
    for (int i = 0; i < n_; ++i) Kill(i);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Clients over TLS with client certificates (etcd --client-cert-auth); peers stay on http.
  // REQUIRES: before Start. Files are PEM paths.
  void UseTls(std::string ca, std::string cert, std::string key, std::string client_cert,
              std::string client_key) {
    scheme_ = "https";
    ca_ = ca;
    client_cert_ = client_cert;
    client_key_ = client_key;
    tls_args_ = {"--cert-file", cert, "--key-file", key, "--client-cert-auth", "--trusted-ca-file", ca};
  }
  std::string ClientUrl(int i) const { return scheme_ + "://127.0.0.1:" + std::to_string(base_ + 2 * i); }
  std::string PeerUrl(int i) const { return "http://127.0.0.1:" + std::to_string(base_ + 2 * i + 1); }
  std::vector<std::string> Endpoints() const {
    std::vector<std::string> v;
    for (int i = 0; i < n_; ++i) v.push_back(ClientUrl(i));
    return v;
  }
  std::string EndpointList() const {
    std::string s;
    for (int i = 0; i < n_; ++i) s += (i ? "," : "") + ClientUrl(i);
    return s;
  }
  const std::string& dir() const { return dir_; }

  // Starts every member and waits until the cluster answers a read (a condition, with a bound
  // that only a broken machine reaches). Returns false if it never did.
  bool Start(std::vector<std::string> extra = {}) {
    extra_ = std::move(extra);
    for (int i = 0; i < n_; ++i) {
      if (!StartMember(i)) return false;
    }
    return WaitHealthy();
  }

  bool StartMember(int i) {
    std::string cluster;
    for (int j = 0; j < n_; ++j) cluster += (j ? "," : "") + Name(j) + "=" + PeerUrl(j);
    std::vector<std::string> args = {
        EtcdBinary(), "--name", Name(i), "--data-dir", dir_ + "/" + Name(i),
        "--listen-client-urls", ClientUrl(i), "--advertise-client-urls", ClientUrl(i),
        "--listen-peer-urls", PeerUrl(i), "--initial-advertise-peer-urls", PeerUrl(i),
        "--initial-cluster", cluster, "--initial-cluster-token", "twin-test-" + std::to_string(base_),
        "--initial-cluster-state", "new", "--heartbeat-interval", "50", "--election-timeout", "500",
        "--logger", "zap", "--log-outputs", dir_ + "/" + Name(i) + ".log", "--log-level", "warn"};
    for (const auto& e : extra_) args.push_back(e);
    for (const auto& e : tls_args_) args.push_back(e);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
    pids_[i] = pid;
    return true;
  }

  void Kill(int i) {
    if (pids_[i] <= 0) return;
    kill(pids_[i], SIGKILL);
    waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }
  bool Running(int i) const { return pids_[i] > 0; }

  bool WaitHealthy() {
    fleet::FleetOptions o;
    o.endpoints = Endpoints();
    o.timeout_ms = 2000;
    o.ca_file = ca_;
    o.cert_file = client_cert_;
    o.key_file = client_key_;
    fleet::EtcdClient c(o, "");
    for (int tries = 0; tries < 600; ++tries) {
      if (c.Put({{"/twin-test/health", "ok", 0}}).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  std::string Name(int i) const { return "m" + std::to_string(i); }
  int base_, n_;
  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> extra_;
  std::string scheme_ = "http";
  std::string ca_, client_cert_, client_key_;
  std::vector<std::string> tls_args_;
};

// Polls cond every 50 ms until it holds or max passes: for states reached asynchronously (a
// lease expiring, a retry succeeding). The bound is a safety net, not an assertion on timing.
template <typename F>
bool Eventually(F cond, std::chrono::milliseconds max = std::chrono::seconds(120)) {
  const auto end = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

}  // namespace twin::testing
