#include "userspace/unit_scan.h"

#include <dirent.h>

#include <sstream>

#include "eventlog/chain.h"
#include "userspace/cgroup_names.h"
#include "userspace/proc_read.h"

namespace twin::capture {

CgroupRoots FindCgroupRoots() {
  CgroupRoots r;
  std::istringstream in(ReadFileLimited("/proc/self/mountinfo", 1u << 20));
  std::string line;
  while (std::getline(in, line)) {
    // "id parent major:minor root mountpoint opts ... - fstype source superopts"
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream a(line.substr(0, dash)), b(line.substr(dash + 3));
    std::string id, parent, mm, root, mnt, fstype, source, super;
    a >> id >> parent >> mm >> root >> mnt;
    b >> fstype >> source >> super;
    if (fstype == "cgroup2" && r.v2.empty()) r.v2 = mnt;
    if (fstype == "cgroup" && super.find("name=systemd") != std::string::npos &&
        r.v1_systemd.empty())
      r.v1_systemd = mnt;
  }
  return r;
}

namespace {
void WalkUnits(const std::string& root, const std::string& rel, int depth,
               std::map<std::string, std::string>* out) {
  if (depth > 16) return;
  DIR* d = opendir((root + rel).c_str());
  if (!d) return;
  while (dirent* de = readdir(d)) {
    if (de->d_type != DT_DIR || de->d_name[0] == '.') continue;
    std::string child = rel + "/" + de->d_name;
    if (IsUnitName(de->d_name)) out->emplace(de->d_name, child);
    WalkUnits(root, child, depth + 1, out);
  }
  closedir(d);
}
}  // namespace

std::map<std::string, std::string> ScanUnitCgroups(const CgroupRoots& roots) {
  std::map<std::string, std::string> out;
  if (!roots.v2.empty()) WalkUnits(roots.v2, "", 0, &out);
  if (!roots.v1_systemd.empty()) WalkUnits(roots.v1_systemd, "", 0, &out);
  return out;
}

std::optional<UnitFile> FindUnitFile(const std::string& unit_name) {
  // A unit name is a single path component; anything else could escape the unit directories.
  if (unit_name.empty() || unit_name.find('/') != std::string::npos || unit_name == "." ||
      unit_name == "..")
    return std::nullopt;
  static const char* kDirs[] = {"/etc/systemd/system",        "/run/systemd/system",
                                "/run/systemd/transient",     "/usr/local/lib/systemd/system",
                                "/usr/lib/systemd/system",    "/lib/systemd/system"};
  for (const char* dir : kDirs) {
    std::string path = std::string(dir) + "/" + unit_name;
    bool ok = false;
    std::string content = ReadFileLimited(path, 1u << 20, &ok);
    if (!ok) continue;
    return UnitFile{path, Sha256Hex(content), std::move(content)};
  }
  return std::nullopt;
}

}  // namespace twin::capture
