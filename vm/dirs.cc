#include "vm/dirs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace twin::vm {
namespace fs = std::filesystem;
namespace {

std::string Mode(mode_t m) { return fmt::format("{:04o}", m & 07777); }

// mkdir -p where every directory created gets `mode` exactly (chmod after mkdir: the umask).
Status MakeDirs(const std::string& path, mode_t mode, bool need_traverse) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("directory '" + path + "' is not an absolute path");
  }
  fs::path p = fs::path(path).lexically_normal();
  fs::path cur = "/";
  for (const auto& part : p.relative_path()) {
    if (part.empty()) continue;
    cur /= part;
    struct stat st {};
    if (lstat(cur.c_str(), &st) != 0) {
      if (errno != ENOENT) return Status::IOError(fmt::format("{}: {}", cur.string(), strerror(errno)));
      if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
        return Status::IOError(fmt::format("cannot create {}: {}", cur.string(), strerror(errno)));
      }
      if (chmod(cur.c_str(), mode) != 0) {
        return Status::IOError(fmt::format("cannot set mode {} on {}: {}", Mode(mode), cur.string(),
                                           strerror(errno)));
      }
      continue;
    }
    if (S_ISLNK(st.st_mode) && cur == p) {
      return Status::InvalidArgument(cur.string() + " is a symlink; refusing to use it");
    }
    if (stat(cur.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument(cur.string() + " exists and is not a directory");
    }
    if (need_traverse && (st.st_mode & S_IXOTH) == 0 && cur != p) {
      return Status::InvalidArgument(fmt::format(
          "{} is mode {}: the hypervisor's user cannot reach the twin's disks below it "
          "(give it o+x or choose another overlay root)",
          cur.string(), Mode(st.st_mode)));
    }
  }
  return Status::Ok();
}

}  // namespace

Status MakeHypervisorDir(const std::string& path) {
  if (Status s = MakeDirs(path, 0711, /*need_traverse=*/true); !s.ok()) return s;
  // The directory itself is ours: whatever mode it had (an older umask), qemu must traverse it.
  if (chmod(path.c_str(), 0711) != 0) {
    return Status::IOError(fmt::format("cannot set mode 0711 on {}: {}", path, strerror(errno)));
  }
  return Status::Ok();
}

Status MakePrivateDir(const std::string& path) {
  if (Status s = MakeDirs(path, 0700, /*need_traverse=*/false); !s.ok()) return s;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return Status::IOError(fmt::format("{}: {}", path, strerror(errno)));
  }
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(path + " is not a plain directory; refusing to use it");
  }
  if (st.st_uid != geteuid()) {
    return Status::InvalidArgument(fmt::format(
        "{} is owned by uid {}, not by us (uid {}): refusing to run Ansible from it; remove it",
        path, st.st_uid, geteuid()));
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return Status::InvalidArgument(fmt::format(
        "{} is mode {} (writable by others): refusing to run Ansible from it", path, Mode(st.st_mode)));
  }
  return Status::Ok();
}

}  // namespace twin::vm
