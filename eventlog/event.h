// The in-memory event model shared by the probes' userspace, the event log, the fold, replay
// and exports. One flat struct: each kind uses the fields listed next to it; unused fields keep
// their defaults and cost nothing on disk (FlatBuffers omits default values).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twin {

// Stable numeric values: they are stored on disk. Append only.
enum class EventKind : uint8_t {
  kUnknown = 0,
  kProcessExec = 1,      // process fields; replaces the image of (pid, start_ns)
  kProcessExit = 2,      // pid, start_ns, exit_code, signal, duration_ns
  kProcessFork = 3,      // child pid/start_ns, ppid (thread-group leaders only)
  kSocketBind = 4,       // sock fields + owning process; result = 0 or -errno
  kSocketListen = 5,     // sock fields + owning process
  kListenerClose = 6,    // sock fields
  kUnitStart = 7,        // unit fields
  kUnitStop = 8,         // unit name
  kUnitFileChanged = 9,  // unit fields (new file hash/content)
  kHostFacts = 10,       // host fields
  kGap = 11,             // gap_start_ns..gap_end_ns, lost, reason
  kResync = 12,          // resync_op + resync_entity + that entity's fields
  kDaemonStart = 13,     // version, message
  kDaemonStop = 14,      // message
  kTwinAction = 15,      // twin VM snapshot/playbook/task results: attrs
  kAudit = 16,           // exports/bundles of the log itself: attrs
  kRetention = 17,       // retention applied: attrs (deleted range, counts)
  kFleet = 18,           // fleet publisher (fleet/): attrs event=connected|lost|caught_up, ...
  // Host configuration (userspace/host_config.h), all in attrs (no schema field), each with
  // op=add|change|remove and via=watch|reconcile|start-up (how it was noticed):
  kPackage = 19,     // dpkg package: name, arch, version, status; change: old_version, old_status
  kConfigFile = 20,  // file under /etc, /usr/local/etc: path, type, mode, uid, gid, size, sha256,
                     // content=stored|withheld|too_large|unreadable, package, differs, target
  kUser = 21,        // /etc/passwd entry: name, uid, gid, gecos, home, shell (never a hash)
  kGroup = 22,       // /etc/group entry: name, gid, members (comma-separated)
  // The executable's SHA-256 and integrity flags, computed by twind after the exec record was
  // written (userspace/exe_hash.h): pid, start_ns, exe; attrs exec_ts_ns (ts_ns of the exec it
  // belongs to), exe_hash (status), exe_sha256, exe_flags, dev, ino, size, mtime_ns, ctime_ns.
  // Exec records whose hash was known in time carry exe_hash/exe_sha256/exe_flags themselves.
  kExeHash = 23,
  // A file in a systemd unit directory (/etc/systemd/system, /usr/local/lib/systemd/system,
  // /lib/systemd/system, /usr/lib/systemd/system; eventlog/state.h UnitConfig), attrs only like
  // the host-configuration kinds: path, dir, unit, role=unit|dropin|wants|requires|upholds|link|mask,
  // by, type, mode, uid, gid, size, sha256, content=stored|package|withheld|too_large|unreadable,
  // package, version, differs, target.
  kUnitConfig = 24,
};
inline constexpr int kEventKindMax = 24;

std::string_view KindName(EventKind k);                    // e.g. "exec", "unit_start"
std::optional<EventKind> KindFromName(std::string_view name);

enum class ResyncOp : uint8_t { kNone = 0, kUpsert = 1, kRemove = 2, kComplete = 3 };
enum class ResyncEntity : uint8_t { kNone = 0, kProcess = 1, kListener = 2, kUnit = 3 };

// Transport protocol and address family use the kernel's numbers (IPPROTO_TCP=6,
// IPPROTO_UDP=17, AF_INET=2, AF_INET6=10).
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kFamilyInet = 2;
inline constexpr uint8_t kFamilyInet6 = 10;

struct Disk {
  std::string name;
  uint64_t size_bytes = 0;
  std::string mount;
  bool operator==(const Disk&) const = default;
};

struct HostFacts {
  std::string hostname;
  std::string kernel;      // uname -r
  std::string os;          // PRETTY_NAME from os-release
  std::string machine_id;
  std::string boot_id;
  uint32_t cpus = 0;
  uint64_t mem_bytes = 0;
  std::vector<Disk> disks;
  bool operator==(const HostFacts&) const = default;
};

struct Event {
  EventKind kind = EventKind::kUnknown;
  uint64_t ts_ns = 0;    // wall clock, ns since the Unix epoch, UTC
  uint64_t boottime_ns = 0;  // CLOCK_BOOTTIME ns at which the event was measured ("mono_ns" in JSON and SQL)

  // Process identity is (pid, start_ns); start_ns = process start in CLOCK_BOOTTIME ns,
  // rounded down to clock ticks so that BPF and /proc agree (see ProcStartNs in userspace).
  int32_t pid = 0;
  int32_t ppid = 0;
  uint64_t start_ns = 0;
  uint64_t parent_start_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::vector<std::string> argv;  // raw bytes, not necessarily UTF-8
  bool argv_truncated = false;
  // exe / cwd hold only the components nearest the file: the path was deeper or longer than
  // the probe walks (the leading components are missing).
  bool exe_truncated = false;
  bool cwd_truncated = false;
  std::string cgroup;
  std::string unit;          // systemd unit derived from the cgroup (or the unit of unit events)
  std::string container_id;  // derived from the cgroup, empty if none
  int32_t exit_code = 0;     // exit status (0..255) when signal == 0
  int32_t signal = 0;        // terminating signal, 0 if exited normally
  bool core_dumped = false;
  uint64_t duration_ns = 0;  // exit: lifetime of the process

  // Sockets: the address is kept as text (inet_ntop), the port in host order.
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string addr;
  uint16_t port = 0;
  uint64_t sock_inode = 0;
  int32_t result = 0;  // bind: 0 or -errno

  // Units.
  std::string unit_file_path;
  std::string unit_file_sha256;  // hex
  std::string unit_file_content;

  HostFacts host;  // kHostFacts

  // Gap.
  uint64_t gap_start_ns = 0;
  uint64_t gap_end_ns = 0;
  uint64_t lost = 0;
  std::string reason;  // gap reason, daemon start/stop message, twin/audit summary

  ResyncOp resync_op = ResyncOp::kNone;
  ResyncEntity resync_entity = ResyncEntity::kNone;

  // Free-form, ordered key/value pairs for twin actions, audits and retention records.
  std::vector<std::pair<std::string, std::string>> attrs;

  bool operator==(const Event&) const = default;
};

// The position of an event in the log. Byte order of the encoded key = time order.
struct EventKey {
  uint64_t ts_ns = 0;
  uint64_t seq = 0;
  auto operator<=>(const EventKey&) const = default;
};

struct KeyedEvent {
  EventKey key;
  Event event;
};

// A socket event: bind, listen or a listener's close (each carries the sock fields).
inline bool IsSocketKind(EventKind k) {
  return k == EventKind::kSocketBind || k == EventKind::kSocketListen ||
         k == EventKind::kListenerClose;
}
inline bool IsSocketEvent(const Event& e) { return IsSocketKind(e.kind); }

// Package, config file, user, group or unit config: the host-configuration kinds (attrs only).
inline bool IsHostConfigKind(EventKind k) {
  return k == EventKind::kPackage || k == EventKind::kConfigFile || k == EventKind::kUser ||
         k == EventKind::kGroup || k == EventKind::kUnitConfig;
}

}  // namespace twin
