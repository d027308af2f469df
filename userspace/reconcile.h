// The periodic reconciliation's decision, as a pure function: given the state twind believes
// (the fold of what it wrote) and what the host's /proc, /proc/net and cgroup trees hold now,
// the resync events that bring the state back to the host. The scans are done by the caller
// (userspace/process_scan.h, unit_scan.h); the two lookups a correction needs (a process's full image, a unit's
// file) are passed in, so tests give it states and scans of their own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/state.h"
#include "userspace/host_config.h"
#include "userspace/process_scan.h"
#include "userspace/unit_scan.h"

namespace twin::capture {

struct HostScan {
  std::vector<ProcessBrief> processes;  // the brief scan: identity and exe
  std::vector<Listener> listeners;
  std::map<std::string, std::string> unit_cgroups;  // unit name -> its cgroup (v2 first, then v1)
};

struct ReconcileLookups {
  // A process's full image, read only for the processes to correct; nullopt when it is gone.
  std::function<std::optional<ProcessInfo>(int pid)> read_process;
  // A running unit's file (path, hash, content); nullopt when none is found.
  std::function<std::optional<UnitFile>(const std::string& unit)> find_unit_file;
};

struct ReconcileOptions {
  // A process younger than this is left alone: its exec/fork may still be in the queue
  // (0: correct every process, as after a gap).
  uint64_t grace_ns = 0;
  uint64_t now_boot_ns = 0;  // CLOCK_BOOTTIME now, for grace_ns
  // systemd answers for units (sd-bus watcher running): a unit without a cgroup is asked
  // about (Type=oneshot + RemainAfterExit=yes has none and is active), not removed.
  bool systemd_answers_for_units = false;
  // Write a kComplete even without corrections (after a gap or at start-up).
  bool always_complete = false;
  std::string why;  // the kComplete's reason: "periodic", "after gap", "start-up", ...
};

struct ReconcilePlan {
  // Resync upserts/removes and unit-file changes, then a kComplete when anything changed, the
  // state was uncertain or always_complete: unstamped (ts_ns, boottime_ns are the caller's).
  std::vector<Event> events;
  std::vector<std::string> recheck_units;  // ask systemd about these
  size_t corrections = 0;                  // resync upserts and removes
};

ReconcilePlan PlanReconcile(const State& believed, const HostScan& scan,
                            const ReconcileLookups& lookups, const ReconcileOptions& options);

// Host configuration: what the scanners found (a member left empty was not scanned this time, or
// could not be read, and concludes nothing).
struct HostConfigScan {
  std::optional<std::vector<Package>> packages;
  std::optional<std::map<std::string, ScannedFile>> files;
  std::optional<std::vector<User>> users;
  std::optional<std::vector<Group>> groups;
  std::optional<std::map<std::string, ScannedUnitConfig>> unit_config;
};

struct HostConfigPlan {
  // package / config_file / user / group / unit_config events (op=add|change|remove, via),
  // unstamped.
  std::vector<Event> events;
  // Contents to store before the events are written: sha256 -> bytes. A stored file whose
  // content the scan did not carry (its stat identity was unchanged) is in missing_content.
  std::map<std::string, std::string> contents;
  std::map<std::string, std::string> missing_content;  // path -> sha256
};

// The events that bring believed's packages, config files, users, groups and unit config to what
// scan found.
// Packages carry action=install|upgrade|downgrade|reinstall|status|remove and, for a change,
// old_version / old_status. via = how the change was noticed ("watch", "reconcile", "start-up").
HostConfigPlan PlanHostConfig(const State& believed, HostConfigScan& scan, std::string_view via);

}  // namespace twin::capture
