#include "userspace/loopback_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace twin::capture {

Result<LoopbackAddr> ParseLoopbackAddr(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) {
    return Status::InvalidArgument("'" + addr + "' is not HOST:PORT (e.g. 127.0.0.1:9464)");
  }
  std::string host = addr.substr(0, colon);
  const std::string port_text = addr.substr(colon + 1);
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("port '" + port_text + "' in '" + addr + "' is not a number 1-65535");
  }
  const long port = std::stol(port_text);
  if (port < 1 || port > 65535) {
    return Status::InvalidArgument("port " + port_text + " in '" + addr + "' is outside 1-65535");
  }
  LoopbackAddr out;
  out.text = addr;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) != 127) {
      return Status::InvalidArgument("metrics address must be loopback (127.0.0.0/8 or ::1), got " + host);
    }
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    sin->sin_addr = a4;
    out.len = sizeof(*sin);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&a6)) {
      return Status::InvalidArgument("metrics address must be loopback (127.0.0.0/8 or ::1), got " + host);
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    sin6->sin6_addr = a6;
    out.len = sizeof(*sin6);
  } else {
    return Status::InvalidArgument("metrics host '" + host + "' is not an IP address (use 127.0.0.1 or [::1])");
  }
  return out;
}

}  // namespace twin::capture
