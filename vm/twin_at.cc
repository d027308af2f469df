// `twin-replay vm --at`: a domain of its own booted from the newest snapshot at or before T plus
// the delta to T, the list of those copies and their removal. libvirt 9.0 cannot revert external
// snapshots, so a fresh overlay on the snapshot's frozen image stands in for the revert.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "vm/twin.h"
#include "vm/twin_internal.h"

namespace twin::vm {
namespace fs = std::filesystem;
using internal::CompactTime;
using internal::NowNs;

Result<std::string> TwinVm::BringUpAt(uint64_t t_ns, bool replace,
                                      const std::function<Result<State>(uint64_t)>& state_at) {
  std::optional<SnapshotRecord> snap;
  if (catalogue_) {
    auto s = catalogue_->AtOrBefore(options_.domain, t_ns);
    if (!s.ok()) return s.status();
    snap = *s;
  }
  std::string name = replace ? options_.domain
                             : options_.domain + "-at-" + CompactTime(t_ns);
  auto main_rec = LoadDomainRecord(options_.domain);
  std::string base = main_rec.ok() ? main_rec->base_image : ImageDir() + "/base.qcow2";
  std::string backing = snap ? snap->image : base;
  if (replace) {
    if (auto s = virt_->Destroy(name); !s.ok()) return s;
  } else {
    if (auto s = virt_->Undefine(name); !s.ok()) return s;
  }
  std::string overlay = DomainDir(name) + fmt::format("/disk-{}.qcow2", NowNs());
  if (auto s = CreateOverlay(backing, overlay); !s.ok()) return s;
  DomainRecord d;
  d.domain = name;
  d.base_image = replace ? base : backing;
  d.active_overlay = overlay;
  d.from_snapshot = snap.has_value();
  d.source_snapshot_id = snap ? snap->id : "";
  if (replace && main_rec.ok() && snap) {
    // Keep the frozen layers below the snapshot image: they are the new overlay's backing chain.
    for (const auto& layer : main_rec->chain) {
      d.chain.push_back(layer);
      if (layer == snap->image) break;
    }
    d.last_snapshot_id = snap->id;
    d.last_snapshot_state_ts_ns = snap->state_ts_ns;
  }
  d.chain.push_back(overlay);
  if (auto s = SaveDomainRecord(d); !s.ok()) return s;
  auto boot = StartDomain(name, overlay);
  if (!boot.ok()) return boot.status();
  State from;
  if (snap) {
    auto st = state_at(snap->state_ts_ns);
    if (!st.ok()) return st.status();
    from = std::move(*st);
  }
  auto target = state_at(t_ns);
  if (!target.ok()) return target.status();
  auto out = ApplyTo(name, Diff(from, *target), *target);
  if (!out.ok()) return out.status();
  d.applied_state_ts_ns = target->ts_ns;
  d.applied_state_key = target->last_key;
  d.applied_ok = out->success();
  if (auto s = SaveDomainRecord(d); !s.ok()) return s;
  Record({{"action", "revert"}, {"domain", name}, {"at_ns", std::to_string(t_ns)},
          {"snapshot", snap ? snap->id : "base image"}, {"replace", replace ? "true" : "false"},
          {"delta_status", out->success() ? "ok" : "failed"}},
         fmt::format("twin {} brought up at {} from {}", name, CompactTime(t_ns),
                     snap ? snap->id : "the base image"));
  if (!out->success()) {
    return Status::IOError(fmt::format("domain {} is up but the delta run failed (see {})", name,
                                       out->run.log_path));
  }
  return name;
}

// "<domain>-at-<something>", a valid libvirt name: what BringUpAt names its copies.
static bool IsAtCopyName(const std::string& domain, const std::string& name) {
  const std::string prefix = domain + "-at-";
  return name.size() > prefix.size() && name.rfind(prefix, 0) == 0 && ValidDomainName(name);
}

Result<std::vector<DomainRecord>> TwinVm::AtDomains() const {
  std::vector<DomainRecord> out;
  std::error_code ec;
  fs::directory_iterator it(options_.overlay_root, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return Status::IOError("cannot list " + options_.overlay_root + ": " + ec.message());
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!IsAtCopyName(options_.domain, name)) continue;
    auto rec = LoadDomainRecord(name);
    if (!rec.ok()) continue;  // not ours (no record), or being written
    out.push_back(std::move(*rec));
  }
  std::sort(out.begin(), out.end(),
            [](const DomainRecord& a, const DomainRecord& b) { return a.domain < b.domain; });
  return out;
}

Status TwinVm::RemoveAtDomain(const std::string& name) {
  if (name == options_.domain) {
    return Status::InvalidArgument("'" + name +
                                   "' is the live twin, not a `vm --at` copy; twind manages it");
  }
  if (!IsAtCopyName(options_.domain, name)) {
    return Status::InvalidArgument("'" + name + "' is not a `vm --at` copy of twin '" +
                                   options_.domain + "' (those are named " + options_.domain +
                                   "-at-<time>; `twin-replay vm --domains` lists them)");
  }
  auto rec = LoadDomainRecord(name);
  if (!rec.ok()) {
    return Status::NotFound("no `vm --at` copy named '" + name + "' under " +
                            options_.overlay_root + " (`twin-replay vm --domains` lists them)");
  }
  if (auto s = virt_->Undefine(name); !s.ok()) return s;
  std::error_code ec;
  fs::remove_all(DomainDir(name), ec);
  if (ec) {
    return Status::IOError("domain " + name + " is undefined but " + DomainDir(name) +
                           " could not be removed: " + ec.message());
  }
  Record({{"action", "remove"}, {"domain", name}}, "twin copy " + name + " removed");
  return Status::Ok();
}

}  // namespace twin::vm
