#include "userspace/decode.h"

#include <sys/sysmacros.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "bpf/events.h"
#include "userspace/cgroup_names.h"

namespace twin::capture {
namespace {

std::string FixedString(const char* s, size_t cap) {
  return std::string(s, strnlen(s, cap));
}

void FillTimes(const twin_hdr& h, const DecodeContext& ctx, Event* e) {
  e->boottime_ns = h.ts_boot_ns;
  e->ts_ns = ctx.clock.ToWall(h.ts_boot_ns);
  e->pid = static_cast<int32_t>(h.pid);
}

}  // namespace

std::string JoinReversedPath(const char* data, size_t len, bool root_if_empty) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < len) {
    size_t n = strnlen(data + i, len - i);
    parts.emplace_back(data + i, n);
    i += n + 1;
  }
  if (parts.empty()) return root_if_empty ? "/" : "";
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out.push_back('/');
    out.append(*it);
  }
  return out;
}

std::vector<std::string> SplitArgv(const char* data, size_t len) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < len) {
    const void* z = memchr(data + i, '\0', len - i);
    size_t n = z ? static_cast<const char*>(z) - (data + i) : len - i;
    out.emplace_back(data + i, n);
    i += n + 1;
  }
  return out;
}

void DecodeWaitStatus(uint32_t status, Event* e) {
  const uint32_t sig = status & 0x7f;
  if (sig != 0) {
    e->signal = static_cast<int32_t>(sig);
    e->core_dumped = (status & 0x80) != 0;
    e->exit_code = 0;
  } else {
    e->signal = 0;
    e->exit_code = static_cast<int32_t>((status >> 8) & 0xff);
  }
}

std::string AddrToString(uint16_t family, const uint8_t addr[16]) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr, buf, sizeof(buf));
  } else if (family == AF_INET6) {
    inet_ntop(AF_INET6, addr, buf, sizeof(buf));
  }
  return buf;
}

