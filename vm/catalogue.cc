#include "vm/catalogue.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eventlog/log.h"

namespace twin::vm {

using nlohmann::json;

Status EventLogTwinStore::Put(const std::string& key, const std::string& value) {
  return log_->PutTwin(key, value);
}

Status EventLogTwinStore::Scan(
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return log_->ScanTwin(fn);
}

Status MemoryTwinStore::Put(const std::string& key, const std::string& value) {
  auto it = std::lower_bound(kv_.begin(), kv_.end(), key,
                             [](const auto& p, const std::string& k) { return p.first < k; });
  if (it != kv_.end() && it->first == key) {
    it->second = value;
  } else {
    kv_.insert(it, {key, value});
  }
  return Status::Ok();
}

Status MemoryTwinStore::Scan(
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  for (const auto& [k, v] : kv_) {
    if (!fn(k, v)) break;
  }
  return Status::Ok();
}

namespace {

std::string SnapKey(const SnapshotRecord& r) {
  return fmt::format("snap/{}/{:016x}/{:016x}", r.domain, r.state_ts_ns, r.created_ns);
}

}  // namespace

json SnapshotJson(const SnapshotRecord& r) {
  return {{"id", r.id},
            {"domain", r.domain},
            {"state_ts_ns", r.state_ts_ns},
            {"state_key_ts", r.state_key.ts_ns},
            {"state_key_seq", r.state_key.seq},
            {"image", r.image},
            {"parent_id", r.parent_id},
            {"base_image", r.base_image},
            {"created_ns", r.created_ns},
            {"chain_depth", r.chain_depth},
            {"snapshot_ms", r.snapshot_ms},
            {"total_ms", r.total_ms},
            {"consistent", r.consistent},
            {"pruned", r.pruned},
            {"note", r.note}};
}

std::string SnapshotToJson(const SnapshotRecord& r) {
  return SnapshotJson(r).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<SnapshotRecord> SnapshotFromJson(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  SnapshotRecord r;
  r.id = j.value("id", "");
  r.domain = j.value("domain", "");
  r.state_ts_ns = j.value("state_ts_ns", uint64_t{0});
  r.state_key = {j.value("state_key_ts", uint64_t{0}), j.value("state_key_seq", uint64_t{0})};
  r.image = j.value("image", "");
  r.parent_id = j.value("parent_id", "");
  r.base_image = j.value("base_image", "");
  r.created_ns = j.value("created_ns", uint64_t{0});
  r.chain_depth = j.value("chain_depth", 0u);
  r.snapshot_ms = j.value("snapshot_ms", 0.0);
  r.total_ms = j.value("total_ms", 0.0);
  r.consistent = j.value("consistent", true);
  r.pruned = j.value("pruned", false);
  r.note = j.value("note", "");
  return r;
}

Status Catalogue::Put(const SnapshotRecord& r) {
  if (r.domain.empty()) return Status::InvalidArgument("snapshot record without domain");
  return store_->Put(SnapKey(r), SnapshotToJson(r));
}

Result<std::vector<SnapshotRecord>> Catalogue::List(const std::string& domain) const {
  std::vector<SnapshotRecord> out;
  std::string prefix = domain.empty() ? "snap/" : "snap/" + domain + "/";
  Status bad = Status::Ok();
  auto s = store_->Scan([&](std::string_view k, std::string_view v) {
    if (k.substr(0, prefix.size()) != prefix) return true;
    auto r = SnapshotFromJson(v);
    if (!r) {
      bad = Status::Corruption("twin catalogue record " + std::string(k) + " is not valid JSON");
      return true;
    }
    if (!domain.empty() && r->domain != domain) return true;
    out.push_back(std::move(*r));
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  std::sort(out.begin(), out.end(), [](const SnapshotRecord& a, const SnapshotRecord& b) {
    return std::tie(a.state_ts_ns, a.created_ns) < std::tie(b.state_ts_ns, b.created_ns);
  });
  return out;
}

Result<std::optional<SnapshotRecord>> Catalogue::AtOrBefore(const std::string& domain,
                                                            uint64_t t_ns) const {
  auto all = List(domain);
  if (!all.ok()) return all.status();
  std::optional<SnapshotRecord> best;
  for (const auto& r : *all) {
    if (r.pruned || r.state_ts_ns > t_ns) continue;
    best = r;  // sorted ascending: the last match is the newest
  }
  return best;
}

std::string DomainToJson(const DomainRecord& d) {
  json j = {{"domain", d.domain},
            {"base_image", d.base_image},
            {"active_overlay", d.active_overlay},
            {"chain", d.chain},
            {"applied_state_ts_ns", d.applied_state_ts_ns},
            {"applied_key_ts", d.applied_state_key.ts_ns},
            {"applied_key_seq", d.applied_state_key.seq},
            {"applied_ok", d.applied_ok},
            {"from_snapshot", d.from_snapshot},
            {"source_snapshot_id", d.source_snapshot_id},
            {"last_snapshot_id", d.last_snapshot_id},
            {"last_snapshot_state_ts_ns", d.last_snapshot_state_ts_ns}};
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

std::optional<DomainRecord> DomainFromJson(std::string_view v) {
  auto j = json::parse(v, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  DomainRecord d;
  d.domain = j.value("domain", "");
  d.base_image = j.value("base_image", "");
  d.active_overlay = j.value("active_overlay", "");
  d.chain = j.value("chain", std::vector<std::string>{});
  d.applied_state_ts_ns = j.value("applied_state_ts_ns", uint64_t{0});
  d.applied_state_key = {j.value("applied_key_ts", uint64_t{0}),
                         j.value("applied_key_seq", uint64_t{0})};
  d.applied_ok = j.value("applied_ok", false);
  d.from_snapshot = j.value("from_snapshot", false);
  d.source_snapshot_id = j.value("source_snapshot_id", "");
  d.last_snapshot_id = j.value("last_snapshot_id", "");
  d.last_snapshot_state_ts_ns = j.value("last_snapshot_state_ts_ns", uint64_t{0});
  return d;
}

std::string SnapshotListDocument(const std::vector<SnapshotRecord>& list) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : list) arr.push_back(SnapshotJson(r));
  return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace twin::vm
