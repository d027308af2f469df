// A host's state digest: what the fleet sees of a host. Units with their unit-file hashes,
// listeners with their owner, package versions and config-file hashes (once captured), host
// facts and labels. Never argv, environment, file contents or process lists (a count only).
// The digest's sha256 covers its content, not its times: twind publishes only when it changes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "eventlog/state.h"
#include "eventlog/status.h"
#include "fleet/options.h"

namespace twin::fleet {

inline constexpr uint32_t kDigestVersion = 1;
// etcd refuses requests over 1.5 MiB by default (--max-request-bytes); a digest and its info
// record travel in one transaction, so a digest stays well under it.
inline constexpr size_t kMaxDigestBytes = 1u << 20;

struct HostIdentity {
  std::string host_id;     // the key segment's id: the configured host_id, else the machine id
  std::string hostname;
  std::string machine_id;
  std::string boot_id;
};
// /etc/machine-id, gethostname, /proc/sys/kernel/random/boot_id; host_id = override if given,
// else the machine id, else the hostname.
HostIdentity ReadLocalIdentity(const std::string& host_id_override);

using Items = std::map<std::string, std::string>;

struct Digest {
  std::string host_id, hostname, machine_id, boot_id, kernel, os;
  Labels labels;
  uint64_t state_ts_ns = 0;   // wall time of the last event folded into the state
  uint64_t published_ns = 0;  // when the publisher sent it
  bool uncertain = false;     // the state had a gap not yet resynced
  uint64_t processes = 0;     // how many were live (the processes themselves stay on the host)
  Items units;         // unit name -> unit-file SHA-256 (hex; "" when unknown)
  Items listeners;     // "tcp 0.0.0.0:22", "udp6 [::]:53" -> owner (unit, else comm)
  Items packages;      // package name -> version
  Items config_files;  // path -> SHA-256
  std::string sha256;  // ContentHash(*this)
};

// The digest of a folded state. Labels and identity are the publisher's.
Digest MakeDigest(const State& s, const HostIdentity& id, const Labels& labels);
// The listener item key: "<proto>[6] <addr>:<port>", IPv6 addresses in brackets.
std::string ListenerItem(const Listener& l);
// SHA-256 (hex) of the canonical JSON of the content: everything but times, boot id and counts.
std::string ContentHash(const Digest& d);

// The digest as stored in etcd: one line of JSON (strings lossless, see format/json_writer.h).
std::string DigestToJson(const Digest& d);
// Parses a stored digest. Hostile input: wrong types or a sha256 that does not match the content
// are errors naming what was wrong.
Result<Digest> DigestFromJson(std::string_view json);

// Category access for drift: "units", "listeners", "packages", "config_files".
inline constexpr const char* kCategories[] = {"packages", "units", "listeners", "config_files"};
const Items& Category(const Digest& d, std::string_view name);

}  // namespace twin::fleet
