// systemd units as the file system shows them: the unit cgroups under the cgroup mounts and the
// unit files in the standard unit directories.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace twin::capture {

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

}  // namespace twin::capture