bool DecodeRecord(const void* data, size_t size, const DecodeContext& ctx, Decoded* out) {
  if (size < sizeof(twin_hdr)) return false;
  twin_hdr h;
  memcpy(&h, data, sizeof(h));
  out->raw_kind = h.kind;
  out->is_cgroup = false;
  Event& e = out->event;
  e = Event{};
  const char* bytes = static_cast<const char*>(data);
  switch (h.kind) {
    case TWIN_EV_EXEC: {
      if (size < sizeof(twin_exec)) return false;
      twin_exec r;
      memcpy(&r, data, sizeof(r));
      const size_t need = sizeof(twin_exec) + size_t{r.argv_len} + r.exe_len + r.cwd_len +
                          r.cgroup_len;
      if (need > size) return false;
      const char* d = bytes + sizeof(twin_exec);
      e.kind = EventKind::kProcessExec;
      FillTimes(h, ctx, &e);
      e.start_ns = ProcStartNs(r.start_boottime, ctx.tick_ns);
      e.ppid = static_cast<int32_t>(r.ppid);
      e.parent_start_ns = ProcStartNs(r.parent_start_boottime, ctx.tick_ns);
      e.uid = r.uid;
      e.gid = r.gid;
      e.comm = FixedString(r.comm, sizeof(r.comm));
      e.argv = SplitArgv(d, r.argv_len);
      e.argv_truncated = (r.flags & TWIN_EXEC_ARGV_TRUNC) != 0;
      e.exe_truncated = (r.flags & TWIN_EXEC_EXE_TRUNC) != 0;
      e.cwd_truncated = (r.flags & TWIN_EXEC_CWD_TRUNC) != 0;
      d += r.argv_len;
      e.exe = JoinReversedPath(d, r.exe_len, false);
      d += r.exe_len;
      e.cwd = JoinReversedPath(d, r.cwd_len, true);
      d += r.cwd_len;
      e.cgroup = JoinReversedPath(d, r.cgroup_len, true);
      e.unit = UnitFromCgroup(e.cgroup);
      e.container_id = ContainerIdFromCgroup(e.cgroup);
      out->exe_id = ExeId{};
      if (r.flags & TWIN_EXEC_EXE_ID) {
        ExeId& x = out->exe_id;
        x.valid = true;
        x.anon = (r.flags & TWIN_EXEC_EXE_ANON) != 0;
        const uint64_t kdev = r.exe_id.dev;  // the kernel's dev_t: major << 20 | minor
        x.dev = makedev(static_cast<unsigned>(kdev >> 20), static_cast<unsigned>(kdev & 0xfffff));
        x.ino = r.exe_id.ino;
        x.size = r.exe_id.size;
        // Multigrain timestamps (6.13+) keep a "queried" flag in bit 31 of the inode's ctime
        // nsec; stat(2) never shows it. A nsec is < 2^30.
        x.mtime_ns = r.exe_id.mtime_sec * 1000000000LL + (r.exe_id.mtime_nsec & 0x3fffffff);
        x.ctime_ns = r.exe_id.ctime_sec * 1000000000LL + (r.exe_id.ctime_nsec & 0x3fffffff);
        x.nlink = r.exe_id.nlink;
        x.uid = r.exe_id.uid;
        x.gid = r.exe_id.gid;
        x.dir_uid = r.exe_id.dir_uid;
        x.dir_gid = r.exe_id.dir_gid;
        x.mode = r.exe_id.mode;
        x.dir_mode = r.exe_id.dir_mode;
      }
      return true;
    }
    case TWIN_EV_EXIT: {
      if (size < sizeof(twin_exit)) return false;
      twin_exit r;
      memcpy(&r, data, sizeof(r));
      e.kind = EventKind::kProcessExit;
      FillTimes(h, ctx, &e);
      e.start_ns = ProcStartNs(r.start_boottime, ctx.tick_ns);
      e.ppid = static_cast<int32_t>(r.ppid);
      e.comm = FixedString(r.comm, sizeof(r.comm));
      DecodeWaitStatus(r.exit_code, &e);
      e.duration_ns = h.ts_boot_ns > r.start_boottime ? h.ts_boot_ns - r.start_boottime : 0;
      return true;
    }
    case TWIN_EV_FORK: {
      if (size < sizeof(twin_fork)) return false;
      twin_fork r;
      memcpy(&r, data, sizeof(r));
      e.kind = EventKind::kProcessFork;
      FillTimes(h, ctx, &e);
      e.start_ns = ProcStartNs(r.start_boottime, ctx.tick_ns);
      e.ppid = static_cast<int32_t>(r.ppid);
      e.parent_start_ns = ProcStartNs(r.parent_start_boottime, ctx.tick_ns);
      e.uid = r.uid;
      e.gid = r.gid;
      e.comm = FixedString(r.comm, sizeof(r.comm));
      return true;
    }
    case TWIN_EV_BIND:
    case TWIN_EV_LISTEN:
    case TWIN_EV_LISTEN_CLOSE: {
      if (size < sizeof(twin_sock)) return false;
      twin_sock r;
      memcpy(&r, data, sizeof(r));
      e.kind = h.kind == TWIN_EV_BIND     ? EventKind::kSocketBind
               : h.kind == TWIN_EV_LISTEN ? EventKind::kSocketListen
                                          : EventKind::kListenerClose;
      FillTimes(h, ctx, &e);
      e.start_ns = ProcStartNs(r.start_boottime, ctx.tick_ns);
      e.uid = r.uid;
      e.comm = FixedString(r.comm, sizeof(r.comm));
      e.proto = static_cast<uint8_t>(r.proto);
      e.family = static_cast<uint8_t>(r.family);
      e.addr = AddrToString(r.family, r.addr);
      e.port = r.port;
      e.sock_inode = r.sock_inode;
      e.result = r.result;
      return true;
    }
    case TWIN_EV_CGROUP_MKDIR:
    case TWIN_EV_CGROUP_RMDIR: {
      if (size < sizeof(twin_cgroup)) return false;
      const auto* r = reinterpret_cast<const twin_cgroup*>(data);
      out->is_cgroup = true;
      CgroupChange& c = out->cgroup;
      c.mkdir = h.kind == TWIN_EV_CGROUP_MKDIR;
      c.hierarchy_id = r->hierarchy_id;
      c.root_name = FixedString(r->root_name, sizeof(r->root_name));
      c.path = FixedString(r->path, sizeof(r->path));
      c.cgroup_id = r->cgroup_id;
      c.boottime_ns = h.ts_boot_ns;
      c.ts_ns = ctx.clock.ToWall(h.ts_boot_ns);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace twin::capture
