// A process id that stays unique across pid reuse, reboots and hosts, computed from what the log
// holds: the boot the process ran in (HostFacts::boot_id), its start time (CLOCK_BOOTTIME ns, as
// Event::start_ns) and its pid. Printed as
//   <boot>-<start_ns>-<pid>        e.g. 3f2a9c1d5e6b7a80-86400120000000-4711
// boot = the first 16 hex digits of the boot id (/proc/sys/kernel/random/boot_id, a random UUID
// per boot: dashes dropped, lower case); a boot id that is not a UUID is hashed (FNV-1a 64, 16 hex
// digits); a log that has not recorded a boot id gives 16 zeros (then the id is unique within that
// log only). start_ns and pid are decimal, so the id names its Process { pid, start_ns } directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace twin {

inline constexpr size_t kBootTagLen = 16;

struct ProcessId {
  std::string boot;  // kBootTagLen lower-case hex digits
  uint64_t start_ns = 0;
  int32_t pid = 0;
  bool operator==(const ProcessId&) const = default;
};

// The boot part of an id for a recorded boot id (see above). Never fails.
std::string BootTag(std::string_view boot_id);
// "<boot tag>-<start_ns>-<pid>". REQUIRES: boot_tag is a BootTag().
std::string FormatProcessId(std::string_view boot_tag, int32_t pid, uint64_t start_ns);
// FormatProcessId(BootTag(boot_id), pid, start_ns).
std::string ProcessIdOf(std::string_view boot_id, int32_t pid, uint64_t start_ns);
// Parses what FormatProcessId prints; the error says what a process id looks like.
Result<ProcessId> ParseProcessId(std::string_view text);

}  // namespace twin
