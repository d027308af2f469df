// The fleet's key layout in etcd. Host ids are hostile input (another host chose them): each is
// one percent-encoded key segment ([A-Za-z0-9._-] kept, every other byte %XX), so no host name
// can hold a '/' or reach another host's keys. Layout, under the prefix (default /safetytwin/v1/):
//   <prefix>info/<host>    identity, labels, last publish (JSON, no lease)
//   <prefix>alive/<host>   heartbeat, bound to the host's lease: gone when the lease expires
//   <prefix>digest/<host>  the state digest (JSON); etcd's revisions are its history
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace twin::fleet {

enum class KeyKind { kInfo, kAlive, kDigest };
std::string_view KeyKindName(KeyKind k);  // "info", "alive", "digest"

// REQUIRES: host_id not empty. Never fails; the result holds only [A-Za-z0-9._%-].
std::string EncodeSegment(std::string_view host_id);
// The inverse; nullopt for anything EncodeSegment would not have produced (so one host id has
// exactly one key).
std::optional<std::string> DecodeSegment(std::string_view segment);

// An id this product accepts for a host: 1..253 bytes (any bytes: they are encoded).
Status CheckHostId(std::string_view host_id);

std::string HostKey(std::string_view prefix, KeyKind kind, std::string_view host_id);
// The prefix of every key of one kind ("<prefix>digest/"), and the end of etcd's range for a
// prefix (the prefix with its last byte incremented).
std::string KindPrefix(std::string_view prefix, KeyKind kind);
std::string PrefixRangeEnd(std::string_view prefix);

struct ParsedKey {
  KeyKind kind;
  std::string host_id;
};
// nullopt for a key that is not exactly <prefix><kind>/<one valid segment>.
std::optional<ParsedKey> ParseKey(std::string_view prefix, std::string_view key);

}  // namespace twin::fleet
