// Minimal Prometheus text endpoint on a loopback address. One thread, one request at a time:
// scrapes are rare and small, and nothing here may slow capture down.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "eventlog/status.h"

namespace twin::capture {

class MetricsServer {
 public:
  using RenderFn = std::function<std::string()>;
  ~MetricsServer();
  // addr = "127.0.0.1:PORT" or "[::1]:PORT". Non-loopback addresses are refused.
  Status Start(const std::string& addr, RenderFn render);
  void Stop();
  int port() const { return port_; }

 private:
  void Loop();
  int fd_ = -1;
  int port_ = 0;
  RenderFn render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace twin::capture
