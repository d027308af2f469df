#include "userspace/process_scan.h"

#include <sstream>

#include "userspace/cgroup_names.h"
#include "userspace/decode.h"
#include "userspace/proc_read.h"

namespace twin::capture {

std::optional<ProcessInfo> ReadProcess(int pid, uint32_t max_args, uint64_t tick_ns) {
  const std::string base = "/proc/" + std::to_string(pid);
  bool ok = false;
  std::string stat = ReadFileLimited(base + "/stat", 4096, &ok);
  if (!ok) return std::nullopt;
  ProcessInfo info;
  int ppid = 0;
  uint64_t ticks = 0;
  if (!ParseProcStat(stat, &info.state, &ppid, &ticks)) return std::nullopt;
  Process& p = info.p;
  p.pid = pid;
  p.start_ns = ProcStartNsFromTicks(ticks, tick_ns);
  p.ppid = ppid;
  if (ppid > 0) {
    std::string pstat = ReadFileLimited("/proc/" + std::to_string(ppid) + "/stat", 4096);
    char s;
    int pp;
    uint64_t pt;
    if (ParseProcStat(pstat, &s, &pp, &pt)) p.parent_start_ns = ProcStartNsFromTicks(pt, tick_ns);
  }
  p.comm = TrimLine(ReadFileLimited(base + "/comm", 64));
  p.exe = ReadLink(base + "/exe");
  // A deleted binary reads as "/path (deleted)"; keep the path the kernel gave at exec.
  static const std::string kDeleted = " (deleted)";
  if (p.exe.size() > kDeleted.size() &&
      p.exe.compare(p.exe.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0)
    p.exe.resize(p.exe.size() - kDeleted.size());
  p.cwd = ReadLink(base + "/cwd");
  std::string cmdline = ReadFileLimited(base + "/cmdline", max_args + 1);
  if (cmdline.size() > max_args) {
    cmdline.resize(max_args);
    p.argv_truncated = true;
  }
  // cmdline ends with a NUL; SplitArgv treats it as a terminator, as the BPF side does.
  p.argv = SplitArgv(cmdline.data(), cmdline.size());
  std::string status = ReadFileLimited(base + "/status", 8192);
  std::istringstream st(status);
  std::string line;
  while (std::getline(st, line)) {
    if (line.rfind("Uid:", 0) == 0) p.uid = static_cast<uint32_t>(strtoul(line.c_str() + 4, nullptr, 10));
    if (line.rfind("Gid:", 0) == 0) p.gid = static_cast<uint32_t>(strtoul(line.c_str() + 4, nullptr, 10));
  }
  std::string cg = ReadFileLimited(base + "/cgroup", 16384);
  std::istringstream cgs(cg);
  std::string v2, v1_systemd;
  while (std::getline(cgs, line)) {
    if (line.rfind("0::", 0) == 0) v2 = line.substr(3);
    if (line.find(":name=systemd:") != std::string::npos)
      v1_systemd = line.substr(line.find(":name=systemd:") + 14);
  }
  p.cgroup = v2.empty() ? "/" : v2;
  p.unit = UnitFromCgroup(p.cgroup);
  if (p.unit.empty()) p.unit = UnitFromCgroup(v1_systemd);
  p.container_id = ContainerIdFromCgroup(p.cgroup);
  return info;
}

std::vector<ProcessBrief> ScanProcessBriefs(uint64_t tick_ns) {
  std::vector<ProcessBrief> out;
  ForEachPid([&](int pid) {
    const std::string base = "/proc/" + std::to_string(pid);
    bool ok = false;
    std::string stat = ReadFileLimited(base + "/stat", 4096, &ok);
    char state;
    int ppid;
    uint64_t ticks;
    if (!ok || !ParseProcStat(stat, &state, &ppid, &ticks) || state == 'Z' || state == 'X') return;
    ProcessBrief b;
    b.pid = pid;
    b.start_ns = ProcStartNsFromTicks(ticks, tick_ns);
    b.exe = ReadLink(base + "/exe");
    static const std::string kDeleted = " (deleted)";
    if (b.exe.size() > kDeleted.size() &&
        b.exe.compare(b.exe.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
      b.exe.resize(b.exe.size() - kDeleted.size());
      b.exe_deleted = true;
    }
    out.push_back(std::move(b));
  });
  return out;
}

}  // namespace twin::capture
