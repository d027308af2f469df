#include "fleet/query.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "eventlog/timefmt.h"
#include "fleet/keys.h"
#include "format/json_writer.h"
#include "format/terminal.h"

namespace twin::fleet {
namespace {

using json = nlohmann::json;

std::string Text(const json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end() || !it->is_string()) return "";
  std::string out;
  if (!DecodeByteEscaped(it->get_ref<const std::string&>(), &out)) return "";
  return out;
}

uint64_t U64(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

Status ParseInfo(const std::string& value, HostRow* row) {
  json j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("info record is not a JSON object");
  row->hostname = Text(j, "hostname");
  row->machine_id = Text(j, "machine_id");
  row->boot_id = Text(j, "boot_id");
  row->version = Text(j, "version");
  row->digest_sha256 = Text(j, "digest_sha256");
  row->lease_ttl_s = static_cast<uint32_t>(std::min<uint64_t>(U64(j, "lease_ttl_s"), 1u << 30));
  row->started_ns = U64(j, "started_ns");
  row->updated_ns = U64(j, "updated_ns");
  row->published_ns = U64(j, "published_ns");
  row->state_ts_ns = U64(j, "state_ts_ns");
  if (auto it = j.find("labels"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      std::string key, val;
      if (!v.is_string() || !DecodeByteEscaped(k, &key) || !DecodeByteEscaped(v.get_ref<const std::string&>(), &val)) {
        return Status::InvalidArgument("info record has a label that is not text");
      }
      SetLabel(row->labels, key, val);
    }
  }
  return Status::Ok();
}

// Every key of one kind, paged so no answer is larger than etcd's limits.
Result<RangeResult> RangeAll(EtcdClient& c, const std::string& from, const std::string& end, int64_t page) {
  RangeResult all;
  std::string key = from;
  while (true) {
    auto r = c.Range(key, end, all.revision, false, page);
    if (!r.ok()) return r.status();
    if (!all.revision) all.revision = r->revision;
    for (auto& kv : r->kvs) all.kvs.push_back(std::move(kv));
    if (!r->more || r->kvs.empty()) break;
    key = all.kvs.back().key + std::string(1, '\0');
  }
  all.count = static_cast<int64_t>(all.kvs.size());
  return all;
}

}  // namespace

Result<FleetRead> ListHosts(EtcdClient& c, const std::string& prefix) {
  FleetRead out;
  const std::string ip = KindPrefix(prefix, KeyKind::kInfo), ap = KindPrefix(prefix, KeyKind::kAlive);
  auto info = RangeAll(c, ip, PrefixRangeEnd(ip), 500);
  if (!info.ok()) return info.status();
  out.revision = info->revision;
  // The alive keys at the same revision, so a host is not counted between two answers.
  RangeResult alive;
  {
    std::string key = ap;
    while (true) {
      auto r = c.Range(key, PrefixRangeEnd(ap), out.revision, true, 1000);
      if (!r.ok()) return r.status();
      for (auto& kv : r->kvs) alive.kvs.push_back(std::move(kv));
      if (!r->more || r->kvs.empty()) break;
      key = alive.kvs.back().key + std::string(1, '\0');
    }
  }
  std::map<std::string, HostRow> rows;
  for (const KeyValue& kv : info->kvs) {
    auto pk = ParseKey(prefix, kv.key);
    if (!pk || pk->kind != KeyKind::kInfo) {
      out.problems.push_back("key " + LogEscape(kv.key) + " under the prefix is not a host key");
      continue;
    }
    HostRow& row = rows[pk->host_id];
    row.host_id = pk->host_id;
    if (Status s = ParseInfo(kv.value, &row); !s.ok()) row.error = s.message();
  }
  for (const KeyValue& kv : alive.kvs) {
    auto pk = ParseKey(prefix, kv.key);
    if (!pk || pk->kind != KeyKind::kAlive) {
      out.problems.push_back("key " + LogEscape(kv.key) + " under the prefix is not a host key");
      continue;
    }
    HostRow& row = rows[pk->host_id];
    if (row.host_id.empty()) {
      row.host_id = pk->host_id;
      row.error = "alive but no info record";
    }
    row.alive = true;
    row.lease = kv.lease;
  }
  for (auto& [id, row] : rows) out.hosts.push_back(std::move(row));
  return out;
}

Result<DigestRead> AllDigests(EtcdClient& c, const std::string& prefix) {
  const std::string dp = KindPrefix(prefix, KeyKind::kDigest);
  // Digests can be up to 1 MiB each: a few at a time.
  auto r = RangeAll(c, dp, PrefixRangeEnd(dp), 16);
  if (!r.ok()) return r.status();
  DigestRead out;
  out.revision = r->revision;
  for (const KeyValue& kv : r->kvs) {
    auto pk = ParseKey(prefix, kv.key);
    if (!pk || pk->kind != KeyKind::kDigest) {
      out.problems.push_back("key " + LogEscape(kv.key) + " under the prefix is not a host key");
      continue;
    }
    auto d = DigestFromJson(kv.value);
    if (!d.ok()) {
      out.problems.push_back("host " + LogEscape(pk->host_id) + ": " + d.status().message());
      continue;
    }
    if (d->host_id != pk->host_id) {
      out.problems.push_back("host " + LogEscape(pk->host_id) + ": its digest names another host (" +
                             LogEscape(d->host_id) + ")");
      continue;
    }
    out.digests.push_back(std::move(d).value());
  }
  return out;
}

Result<std::string> ResolveHost(EtcdClient& c, const std::string& prefix, const std::string& name) {
  if (Status s = CheckHostId(name); !s.ok()) return s;
  auto exact = c.Range(HostKey(prefix, KeyKind::kInfo, name), "", 0, true);
  if (!exact.ok()) return exact.status();
  if (!exact->kvs.empty()) return name;
  auto list = ListHosts(c, prefix);
  if (!list.ok()) return list.status();
  std::vector<std::string> matches;
  for (const HostRow& h : list->hosts) {
    if (h.hostname == name) matches.push_back(h.host_id);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return Status::NotFound("no host '" + name + "' in the fleet (by host id or hostname; see 'twin-replay fleet list')");
  }
  return Status::InvalidArgument("hostname '" + name + "' names " + std::to_string(matches.size()) +
                                 " hosts; give the host id (see 'twin-replay fleet list')");
}

Result<DigestAt> DigestAtTime(EtcdClient& c, const std::string& prefix, const std::string& host_id,
                              uint64_t at_ns) {
  const std::string key = HostKey(prefix, KeyKind::kDigest, host_id);
  auto cur = c.Range(key);
  if (!cur.ok()) return cur.status();
  if (cur->kvs.empty()) return Status::NotFound("host '" + host_id + "' has published no state");
  auto parse = [&](const KeyValue& kv, int64_t rev) -> Result<DigestAt> {
    auto d = DigestFromJson(kv.value);
    if (!d.ok()) return d.status();
    return DigestAt{std::move(d).value(), kv.mod_revision, rev};
  };
  auto newest = parse(cur->kvs[0], cur->revision);
  if (!newest.ok()) return newest.status();
  if (at_ns == 0 || newest->digest.state_ts_ns <= at_ns) return newest;
  // Binary search in the key's history: the newest version whose state time is <= T.
  int64_t lo = cur->kvs[0].create_revision, hi = cur->kvs[0].mod_revision - 1;
  std::optional<DigestAt> best;
  bool compacted = false;
  uint64_t oldest_seen_ns = newest->digest.state_ts_ns;
  while (lo <= hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    auto r = c.Range(key, "", mid);
    if (!r.ok()) {
      if (!IsCompacted(r.status())) return r.status();
      compacted = true;
      lo = mid + 1;
      continue;
    }
    if (r->kvs.empty()) {  // the key did not exist yet at mid
      lo = mid + 1;
      continue;
    }
    auto d = parse(r->kvs[0], cur->revision);
    if (!d.ok()) return d.status();
    oldest_seen_ns = std::min(oldest_seen_ns, d->digest.state_ts_ns);
    if (d->digest.state_ts_ns <= at_ns) {
      best = std::move(d).value();
      lo = mid + 1;
    } else {
      hi = r->kvs[0].mod_revision - 1;
    }
  }
  if (best) return *best;
  if (compacted) {
    return Status::NotFound("that time is older than etcd keeps for host '" + host_id +
                            "' (history compacted; the oldest state still kept is from " +
                            FormatRfc3339Ns(oldest_seen_ns) + ")");
  }
  return Status::NotFound("host '" + host_id + "' had published no state at that time (its first kept state is from " +
                          FormatRfc3339Ns(oldest_seen_ns) + ")");
}

}  // namespace twin::fleet
