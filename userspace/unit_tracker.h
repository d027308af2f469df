// Which cgroup hierarchies hold each systemd unit's cgroup: the unified (v2) hierarchy and the v1
// name=systemd one, either or both. A unit starts when the first of them gets its directory and
// stops when the last one loses it; a directory that is not a unit name, or in another v1
// hierarchy, is not a unit. Pure (no /proc, no sd-bus): the daemon decides what a change means
// with the live state and systemd's own word (daemon.cc).
#pragma once

#include <map>
#include <set>
#include <string>

#include "userspace/decode.h"

namespace twin::capture {

class UnitCgroupTracker {
 public:
  enum class Change {
    kNone,       // not a unit's cgroup, or another hierarchy still (or already) holds the unit
    kFirstHeld,  // the first hierarchy holding the unit: it may have started
    kLastGone,   // no hierarchy holds it any more (or none was known to): it may have stopped
  };
  // One mkdir/rmdir of a cgroup directory; *unit is set to the unit's name whenever the directory
  // is a unit's (also for kNone).
  Change OnCgroup(const CgroupChange& c, std::string* unit);
  // Replaces everything with what a scan of the hierarchies found (reconcile): unit → tags.
  void Reset(std::map<std::string, std::set<std::string>> held) { held_ = std::move(held); }
  const std::map<std::string, std::set<std::string>>& held() const { return held_; }

  static constexpr const char* kV2 = "v2";
  static constexpr const char* kV1Systemd = "v1-systemd";

 private:
  std::map<std::string, std::set<std::string>> held_;  // unit → hierarchies holding it
};

}  // namespace twin::capture
