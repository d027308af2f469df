#include "userspace/disk_guard.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace twin::capture {

DiskThresholds ComputeDiskThresholds(uint64_t fs_bytes, uint64_t min_free_bytes) {
  constexpr uint64_t kMiB = 1ull << 20;
  DiskThresholds t;
  // RocksDB needs room for a flush and a compaction's output before the WAL runs out: a
  // fraction of the filesystem, at least a few MiB where the filesystem allows it.
  const uint64_t relative = std::max(fs_bytes / 50, std::min<uint64_t>(4 * kMiB, fs_bytes / 8));
  t.stop_below = std::min(min_free_bytes, relative);
  t.resume_above = t.stop_below + std::max(t.stop_below / 10, kMiB);
  t.resume_above = std::min(t.resume_above, std::max(fs_bytes / 2, t.stop_below + 1));
  t.warn_below = t.stop_below > UINT64_MAX / 2 ? UINT64_MAX : 2 * t.stop_below;
  return t;
}

Result<DiskSpace> StatDisk(const std::string& path) {
  struct statvfs sv {};
  if (statvfs(path.c_str(), &sv) != 0) {
    return Status::IOError("cannot stat the filesystem of " + path + ": " + std::strerror(errno));
  }
  DiskSpace d;
  d.size = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  d.free = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  return d;
}

}  // namespace twin::capture
