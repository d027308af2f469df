// Listening TCP sockets and bound UDP sockets of this network namespace, from /proc/net, with
// their owning process from /proc/<pid>/fd.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eventlog/state.h"

namespace twin::capture {

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

}  // namespace twin::capture
