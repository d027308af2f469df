// Turns ring-buffer records (bpf/events.h) into twin::Event. Pure: no I/O, so it is unit-tested
// with hand-built records. Records come from our own probes, but sizes are still checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "userspace/clock.h"

namespace twin::capture {

struct DecodeContext {
  ClockOffset clock;
  uint64_t tick_ns = 0;
};

struct CgroupChange {
  bool mkdir = false;
  int hierarchy_id = 0;
  std::string root_name;
  std::string path;  // relative to the hierarchy root
  uint64_t cgroup_id = 0;
  uint64_t ts_ns = 0, boottime_ns = 0;
};

// The executed file as the kernel saw it at exec (bpf/events.h twin_exe_id), dev in glibc's
// st_dev encoding. valid = the probe filled it.
struct ExeId {
  bool valid = false;
  bool anon = false;  // memfd / anonymous file: no path names it
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint32_t nlink = 0, uid = 0, gid = 0, dir_uid = 0, dir_gid = 0;
  uint32_t mode = 0, dir_mode = 0;  // dir_mode 0: no directory (anon)
};

struct Decoded {
  uint16_t raw_kind = 0;  // twin_ev_kind
  bool is_cgroup = false;
  Event event;          // when !is_cgroup
  ExeId exe_id;         // exec only
  CgroupChange cgroup;  // when is_cgroup
};

// False for a record too short for its kind or of an unknown kind.
bool DecodeRecord(const void* data, size_t size, const DecodeContext& ctx, Decoded* out);

// Leaf-first NUL-terminated components → "/a/b/c". Empty input → "/" if root_if_empty else "".
std::string JoinReversedPath(const char* data, size_t len, bool root_if_empty);
// NUL-separated argv bytes → vector (a missing final NUL keeps the last, truncated, argument).
std::vector<std::string> SplitArgv(const char* data, size_t len);
// Kernel wait status → exit_code / signal / core_dumped.
void DecodeWaitStatus(uint32_t status, Event* e);
std::string AddrToString(uint16_t family, const uint8_t addr[16]);

}  // namespace twin::capture
