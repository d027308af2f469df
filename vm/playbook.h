// Turns a StateDiff into a targeted Ansible run: a STATIC playbook (vm/ansible/delta.yml, no host
// data ever written into it) plus a vars file in which every string is tagged !unsafe (never
// templated by Jinja) and staged files whose bytes are copied with `copy: src:` (never templated).
// Host-derived names are validated against systemd's unit-name alphabet; anything else is
// refused and recorded, never escaped-and-hoped. Placeholder units are generated from validated
// numbers and canonical addresses only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/state.h"
#include "vm/debs.h"

namespace twin::vm {

// What the twin has, probed through the guest agent before planning.
struct TwinFacts {
  std::set<std::string> existing_programs;  // absolute paths present in the twin
  bool mirror_reachable = false;            // the twin can reach a Debian mirror
  std::map<std::string, std::string> installed_packages;  // name -> version (host_config only)
};

// Host .debs for the packages the twin needs, in install order (vm/debs.h).
struct DebResolution {
  std::vector<DebChoice> debs;
  std::vector<std::string> unresolved;  // dependencies the host does not have either
};

struct PlanOptions {
  std::string root;  // prefix for every destination path ("" = the twin's /); tests use a dir
  bool manage_systemd = true;  // false: only files are written (local inertness tests)
  // Host lookup: Debian package that provides an absolute path (dpkg -S on the host).
  std::function<std::optional<std::string>(const std::string& path)> package_for_path;
  std::string placeholder_script = "/usr/local/bin/safetytwin-placeholder-listen";
  // Host configuration in the twin: groups and users, then config files byte-exact with mode and
  // owner. Off by default (TwinOptions::host_config).
  bool host_config = false;
  // A stored config file's bytes by SHA-256 (the log's content store); nullopt when absent.
  std::function<std::optional<std::string>(const std::string& sha256)> config_content;
  // With host_config: the .debs of roots and of every dependency the twin lacks.
  std::function<DebResolution(const std::vector<std::string>& roots,
                              const std::map<std::string, std::string>& twin_installed)>
      resolve_debs;
};

struct PlannedAction {
  std::string kind;    // unit_exact, unit_package, unit_placeholder, unit_remove, unit_update,
                       // listener_placeholder, listener_remove, skip
  std::string target;  // unit name or listener "tcp/4 127.0.0.1:8088"
  std::string detail;  // why / which package / which listeners
};

struct StagedFile {
  std::string name;     // name of the copy kept in the run bundle (ours, not host-derived)
  std::string content;  // raw bytes (from the host for exact units)
  std::string dest;     // absolute destination in the twin (root-prefixed)
};

// A file of a systemd unit directory to write in the twin (unit file, drop-in or link).
struct UnitConfigCopy {
  std::string dest;     // root-prefixed
  std::string content;  // raw bytes ("" for a link)
  std::string target;   // symlink target, exactly as on the host ("" for a regular file)
  uint32_t mode = 0644;
};

// A config file to write in the twin: bytes (or a symlink target), mode, owner.
struct ConfigCopy {
  std::string dest;     // root-prefixed
  std::string content;  // raw bytes; a generated stand-in for a withheld secret
  std::string target;   // symlink target ("" for a regular file)
  uint32_t mode = 0644, uid = 0, gid = 0;
};

struct DeltaPlan {
  std::vector<std::string> stop;          // units to stop + disable
  std::vector<std::string> remove_files;  // unit files to delete
  std::vector<std::string> packages;      // Debian packages to install
  std::vector<StagedFile> files;          // unit files to write
  std::vector<std::string> start;         // units to start + enable
  std::vector<std::string> restart;       // units to restart
  bool need_placeholder_script = false;
  std::vector<DebChoice> debs;            // host .debs copied in and dpkg -i'd (available ones)
  std::vector<Group> groups;              // created or updated (gid, members), before users
  std::vector<User> users;                // created or updated (uid, gid, gecos, home, shell)
  std::vector<ConfigCopy> config_files;   // written after accounts, before unit files
  std::vector<std::string> remove_config_files;
  // Unit files of every type, drop-ins and enablement links as the host has them (host_config):
  // written with the unit files, one daemon-reload after.
  std::vector<UnitConfigCopy> unit_config;
  std::vector<std::string> remove_unit_config;
  // Units in start/restart whose enablement is the host's links (written above): started, their
  // links never touched by systemctl enable.
  std::set<std::string> start_only;
  std::vector<std::string> notes;         // human notes; may hold hostile host strings
  std::vector<PlannedAction> actions;
  bool empty() const {
    return stop.empty() && remove_files.empty() && packages.empty() && files.empty() &&
           start.empty() && restart.empty() && groups.empty() && users.empty() && debs.empty() &&
           config_files.empty() && remove_config_files.empty() && unit_config.empty() &&
           remove_unit_config.empty();
  }
};

// Absolute programs named by ExecStart*= lines of the units the diff adds or changes.
std::vector<std::string> ProgramsReferenced(const StateDiff& diff);
std::vector<std::string> ExecPrograms(const std::string& unit_content);

DeltaPlan PlanDelta(const StateDiff& diff, const State& target, const TwinFacts& facts,
                    const PlanOptions& options);

// vars.yml for the static playbook: every string is `!unsafe "..."` (YAML double-quoted, bytes
// outside printable ASCII escaped), so neither Jinja nor YAML tags ever see host text as code.
// File contents (and the placeholder program) travel base64-encoded: byte exact, never text.
std::string RenderVarsYaml(const DeltaPlan& plan, const std::string& placeholder_program,
                           const PlanOptions& options);
std::string YamlUnsafeString(const std::string& s);

bool ValidUnitName(const std::string& name);
// Account names the twin creates: [a-z_][a-z0-9_.-]* (a trailing '$' allowed), at most 32.
bool ValidAccountName(const std::string& name);
// "" when the twin takes this config file from the host, else why not (the twin's own system
// files, accounts, units, package-shipped files the package brings itself).
std::string ConfigFileNotReproduced(const ConfigFile& f);
bool ProtectedUnit(const std::string& name);  // units the twin keeps as its own
// The order units are started in: swaps, mounts and automounts, then sockets, services, paths,
// timers, targets (a socket before the service it activates, a timer's service loaded and
// started before the timer). Lower first.
int StartRank(const std::string& unit);
// "" when the twin can write this unit-directory entry, else why not (invalid names or paths,
// protected units).
std::string UnitConfigRefused(const UnitConfig& u);
std::string PlaceholderUnitName(const Listener& l);
// "tcp 4 127.0.0.1 8088" argv pieces for the placeholder program, from validated fields only.
std::optional<std::vector<std::string>> PlaceholderArgs(const Listener& l, std::string* note);

}  // namespace twin::vm
