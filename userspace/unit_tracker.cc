#include "userspace/unit_tracker.h"

#include "userspace/cgroup_names.h"

namespace twin::capture {

UnitCgroupTracker::Change UnitCgroupTracker::OnCgroup(const CgroupChange& c, std::string* unit) {
  unit->clear();
  const char* tag = nullptr;
  if (c.hierarchy_id == 0) tag = kV2;  // the default (cgroup2) hierarchy has id 0
  else if (c.root_name == "systemd") tag = kV1Systemd;
  else return Change::kNone;
  std::string name(Basename(c.path));
  if (!IsUnitName(name)) return Change::kNone;
  *unit = name;
  if (c.mkdir) {
    auto& refs = held_[name];
    const bool first = refs.empty();
    refs.insert(tag);
    return first ? Change::kFirstHeld : Change::kNone;
  }
  // A directory never seen held (created before a scan, or a unit systemd reported) is gone
  // from every hierarchy as far as the tracker knows: the daemon checks the live state.
  auto& refs = held_[name];
  refs.erase(tag);
  if (!refs.empty()) return Change::kNone;
  held_.erase(name);
  return Change::kLastGone;
}

}  // namespace twin::capture
