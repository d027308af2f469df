// Reading the fleet back from etcd: hosts and their liveness, one host's digest now or at a
// time T (from etcd's revision history), every digest. Everything read is hostile input: a key
// that is not ours or a value that does not parse is reported, never followed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fleet/digest.h"
#include "fleet/etcd.h"

namespace twin::fleet {

struct HostRow {
  std::string host_id;
  std::string hostname, machine_id, boot_id, version;
  Labels labels;
  bool alive = false;          // its alive key exists (its lease is live)
  int64_t lease = 0;
  uint32_t lease_ttl_s = 0;
  uint64_t started_ns = 0, updated_ns = 0, published_ns = 0, state_ts_ns = 0;
  std::string digest_sha256;
  std::string error;  // the info record did not parse (the row still says alive or not)
};

struct FleetRead {
  std::vector<HostRow> hosts;  // sorted by host id
  int64_t revision = 0;
  std::vector<std::string> problems;  // keys under the prefix that are not ours, bad values
};

Result<FleetRead> ListHosts(EtcdClient& c, const std::string& prefix);

struct DigestRead {
  std::vector<Digest> digests;
  int64_t revision = 0;
  std::vector<std::string> problems;
};
Result<DigestRead> AllDigests(EtcdClient& c, const std::string& prefix);

// A host id as given, else the unique host whose hostname is name.
Result<std::string> ResolveHost(EtcdClient& c, const std::string& prefix, const std::string& name);

struct DigestAt {
  Digest digest;
  int64_t mod_revision = 0;  // the revision that wrote it
  int64_t revision = 0;      // the store's revision when asked
};
// at_ns 0 = the newest. NotFound, with the oldest time etcd still keeps, when T is older than
// etcd's history for the host (compacted) or than its first digest.
Result<DigestAt> DigestAtTime(EtcdClient& c, const std::string& prefix, const std::string& host_id,
                              uint64_t at_ns);

}  // namespace twin::fleet
