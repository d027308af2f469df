// An event read in place: the same fields as Event (eventlog/event.h), with the strings borrowed
// from the FlatBuffers record it was decoded from. Valid while that record's bytes are; decoding
// one over and over (a scan) allocates nothing once its vectors have grown. Readers that only
// show events (twin-replay events) use it instead of copying every string into an Event.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "eventlog/event.h"

namespace twin {

struct EventView {
  EventKind kind = EventKind::kUnknown;
  uint64_t ts_ns = 0;
  uint64_t boottime_ns = 0;
  int32_t pid = 0;
  int32_t ppid = 0;
  uint64_t start_ns = 0;
  uint64_t parent_start_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string_view comm;
  std::string_view exe;
  std::string_view cwd;
  std::vector<std::string_view> argv;
  bool argv_truncated = false;
  bool exe_truncated = false;
  bool cwd_truncated = false;
  std::string_view cgroup;
  std::string_view unit;
  std::string_view container_id;
  int32_t exit_code = 0;
  int32_t signal = 0;
  bool core_dumped = false;
  uint64_t duration_ns = 0;
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string_view addr;
  uint16_t port = 0;
  uint64_t sock_inode = 0;
  int32_t result = 0;
  std::string_view unit_file_path;
  std::string_view unit_file_sha256;
  std::string_view unit_file_content;
  HostFacts host;  // owned: only host-facts records carry one
  uint64_t gap_start_ns = 0;
  uint64_t gap_end_ns = 0;
  uint64_t lost = 0;
  std::string_view reason;
  ResyncOp resync_op = ResyncOp::kNone;
  ResyncEntity resync_entity = ResyncEntity::kNone;
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
};

}  // namespace twin
