#include "userspace/proc_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace twin::capture {

std::string ReadFileLimited(const std::string& path, size_t limit, bool* ok) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (ok) *ok = false;
    return "";
  }
  std::string out;
  char buf[8192];
  while (out.size() < limit) {
    ssize_t n = read(fd, buf, std::min(sizeof(buf), limit - out.size()));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (ok) *ok = true;
  return out;
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

bool AllDigits(const char* s) {
  if (!*s) return false;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// /proc/<pid>/stat: "pid (comm) S ppid ..." — comm may hold ')' and spaces, so parse from the
// last ')'.
bool ParseProcStat(const std::string& stat, char* state, int* ppid, uint64_t* start_ticks) {
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos || rp + 2 >= stat.size()) return false;
  std::istringstream in(stat.substr(rp + 2));
  std::string field;
  std::vector<std::string> f;
  while (in >> field) f.push_back(field);
  // f[0] = state (field 3), f[1] = ppid (4), starttime is field 22 → f[19].
  if (f.size() < 20) return false;
  *state = f[0][0];
  *ppid = atoi(f[1].c_str());
  *start_ticks = strtoull(f[19].c_str(), nullptr, 10);
  return true;
}

std::string TrimLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace twin::capture
