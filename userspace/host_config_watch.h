// Change detection for the host configuration: inotify on every directory under the config
// roots (added as directories appear) and on the dpkg database directory (dpkg replaces its
// status file by rename). The fd is non-blocking and read by twind's writer loop, which wakes
// at least every 250 ms anyway: no thread, no extra wake-ups on an idle host. What changed is
// only a hint; the scan that follows (userspace/host_config.h) finds what it was.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace twin::capture {

class HostConfigWatch {
 public:
  HostConfigWatch() = default;
  ~HostConfigWatch();
  HostConfigWatch(const HostConfigWatch&) = delete;
  HostConfigWatch& operator=(const HostConfigWatch&) = delete;

  // roots: watched recursively; dpkg_dir: its status file. A root that does not exist is skipped.
  Status Start(const std::vector<std::string>& roots, const std::string& dpkg_dir);
  void Stop();
  bool running() const { return fd_ >= 0; }

  struct Dirty {
    bool dpkg = false;
    bool files = false;
  };
  // Reads what is pending without blocking. A queue overflow marks everything dirty.
  Dirty Poll();

  uint64_t events() const { return events_; }
  uint64_t overflows() const { return overflows_; }
  size_t watches() const { return dirs_.size(); }
  int fd() const { return fd_; }

 private:
  void AddTree(const std::string& dir);
  int fd_ = -1;
  int dpkg_wd_ = -1;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory
  uint64_t events_ = 0, overflows_ = 0;
};

}  // namespace twin::capture
