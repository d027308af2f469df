// Prometheus text endpoint on a loopback TCP address and on a unix socket. One thread, one
// request at a time: scrapes are rare and small, and nothing here may slow capture down or keep it
// from starting -- a TCP port another process holds is a warning and a retry, never a failure.
//
// Thread safety: Start/Stop from one thread; the render callback runs on the server's thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "eventlog/status.h"
#include "userspace/loopback_addr.h"

namespace twin::capture {

class MetricsServer {
 public:
  using RenderFn = std::function<std::string()>;
  using LogFn = std::function<void(bool warning, const std::string&)>;
  ~MetricsServer();
  // tcp_addr may be empty (TCP off); unix_path may be empty (no unix socket). A bind failure on
  // either is reported through log and retried every retry_ms; only a bad address is an error.
  Status Start(const std::string& tcp_addr, const std::string& unix_path, RenderFn render, LogFn log,
               int retry_ms = 5000);
  void Stop();
  int port() const { return port_; }  // 0 until the TCP socket is bound

 private:
  void Loop();
  bool TryBindTcp();
  bool TryBindUnix();
  void Serve(int fd);
  LoopbackAddr tcp_;
  bool want_tcp_ = false;
  std::string unix_path_;
  int tcp_fd_ = -1;
  int unix_fd_ = -1;
  std::atomic<int> port_{0};
  int retry_ms_ = 5000;
  std::string last_tcp_error_, last_unix_error_;
  RenderFn render_;
  LogFn log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace twin::capture
