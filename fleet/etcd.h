// A small etcd v3 client over etcd's HTTP/JSON gateway (the grpc-gateway every etcd 3.4 member
// serves on its client URL), with libcurl. Tries the members in turn: a member that is down or
// without quorum is skipped, a definite answer (a compacted revision, a missing lease) is not.
// TLS with client certificates and etcd user auth (a token per member) are supported.
// Thread safety: one client per thread (it owns a libcurl handle); Watch opens its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventlog/status.h"
#include "fleet/options.h"

namespace twin::fleet {

struct KeyValue {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;  // the store's revision when it answered
  int64_t count = 0;
  bool more = false;
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;
};

struct PutOp {
  std::string key, value;
  int64_t lease = 0;
};

// A Range at a revision etcd no longer keeps (it was compacted).
bool IsCompacted(const Status& s);

class EtcdClient {
 public:
  // REQUIRES: ValidateFleetOptions(o).ok(). password: ReadPassword(o).
  EtcdClient(const FleetOptions& o, std::string password);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Puts every op in one transaction; returns the revision it made.
  Result<int64_t> Put(const std::vector<PutOp>& ops);
  // [key, range_end) ("" = key alone); revision 0 = newest; limit 0 = all.
  Result<RangeResult> Range(const std::string& key, const std::string& range_end = "",
                            int64_t revision = 0, bool keys_only = false, int64_t limit = 0);
  Result<int64_t> DeleteRange(const std::string& key, const std::string& range_end);
  Result<int64_t> LeaseGrant(int64_t ttl_s);
  // The lease's remaining TTL after the renewal; 0 when it had expired (or never existed).
  Result<int64_t> LeaseKeepAlive(int64_t id);
  Status LeaseRevoke(int64_t id);
  Status Compact(int64_t revision);
  // The answering member's status (maintenance/status): "dbSize", "leader", ... as JSON text.
  Result<std::string> MemberStatus(const std::string& endpoint);

  // Streams changes of [key, range_end) from start_revision (0 = from now) to fn until fn returns
  // false, *stop becomes true, or the stream fails (the error is returned).
  Status Watch(const std::string& key, const std::string& range_end, int64_t start_revision,
               const std::function<bool(const WatchEvent&, int64_t revision)>& fn,
               const std::atomic<bool>* stop);

  // The endpoint that answered last.
  const std::string& endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twin::fleet
