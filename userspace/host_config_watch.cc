#include "userspace/host_config_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace twin::capture {
namespace {
constexpr uint32_t kTreeMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                               IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                               IN_ONLYDIR | IN_DONT_FOLLOW;
constexpr uint32_t kDpkgMask = IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR;
}  // namespace

HostConfigWatch::~HostConfigWatch() { Stop(); }

Status HostConfigWatch::Start(const std::vector<std::string>& roots, const std::string& dpkg_dir) {
  Stop();
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return Status::IOError(std::string("inotify_init1: ") + strerror(errno));
  for (const std::string& r : roots) AddTree(r);
  dpkg_wd_ = inotify_add_watch(fd_, dpkg_dir.c_str(), kDpkgMask);
  return Status::Ok();
}

void HostConfigWatch::Stop() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  dpkg_wd_ = -1;
  dirs_.clear();
}

void HostConfigWatch::AddTree(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return;
  const int wd = inotify_add_watch(fd_, dir.c_str(), kTreeMask);
  if (wd >= 0) dirs_[wd] = dir;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code tec;
    if (!fs::is_directory(it->symlink_status(tec)) || tec) continue;
    const int w = inotify_add_watch(fd_, it->path().c_str(), kTreeMask);
    if (w >= 0) dirs_[w] = it->path().string();
  }
}

HostConfigWatch::Dirty HostConfigWatch::Poll() {
  Dirty d;
  if (fd_ < 0) return d;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing more
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      ++events_;
      if (ev->mask & IN_Q_OVERFLOW) {
        ++overflows_;
        d.dpkg = d.files = true;
        continue;
      }
      if (ev->wd == dpkg_wd_) {
        if (ev->len && std::strcmp(ev->name, "status") == 0) d.dpkg = true;
        continue;
      }
      auto it = dirs_.find(ev->wd);
      if (it == dirs_.end()) continue;
      d.files = true;
      if (ev->mask & IN_IGNORED) {
        dirs_.erase(it);
        continue;
      }
      if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len) {
        AddTree(it->second + "/" + ev->name);  // files made in it before the watch: the scan sees them
      }
    }
  }
  return d;
}

}  // namespace twin::capture
