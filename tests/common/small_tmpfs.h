// A real, small tmpfs mounted on a temp dir (root only): the full disk of the disk-full tests.
#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace twin {

class SmallTmpfs {
 public:
  explicit SmallTmpfs(const char* size) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twin-full-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    const std::string opts = std::string("size=") + size + ",mode=0700";
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    error_ = mounted_ ? "" : std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_);
  }
  bool Resize(const char* size) {
    const std::string opts = std::string("size=") + size;
    return mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::string sub(const char* name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

}  // namespace twin
