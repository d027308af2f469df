// When twind stops writing for lack of disk, warns before that, and starts again: thresholds
// relative to the filesystem's size, so that a small filesystem (a 48 MB tmpfs) is usable and a
// large one keeps a fixed reserve.
#pragma once

#include <cstdint>
#include <string>

#include "eventlog/status.h"

namespace twin::capture {

struct DiskThresholds {
  uint64_t stop_below = 0;    // free bytes under which writing stops (a gap is recorded)
  uint64_t resume_above = 0;  // free bytes over which it starts again
  uint64_t warn_below = 0;    // free bytes under which a warning is logged (once per crossing)
};

// stop = min(cap, max(2% of the filesystem, min(4 MiB, 1/8 of it))); resume = stop + max(10%
// of stop, 1 MiB), never above half the filesystem; warn = 2 x stop. cap = min_free_bytes.
DiskThresholds ComputeDiskThresholds(uint64_t fs_bytes, uint64_t min_free_bytes);

struct DiskSpace {
  uint64_t size = 0;
  uint64_t free = 0;  // available to an unprivileged writer (f_bavail)
};
Result<DiskSpace> StatDisk(const std::string& path);

}  // namespace twin::capture
