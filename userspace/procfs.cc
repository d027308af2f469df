#include "userspace/procfs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "userspace/cgroup_names.h"
#include "userspace/decode.h"
#include "format/codec.h"

namespace twin::capture {
namespace {

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

template <typename Fn>
void ForEachPid(Fn fn) {
  DIR* d = opendir("/proc");
  if (!d) return;
  while (dirent* de = readdir(d)) {
    if (AllDigits(de->d_name)) fn(atoi(de->d_name));
  }
  closedir(d);
}

// /proc/<pid>/stat: "pid (comm) S ppid ..." — comm may hold ')' and spaces, so parse from the
// last ')'.
bool ParseStat(const std::string& stat, char* state, int* ppid, uint64_t* start_ticks) {
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

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

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

std::optional<ProcessInfo> ReadProcess(int pid, uint32_t max_args, uint64_t tick_ns) {
  const std::string base = "/proc/" + std::to_string(pid);
  bool ok = false;
  std::string stat = ReadFileLimited(base + "/stat", 4096, &ok);
  if (!ok) return std::nullopt;
  ProcessInfo info;
  int ppid = 0;
  uint64_t ticks = 0;
  if (!ParseStat(stat, &info.state, &ppid, &ticks)) return std::nullopt;
  Process& p = info.p;
  p.pid = pid;
  p.start_ns = ProcStartNsFromTicks(ticks, tick_ns);
  p.ppid = ppid;
  if (ppid > 0) {
    std::string pstat = ReadFileLimited("/proc/" + std::to_string(ppid) + "/stat", 4096);
    char s;
    int pp;
    uint64_t pt;
    if (ParseStat(pstat, &s, &pp, &pt)) p.parent_start_ns = ProcStartNsFromTicks(pt, tick_ns);
  }
  p.comm = Trim(ReadFileLimited(base + "/comm", 64));
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
    if (!ok || !ParseStat(stat, &state, &ppid, &ticks) || state == 'Z' || state == 'X') return;
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

std::vector<NetEntry> ParseProcNet(const std::string& body, uint8_t proto, uint8_t family) {
  std::vector<NetEntry> out;
  std::istringstream in(body);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string sl, local, remote, st, txrx, trtm, retr, uid, timeout, inode;
    if (!(ls >> sl >> local >> remote >> st >> txrx >> trtm >> retr >> uid >> timeout >> inode))
      continue;
    size_t colon = local.find(':');
    if (colon == std::string::npos) continue;
    std::string hex = local.substr(0, colon);
    NetEntry e;
    e.proto = proto;
    e.family = family;
    e.port = static_cast<uint16_t>(strtoul(local.c_str() + colon + 1, nullptr, 16));
    e.state = static_cast<uint8_t>(strtoul(st.c_str(), nullptr, 16));
    e.inode = strtoull(inode.c_str(), nullptr, 10);
    uint8_t addr[16] = {};
    // Each 8-hex-digit group is a 32-bit word printed from its in-memory (network-order) bytes as
    // a host-order integer.
    const size_t words = family == kFamilyInet ? 1 : 4;
    if (hex.size() != words * 8) continue;
    for (size_t w = 0; w < words; ++w) {
      uint32_t v = static_cast<uint32_t>(strtoul(hex.substr(w * 8, 8).c_str(), nullptr, 16));
      memcpy(addr + w * 4, &v, 4);
    }
    e.addr = AddrToString(family, addr);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Listener> ScanListeners(const std::map<ProcKey, Process>* processes, uint64_t tick_ns,
                                    const std::map<ListenerKey, Listener>* known) {
  struct Src {
    const char* path;
    uint8_t proto, family;
  };
  const Src kSrc[] = {{"/proc/net/tcp", kProtoTcp, kFamilyInet},
                      {"/proc/net/tcp6", kProtoTcp, kFamilyInet6},
                      {"/proc/net/udp", kProtoUdp, kFamilyInet},
                      {"/proc/net/udp6", kProtoUdp, kFamilyInet6}};
  std::vector<Listener> out;
  std::map<ListenerKey, bool> seen;
  for (const Src& s : kSrc) {
    for (const NetEntry& n : ParseProcNet(ReadFileLimited(s.path, 64u << 20), s.proto, s.family)) {
      // TCP: LISTEN (0x0A) only. UDP: an unconnected socket with a local port (state 07) is a
      // bound receiver; a connected one is a client, not a service.
      if (s.proto == kProtoTcp && n.state != 0x0A) continue;
      if (s.proto == kProtoUdp && (n.port == 0 || n.state != 0x07)) continue;
      Listener l;
      l.proto = n.proto;
      l.family = n.family;
      l.addr = n.addr;
      l.port = n.port;
      l.listening = true;
      l.sock_inode = n.inode;
      if (seen.emplace(l.key(), true).second) out.push_back(std::move(l));
    }
  }
  // Owners: reuse what the state knows when the socket (by inode) is the same one.
  bool need_walk = false;
  for (Listener& l : out) {
    const Listener* k = nullptr;
    if (known) {
      auto it = known->find(l.key());
      if (it != known->end() && it->second.sock_inode == l.sock_inode && it->second.pid != 0)
        k = &it->second;
    }
    if (k) {
      l.pid = k->pid;
      l.start_ns = k->start_ns;
      l.comm = k->comm;
      l.unit = k->unit;
    } else {
      need_walk = true;
    }
  }
  if (!need_walk) return out;
  // Socket inode → owning process (the first found; inherited sockets have several owners).
  std::unordered_map<uint64_t, std::pair<int, uint64_t>> owner;
  std::unordered_map<int, std::string> comm_of;
  ForEachPid([&](int pid) {
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = opendir(fd_dir.c_str());
    if (!d) return;
    uint64_t start_ns = 0;
    bool have_start = false;
    while (dirent* de = readdir(d)) {
      if (de->d_name[0] == '.') continue;
      std::string target = ReadLink(fd_dir + "/" + de->d_name);
      if (target.rfind("socket:[", 0) != 0) continue;
      uint64_t ino = strtoull(target.c_str() + 8, nullptr, 10);
      if (owner.count(ino)) continue;
      if (!have_start) {
        std::string stat = ReadFileLimited("/proc/" + std::to_string(pid) + "/stat", 4096);
        char s;
        int pp;
        uint64_t ticks = 0;
        if (ParseStat(stat, &s, &pp, &ticks)) start_ns = ProcStartNsFromTicks(ticks, tick_ns);
        have_start = true;
        comm_of[pid] = Trim(ReadFileLimited("/proc/" + std::to_string(pid) + "/comm", 64));
      }
      owner[ino] = {pid, start_ns};
    }
    closedir(d);
  });
  for (Listener& l : out) {
    if (l.pid != 0) continue;
    auto it = owner.find(l.sock_inode);
    if (it == owner.end()) continue;
    l.pid = it->second.first;
    l.start_ns = it->second.second;
    l.comm = comm_of[l.pid];
    if (processes) {
      auto p = processes->find(ProcKey{l.pid, l.start_ns});
      if (p != processes->end()) l.unit = p->second.unit;
    }
  }
  return out;
}

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

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
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
  h.machine_id = Trim(ReadFileLimited("/etc/machine-id", 256));
  h.boot_id = Trim(ReadFileLimited("/proc/sys/kernel/random/boot_id", 256));
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
