// The twin's snapshot catalogue, kept in the event log's "twin" column family (EventLog::PutTwin /
// ScanTwin): snapshot id <-> host state time <-> frozen overlay file <-> parent. Values are JSON.
// Keys: "snap/<domain>/<state_ts 16 hex>/<created 16 hex>" and "domain/<domain>".
// Thread safety: as the underlying store (EventLog is thread safe).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventlog/event.h"
#include "eventlog/status.h"

namespace twin {
class EventLog;
}

namespace twin::vm {

// Where catalogue records live. EventLogTwinStore is the real one; MemoryTwinStore is for tests.
class TwinStore {
 public:
  virtual ~TwinStore() = default;
  virtual Status Put(const std::string& key, const std::string& value) = 0;
  virtual Status Scan(
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
};

class EventLogTwinStore : public TwinStore {
 public:
  explicit EventLogTwinStore(EventLog* log) : log_(log) {}  // REQUIRES: log outlives this
  Status Put(const std::string& key, const std::string& value) override;
  Status Scan(const std::function<bool(std::string_view, std::string_view)>& fn) const override;

 private:
  EventLog* log_;
};

class MemoryTwinStore : public TwinStore {
 public:
  Status Put(const std::string& key, const std::string& value) override;
  Status Scan(const std::function<bool(std::string_view, std::string_view)>& fn) const override;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;  // kept sorted by key
};

struct SnapshotRecord {
  std::string id;            // "<domain>@<created_ns>"
  std::string domain;
  uint64_t state_ts_ns = 0;  // wall time of the host state the twin reflected when taken
  EventKey state_key;        // key of the last event folded into that state
  std::string image;         // frozen qcow2 holding the twin disk at that point
  std::string parent_id;     // previous snapshot of the same chain ("" for the first)
  std::string base_image;    // read-only base at the bottom of the chain
  uint64_t created_ns = 0;
  uint32_t chain_depth = 0;  // overlays above the base after this snapshot
  double snapshot_ms = 0;    // libvirt snapshot call
  double total_ms = 0;       // including the catalogue write
  bool consistent = true;    // false if the last delta run before it had failures
  bool pruned = false;       // merged away by block commit: image no longer holds this point
  std::string note;
};

struct DomainRecord {
  std::string domain;
  std::string base_image;
  std::string active_overlay;
  std::vector<std::string> chain;  // overlays from the bottom (above base) to the active one
  uint64_t applied_state_ts_ns = 0;
  EventKey applied_state_key;
  bool applied_ok = false;
  bool from_snapshot = false;       // a `vm --at` domain
  std::string source_snapshot_id;
  std::string last_snapshot_id;         // newest snapshot taken of this domain's chain
  uint64_t last_snapshot_state_ts_ns = 0;
};

nlohmann::json SnapshotJson(const SnapshotRecord& r);
std::string SnapshotToJson(const SnapshotRecord& r);  // SnapshotJson, one line
// `vm --list --json`: the array of SnapshotJson, indented by 2, with a final newline.
std::string SnapshotListDocument(const std::vector<SnapshotRecord>& list);
std::optional<SnapshotRecord> SnapshotFromJson(std::string_view json);
// The domain record is local VM bookkeeping (a JSON file beside the overlays), not part of the
// log: `twin-replay vm --at --replace` must update it while twind holds the log's writer lock.
std::string DomainToJson(const DomainRecord& d);
std::optional<DomainRecord> DomainFromJson(std::string_view json);

class Catalogue {
 public:
  explicit Catalogue(TwinStore* store) : store_(store) {}  // REQUIRES: store outlives this

  Status Put(const SnapshotRecord& r);  // insert or overwrite (same domain/state/created)
  // All snapshots (of one domain if not empty), ordered by state time then creation.
  Result<std::vector<SnapshotRecord>> List(const std::string& domain = "") const;
  // Newest non-pruned snapshot with state_ts_ns <= t_ns.
  Result<std::optional<SnapshotRecord>> AtOrBefore(const std::string& domain, uint64_t t_ns) const;

 private:
  TwinStore* store_;
};

}  // namespace twin::vm
