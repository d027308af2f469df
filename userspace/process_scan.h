// The host's processes as /proc shows them now: used at start-up, after a gap and at every
// compaction to reconcile the event-built state. Everything read is host-controlled data, stored
// as bytes, never interpreted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

}  // namespace twin::capture
