// Small readers of procfs/sysfs files shared by the scanners. Everything read is host data: kept
// as bytes, never interpreted beyond the fields named here.
#pragma once

#include <dirent.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace twin::capture {

// Up to limit bytes of the file; "" (and *ok = false) if it cannot be opened.
std::string ReadFileLimited(const std::string& path, size_t limit, bool* ok = nullptr);
// The link's target, "" if it is not a readable link.
std::string ReadLink(const std::string& path);
// Trailing newlines and spaces removed (procfs one-line files).
std::string TrimLine(std::string s);
// /proc/<pid>/stat: state letter, ppid and start time in clock ticks; false if malformed.
bool ParseProcStat(const std::string& stat, char* state, int* ppid, uint64_t* start_ticks);

bool AllDigits(const char* s);
// fn(pid) for every numeric entry of /proc.
template <typename Fn>
void ForEachPid(Fn fn) {
  DIR* d = opendir("/proc");
  if (!d) return;
  while (dirent* de = readdir(d)) {
    if (AllDigits(de->d_name)) fn(atoi(de->d_name));
  }
  closedir(d);
}

}  // namespace twin::capture
