#include "userspace/host_facts.h"

#include <dirent.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "userspace/proc_read.h"

namespace twin::capture {

HostFacts CollectHostFacts() {
  HostFacts h;
  utsname u{};
  if (uname(&u) == 0) {
    h.hostname = u.nodename;
    h.kernel = u.release;
  }
  std::istringstream os(ReadFileLimited("/etc/os-release", 65536));
  std::string line;
  while (std::getline(os, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      h.os = v;
    }
  }
  h.machine_id = TrimLine(ReadFileLimited("/etc/machine-id", 256));
  h.boot_id = TrimLine(ReadFileLimited("/proc/sys/kernel/random/boot_id", 256));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = n > 0 ? static_cast<uint32_t>(n) : 0;
  std::istringstream mi(ReadFileLimited("/proc/meminfo", 65536));
  while (std::getline(mi, line)) {
    if (line.rfind("MemTotal:", 0) == 0) h.mem_bytes = strtoull(line.c_str() + 9, nullptr, 10) * 1024;
  }
  // Whole block devices with their size (sectors of 512 bytes) and the mount of the root fs.
  DIR* d = opendir("/sys/block");
  if (d) {
    while (dirent* de = readdir(d)) {
      if (de->d_name[0] == '.') continue;
      std::string name = de->d_name;
      if (name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0) continue;
      uint64_t sectors = strtoull(ReadFileLimited("/sys/block/" + name + "/size", 64).c_str(), nullptr, 10);
      h.disks.push_back(Disk{name, sectors * 512, ""});
    }
    closedir(d);
  }
  std::sort(h.disks.begin(), h.disks.end(), [](const Disk& a, const Disk& b) { return a.name < b.name; });
  return h;
}

}  // namespace twin::capture
