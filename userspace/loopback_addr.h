// The metrics endpoint's listen address, checked where the config is read (userspace/config.cc)
// and used where it is bound (userspace/metrics.cc).
#pragma once

#include <sys/socket.h>

#include <string>

#include "eventlog/status.h"

namespace twin::capture {

// A parsed loopback listen address. "127.0.0.1:9464", "localhost:9464", "127.0.0.2:9464",
// "[::1]:9464". The port is 1..65535 in decimal digits; anything else is an error naming it.
struct LoopbackAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string text;
};
Result<LoopbackAddr> ParseLoopbackAddr(const std::string& addr);

}  // namespace twin::capture
