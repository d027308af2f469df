// Host state and the pure fold that builds it from events, plus the diff of two states.
// Fold(state, event) is deterministic and has no side effects: replay relies on that.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <string>
#include <tuple>
#include <vector>

#include "eventlog/event.h"

namespace twin {

struct ProcKey {
  int32_t pid = 0;
  uint64_t start_ns = 0;
  auto operator<=>(const ProcKey&) const = default;
};

struct Process {
  int32_t pid = 0;
  uint64_t start_ns = 0;
  int32_t ppid = 0;
  uint64_t parent_start_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::vector<std::string> argv;
  bool argv_truncated = false;
  bool exe_truncated = false;  // see Event
  bool cwd_truncated = false;
  std::string cgroup;
  std::string unit;
  std::string container_id;
  uint64_t since_ns = 0;  // wall ns of the event that last set the image (exec/fork/resync)
  // Executable integrity (docs/FORENSICS.md): exe_hash = "ok" (exe_sha256 is the hex SHA-256
  // of the executed file), "pending", "too_large", "queue_full", "unavailable", "error", or ""
  // (never hashed: a log before hashing, a process found by resync); exe_flags = comma list of
  // deleted, memfd, writable, dir_writable, unpackaged.
  std::string exe_sha256;
  std::string exe_hash;
  std::string exe_flags;
  bool operator==(const Process&) const = default;
};

struct ListenerKey {
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string addr;
  uint16_t port = 0;
  auto operator<=>(const ListenerKey&) const = default;
};

struct Listener {
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string addr;
  uint16_t port = 0;
  bool listening = false;  // TCP: listen() succeeded; UDP: bound (UDP has no listen)
  int32_t pid = 0;
  uint64_t start_ns = 0;
  std::string comm;
  std::string unit;
  uint64_t sock_inode = 0;
  uint64_t since_ns = 0;
  bool operator==(const Listener&) const = default;
  ListenerKey key() const { return {proto, family, addr, port}; }
};

struct Unit {
  std::string name;
  std::string file_path;
  std::string file_sha256;
  std::string file_content;
  std::string cgroup;
  uint64_t since_ns = 0;
  bool operator==(const Unit&) const = default;
};

// An installed (or half-installed, config-files-only, ...) dpkg package, keyed "name:arch".
struct Package {
  std::string name;
  std::string arch;
  std::string version;
  std::string status;  // dpkg's Status field, e.g. "install ok installed"
  uint64_t since_ns = 0;
  bool operator==(const Package&) const = default;
  std::string key() const { return name + ":" + arch; }
};

// A file (or symlink) under the watched config roots. The content itself, when stored, is in
// the log's content store under its SHA-256 (EventLog::GetContent).
struct ConfigFile {
  std::string path;
  std::string type;  // "file" or "symlink"
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  std::string sha256;   // hex, of the content (of the target path for a symlink)
  std::string content;  // "stored", "withheld" (secret), "too_large", "unreadable"
  std::string package;  // the dpkg package that ships it (conffile or md5sums), "" if none
  std::string differs;  // "yes"/"no" against the package's md5, "" when no package md5
  std::string target;   // symlink target
  uint64_t since_ns = 0;
  bool operator==(const ConfigFile&) const = default;
};

// A /etc/passwd entry. Password hashes are never read.
struct User {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string gecos;
  std::string home;
  std::string shell;
  uint64_t since_ns = 0;
  bool operator==(const User&) const = default;
};

struct Group {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
  uint64_t since_ns = 0;
  bool operator==(const Group&) const = default;
};

// A file in a systemd unit directory, keyed by path: a unit file of any type (service, socket,
// timer, path, mount, target, ...), a drop-in (<unit>.d/<name>.conf), or a symlink that enables
// (<by>.wants/, .requires/, .upholds/<unit>), aliases (role "link") or masks (-> /dev/null) a unit.
// Files shipped by a package and unchanged are referenced by package and version (content
// "package"), not stored; any other content is in the content store under its SHA-256, as for
// config files.
struct UnitConfig {
  std::string path;
  std::string dir;   // the unit directory it lies in, e.g. "/etc/systemd/system"
  std::string unit;  // the unit it defines, modifies or links, e.g. "backup.timer"
  std::string role;  // "unit", "dropin", "wants", "requires", "upholds", "link", "mask"
  std::string by;    // wants/requires/upholds: the unit whose directory holds the link
  std::string type;  // "file" or "symlink"
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  std::string sha256;   // hex, of the content (of the target path for a symlink)
  std::string content;  // "stored", "package", "withheld", "too_large", "unreadable", "" (symlink)
  std::string package;  // the dpkg package that ships it, "" if none
  std::string version;  // that package's version
  std::string differs;  // "yes"/"no" against the package's md5, "" when no package md5
  std::string target;   // symlink target
  uint64_t since_ns = 0;
  bool operator==(const UnitConfig&) const = default;
};

// The host's state. P is the process record: Process everywhere outside the fold engine,
// which folds with a lazy stand-in (see eventlog/folder.h) and materialises Process at the end.
template <typename P>
struct BasicState {
  uint64_t ts_ns = 0;        // wall ns of the last event folded in
  EventKey last_key;         // key of the last event folded in (0,0 for none)
  uint64_t events_folded = 0;
  std::map<ProcKey, P> processes;
  std::map<std::string, Unit> units;
  std::map<ListenerKey, Listener> listeners;
  HostFacts host;
  std::map<std::string, Package> packages;         // key: Package::key()
  std::map<std::string, ConfigFile> config_files;  // key: path
  std::map<std::string, User> users;               // key: name
  std::map<std::string, Group> groups;             // key: name
  std::map<std::string, UnitConfig> unit_config;   // key: path
  // A gap makes the state uncertain until a resync completes.
  bool uncertain = false;
  uint64_t uncertain_since_ns = 0;
  bool operator==(const BasicState&) const = default;
};
using State = BasicState<Process>;

// Applies one event. REQUIRES: events are applied in key order.
void Fold(State& state, const Event& event, const EventKey& key);

template <typename K, typename V>
struct MapDiff {
  std::vector<V> added;
  std::vector<V> removed;
  std::vector<std::pair<V, V>> changed;  // (before, after)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  size_t size() const { return added.size() + removed.size() + changed.size(); }
};

struct StateDiff {
  MapDiff<ProcKey, Process> processes;
  MapDiff<std::string, Unit> units;
  MapDiff<ListenerKey, Listener> listeners;
  MapDiff<std::string, Package> packages;
  MapDiff<std::string, ConfigFile> config_files;
  MapDiff<std::string, User> users;
  MapDiff<std::string, Group> groups;
  MapDiff<std::string, UnitConfig> unit_config;
  bool host_changed = false;
  HostFacts host_before, host_after;
  bool empty() const {
    return processes.empty() && units.empty() && listeners.empty() && !host_changed &&
           !HostConfigChanged();
  }
  bool HostConfigChanged() const {
    return !packages.empty() || !config_files.empty() || !users.empty() || !groups.empty() ||
           !unit_config.empty();
  }
  // Unit, unit-file or listener changes: what the twin VM must follow. Process churn is not.
  bool Significant() const { return !units.empty() || !listeners.empty(); }
};

StateDiff Diff(const State& before, const State& after);

// The inverse of the fold for one entity: the event that carries a process, listener or unit
// whole (a resync upsert/remove, a unit file change). ts_ns and boottime_ns are the caller's.
// Folding a resync upsert of ProcessEvent(p) gives back p (Fold.ResyncEventsCarryTheWholeEntity).
Event ProcessEvent(EventKind kind, const Process& p);
Event ListenerEvent(EventKind kind, const Listener& l);
Event UnitEvent(EventKind kind, const Unit& u);
// The host-configuration events carry their entity whole in attrs; op = "add", "change" or
// "remove". Folding HostConfigEvent(...) of an entity gives it back (since_ns aside).
Event PackageEvent(std::string_view op, const Package& p);
Event ConfigFileEvent(std::string_view op, const ConfigFile& f);
Event UserEvent(std::string_view op, const User& u);
Event GroupEvent(std::string_view op, const Group& g);
Event UnitConfigEvent(std::string_view op, const UnitConfig& u);
// Executable integrity in attrs (exec, resync upserts and exe_hash records): the status, the
// hex SHA-256 and the flags of eventlog/state.h Process; the exe_hash record also names the exec
// it completes (kAttrExecTs = that exec's ts_ns).
inline constexpr std::string_view kAttrExeHash = "exe_hash";
inline constexpr std::string_view kAttrExeSha256 = "exe_sha256";
inline constexpr std::string_view kAttrExeFlags = "exe_flags";
inline constexpr std::string_view kAttrExecTs = "exec_ts_ns";
// Appends the non-empty ones, in that order.
void AddIntegrityAttrs(std::string_view status, std::string_view sha256, std::string_view flags,
                       Event* e);
// The value of attr `key` ("" when absent).
std::string_view AttrOf(const Event& e, std::string_view key);

}  // namespace twin
