// Simulated hosts for fleet tests and benches: synthetic digests fed to the real publisher.
#pragma once

#include <string>

#include "fleet/digest.h"

namespace twin::testing {

// A plausible Debian host: `packages` packages, `units` units with unit-file hashes, a few
// listeners. Same arguments, same content (so ten such hosts agree unless changed).
inline fleet::Digest SimDigest(const std::string& host_id, size_t packages = 300, size_t units = 60,
                               uint64_t state_ts_ns = 1'700'000'000'000'000'000ull) {
  fleet::Digest d;
  d.host_id = host_id;
  d.hostname = "sim-" + host_id;
  d.machine_id = host_id;
  d.boot_id = "boot-" + host_id;
  d.kernel = "6.1.0-28-amd64";
  d.os = "Debian GNU/Linux 12 (bookworm)";
  d.state_ts_ns = state_ts_ns;
  d.processes = 180;
  for (size_t i = 0; i < packages; ++i) {
    d.packages["libpackage-number-" + std::to_string(i) + "-dev"] = "1." + std::to_string(i % 17) + ".3-2+deb12u1";
  }
  d.packages["openssl"] = "3.0.15-1~deb12u1";
  for (size_t i = 0; i < units; ++i) {
    d.units["service-" + std::to_string(i) + ".service"] = std::string(63, 'a') + std::to_string(i % 10);
  }
  d.units["nginx.service"] = std::string(64, 'b');
  d.listeners["tcp 0.0.0.0:22"] = "ssh.service";
  d.listeners["tcp 127.0.0.1:80"] = "nginx.service";
  d.listeners["udp6 [::1]:53"] = "systemd-resolved.service";
  d.config_files["/etc/ssh/sshd_config"] = std::string(64, 'c');
  d.sha256 = fleet::ContentHash(d);
  return d;
}

}  // namespace twin::testing
