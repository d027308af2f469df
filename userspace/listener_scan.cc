#include "userspace/listener_scan.h"

#include <dirent.h>

#include <cstring>
#include <sstream>
#include <unordered_map>

#include "userspace/decode.h"
#include "userspace/proc_read.h"

namespace twin::capture {

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
        if (ParseProcStat(stat, &s, &pp, &ticks)) start_ns = ProcStartNsFromTicks(ticks, tick_ns);
        have_start = true;
        comm_of[pid] = TrimLine(ReadFileLimited("/proc/" + std::to_string(pid) + "/comm", 64));
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

}  // namespace twin::capture
