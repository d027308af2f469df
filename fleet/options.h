// The fleet publisher's settings: which etcd cluster, how this host is named and labelled, how
// the connection is secured. Off unless endpoints are given ([fleet] endpoints in twind.toml or
// --fleet-endpoints). Read and checked at the border; nothing here talks to etcd.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "eventlog/status.h"

namespace twin::fleet {

inline constexpr const char* kDefaultPrefix = "/safetytwin/v1/";
inline constexpr size_t kMaxHostIdBytes = 253;
inline constexpr size_t kMaxLabels = 64;

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by key, keys unique

struct FleetOptions {
  std::vector<std::string> endpoints;  // http(s)://host:port of etcd members; empty = off
  std::string prefix = kDefaultPrefix;  // every key this product writes starts with it
  std::string host_id;                  // "" = the machine id (/etc/machine-id)
  Labels labels;                        // e.g. role=web
  uint32_t lease_ttl_s = 30;            // liveness: the host is down this long after its last heartbeat
  uint32_t timeout_ms = 5000;           // one etcd request, connect included
  // TLS (https endpoints): CA bundle that signed the members' certificates, and a client
  // certificate + key when etcd runs with --client-cert-auth.
  std::string ca_file, cert_file, key_file;
  // etcd user auth (etcdctl user add): the password is read from a file, never from argv.
  std::string user, password_file;
  bool enabled() const { return !endpoints.empty(); }
};

// "http://127.0.0.1:2379": scheme http or https, a host, an optional port, nothing else.
Status CheckEndpoint(const std::string& url);
// "URL,URL,..." (the --endpoints / --fleet-endpoints form).
Result<std::vector<std::string>> ParseEndpointList(const std::string& list);
// "key=value": key 1..63 bytes of [A-Za-z0-9._/-], value at most 255 bytes without control
// characters.
Result<std::pair<std::string, std::string>> ParseLabel(const std::string& text);
Status CheckLabel(const std::string& key, const std::string& value);
// Adds or replaces a label, keeping them sorted.
void SetLabel(Labels& labels, std::string key, std::string value);
// Every setting that would make the publisher fail, named by key.
Status ValidateFleetOptions(const FleetOptions& o);
// The password from password_file (trailing newline dropped); "" when no user is set.
Result<std::string> ReadPassword(const FleetOptions& o);

// Reads the [fleet] table of a twind.toml (twin-replay fleet reads the same file as twind).
// A missing file is fine unless required; a file without [fleet] leaves o unchanged.
Status LoadFleetConfigFile(const std::string& path, bool required, FleetOptions* o);

}  // namespace twin::fleet
