// Reads the host's current state from /proc, /sys/fs/cgroup and the unit directories. Used at
// start-up, after a gap and at every compaction to reconcile the event-built state. Everything
// read here is host-controlled data: it is stored as bytes, never interpreted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/state.h"

namespace twin::capture {

struct ProcessInfo {
  Process p;
  char state = '?';  // /proc/<pid>/stat state letter
};

// One process by pid; nullopt if it is gone (or is not a thread-group leader).
std::optional<ProcessInfo> ReadProcess(int pid, uint32_t max_args, uint64_t tick_ns);
// Cheap pass for the periodic reconcile: identity and exe only (stat + one readlink per process);
// the full image is read with ReadProcess for the few that need a correction.
struct ProcessBrief {
  int pid = 0;
  uint64_t start_ns = 0;
  std::string exe;
  bool exe_deleted = false;  // the link read "<path> (deleted)": no name reaches the file now
};
std::vector<ProcessBrief> ScanProcessBriefs(uint64_t tick_ns);

// Listening TCP sockets and bound UDP sockets of this network namespace, with their owner.
// known: listeners already in the state; when every socket found is known by inode, the costly
// walk of every /proc/<pid>/fd is skipped and the owner is taken from there.
std::vector<Listener> ScanListeners(const std::map<ProcKey, Process>* processes, uint64_t tick_ns,
                                    const std::map<ListenerKey, Listener>* known = nullptr);
// Parses one /proc/net/{tcp,udp}[6] file body (exposed for tests).
struct NetEntry {
  uint8_t proto = 0, family = 0;
  std::string addr;
  uint16_t port = 0;
  uint8_t state = 0;
  uint64_t inode = 0;
};
std::vector<NetEntry> ParseProcNet(const std::string& body, uint8_t proto, uint8_t family);

struct CgroupRoots {
  std::string v2;          // cgroup2 mount point, "" if none
  std::string v1_systemd;  // name=systemd v1 mount point, "" if none
};
CgroupRoots FindCgroupRoots();
// *.service / *.scope cgroups under the roots: unit name → cgroup path (relative to its root).
std::map<std::string, std::string> ScanUnitCgroups(const CgroupRoots& roots);

struct UnitFile {
  std::string path, sha256, content;
};
// Looks the unit up in the standard systemd unit directories (first match wins, like systemd).
std::optional<UnitFile> FindUnitFile(const std::string& unit_name);
std::string Sha256Hex(const std::string& data);

HostFacts CollectHostFacts();
std::string ReadFileLimited(const std::string& path, size_t limit, bool* ok = nullptr);

}  // namespace twin::capture
