#include "eventlog/state.h"

#include "eventlog/fold_core.h"

#include <array>
#include <cstdio>

namespace twin {
namespace {

constexpr std::array<std::string_view, kEventKindMax + 1> kKindNames = {
    "unknown",     "exec",       "exit",         "fork",       "bind",   "listen",
    "close",       "unit_start", "unit_stop",    "unit_file",  "host",   "gap",
    "resync",      "daemon_start", "daemon_stop", "twin",      "audit",  "retention",
    "fleet",       "package",    "config_file",  "user",       "group",  "exe_hash",
    "unit_config"};

// An Event as the fold core reads it.
struct FoldInput {
  const Event& e;
  EventKind kind() const { return e.kind; }
  uint64_t ts_ns() const { return e.ts_ns; }
  int32_t pid() const { return e.pid; }
  int32_t ppid() const { return e.ppid; }
  uint64_t start_ns() const { return e.start_ns; }
  uint64_t parent_start_ns() const { return e.parent_start_ns; }
  uint8_t proto() const { return e.proto; }
  uint8_t family() const { return e.family; }
  uint16_t port() const { return e.port; }
  uint64_t sock_inode() const { return e.sock_inode; }
  int32_t result() const { return e.result; }
  uint64_t gap_start_ns() const { return e.gap_start_ns; }
  ResyncOp resync_op() const { return e.resync_op; }
  ResyncEntity resync_entity() const { return e.resync_entity; }
  std::string_view comm() const { return e.comm; }
  std::string_view addr() const { return e.addr; }
  std::string_view unit() const { return e.unit; }
  std::string_view cgroup() const { return e.cgroup; }
  std::string_view unit_file_path() const { return e.unit_file_path; }
  std::string_view unit_file_sha256() const { return e.unit_file_sha256; }
  std::string_view unit_file_content() const { return e.unit_file_content; }
  const HostFacts& host() const { return e.host; }
  std::string_view attr(std::string_view k) const { return AttrOf(e, k); }
};

void SetIntegrityFrom(Process& p, const FoldInput& v) {
  p.exe_sha256 = v.attr(kAttrExeSha256);
  p.exe_hash = v.attr(kAttrExeHash);
  p.exe_flags = v.attr(kAttrExeFlags);
}

}  // namespace
// In twin itself, not the anonymous namespace: the fold core finds them by ADL on Process.
static std::string_view ExeOf(const Process& p) { return p.exe; }
static std::string_view ExeHashOf(const Process& p) { return p.exe_hash; }
namespace {

void SetImageFrom(Process& p, const FoldInput& v) {
  const Event& e = v.e;
  p.uid = e.uid;
  p.gid = e.gid;
  p.comm = e.comm;
  p.exe = e.exe;
  p.cwd = e.cwd;
  p.argv = e.argv;
  p.argv_truncated = e.argv_truncated;
  p.exe_truncated = e.exe_truncated;
  p.cwd_truncated = e.cwd_truncated;
  p.cgroup = e.cgroup;
  p.unit = e.unit;
  p.container_id = e.container_id;
  SetIntegrityFrom(p, v);
}

template <typename K, typename V>
void DiffMaps(const std::map<K, V>& a, const std::map<K, V>& b, MapDiff<K, V>& out) {
  auto ia = a.begin();
  auto ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      out.removed.push_back(ia->second);
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      out.added.push_back(ib->second);
      ++ib;
    } else {
      if (!(ia->second == ib->second)) out.changed.emplace_back(ia->second, ib->second);
      ++ia;
      ++ib;
    }
  }
}

}  // namespace

std::string_view KindName(EventKind k) {
  auto i = static_cast<size_t>(k);
  return i < kKindNames.size() ? kKindNames[i] : "unknown";
}

std::optional<EventKind> KindFromName(std::string_view name) {
  for (size_t i = 1; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

void Fold(State& s, const Event& e, const EventKey& key) { fold::Apply(s, FoldInput{e}, key); }

StateDiff Diff(const State& before, const State& after) {
  StateDiff d;
  DiffMaps(before.processes, after.processes, d.processes);
  DiffMaps(before.units, after.units, d.units);
  DiffMaps(before.listeners, after.listeners, d.listeners);
  DiffMaps(before.packages, after.packages, d.packages);
  DiffMaps(before.config_files, after.config_files, d.config_files);
  DiffMaps(before.users, after.users, d.users);
  DiffMaps(before.groups, after.groups, d.groups);
  DiffMaps(before.unit_config, after.unit_config, d.unit_config);
  if (!(before.host == after.host)) {
    d.host_changed = true;
    d.host_before = before.host;
    d.host_after = after.host;
  }
  return d;
}

Event ProcessEvent(EventKind kind, const Process& p) {
  Event e;
  e.kind = kind;
  e.pid = p.pid;
  e.start_ns = p.start_ns;
  e.ppid = p.ppid;
  e.parent_start_ns = p.parent_start_ns;
  e.uid = p.uid;
  e.gid = p.gid;
  e.comm = p.comm;
  e.exe = p.exe;
  e.cwd = p.cwd;
  e.argv = p.argv;
  e.argv_truncated = p.argv_truncated;
  e.exe_truncated = p.exe_truncated;
  e.cwd_truncated = p.cwd_truncated;
  e.cgroup = p.cgroup;
  e.unit = p.unit;
  e.container_id = p.container_id;
  AddIntegrityAttrs(p.exe_hash, p.exe_sha256, p.exe_flags, &e);
  return e;
}

void AddIntegrityAttrs(std::string_view status, std::string_view sha256, std::string_view flags,
                       Event* e) {
  if (!status.empty()) e->attrs.emplace_back(kAttrExeHash, status);
  if (!sha256.empty()) e->attrs.emplace_back(kAttrExeSha256, sha256);
  if (!flags.empty()) e->attrs.emplace_back(kAttrExeFlags, flags);
}

Event ListenerEvent(EventKind kind, const Listener& l) {
  Event e;
  e.kind = kind;
  e.proto = l.proto;
  e.family = l.family;
  e.addr = l.addr;
  e.port = l.port;
  e.pid = l.pid;
  e.start_ns = l.start_ns;
  e.comm = l.comm;
  e.unit = l.unit;
  e.sock_inode = l.sock_inode;
  return e;
}

Event UnitEvent(EventKind kind, const Unit& u) {
  Event e;
  e.kind = kind;
  e.unit = u.name;
  e.cgroup = u.cgroup;
  e.unit_file_path = u.file_path;
  e.unit_file_sha256 = u.file_sha256;
  e.unit_file_content = u.file_content;
  return e;
}

std::string_view AttrOf(const Event& e, std::string_view key) {
  for (const auto& [k, v] : e.attrs)
    if (k == key) return v;
  return {};
}

namespace {
Event HostConfigEvent(EventKind kind, std::string_view op) {
  Event e;
  e.kind = kind;
  e.attrs.emplace_back("op", std::string(op));
  return e;
}
std::string Octal(uint32_t mode) {
  char b[16];
  snprintf(b, sizeof b, "%04o", mode);
  return b;
}
}  // namespace

Event PackageEvent(std::string_view op, const Package& p) {
  Event e = HostConfigEvent(EventKind::kPackage, op);
  e.attrs.insert(e.attrs.end(), {{"name", p.name}, {"arch", p.arch}, {"version", p.version},
                                 {"status", p.status}});
  return e;
}

Event ConfigFileEvent(std::string_view op, const ConfigFile& f) {
  Event e = HostConfigEvent(EventKind::kConfigFile, op);
  e.attrs.insert(e.attrs.end(),
                 {{"path", f.path}, {"type", f.type}, {"mode", Octal(f.mode)},
                  {"uid", std::to_string(f.uid)}, {"gid", std::to_string(f.gid)},
                  {"size", std::to_string(f.size)}, {"sha256", f.sha256},
                  {"content", f.content}, {"package", f.package}, {"differs", f.differs}});
  if (!f.target.empty()) e.attrs.emplace_back("target", f.target);
  return e;
}

Event UserEvent(std::string_view op, const User& u) {
  Event e = HostConfigEvent(EventKind::kUser, op);
  e.attrs.insert(e.attrs.end(), {{"name", u.name}, {"uid", std::to_string(u.uid)},
                                 {"gid", std::to_string(u.gid)}, {"gecos", u.gecos},
                                 {"home", u.home}, {"shell", u.shell}});
  return e;
}

Event GroupEvent(std::string_view op, const Group& g) {
  Event e = HostConfigEvent(EventKind::kGroup, op);
  std::string members;
  for (const auto& m : g.members) members += (members.empty() ? "" : ",") + m;
  e.attrs.insert(e.attrs.end(),
                 {{"name", g.name}, {"gid", std::to_string(g.gid)}, {"members", members}});
  return e;
}

Event UnitConfigEvent(std::string_view op, const UnitConfig& u) {
  Event e = HostConfigEvent(EventKind::kUnitConfig, op);
  e.attrs.insert(e.attrs.end(),
                 {{"path", u.path}, {"dir", u.dir}, {"unit", u.unit}, {"role", u.role},
                  {"type", u.type}, {"mode", Octal(u.mode)}, {"uid", std::to_string(u.uid)},
                  {"gid", std::to_string(u.gid)}, {"size", std::to_string(u.size)},
                  {"sha256", u.sha256}, {"content", u.content}});
  // Only what is set: most entries are a package's unit or a link.
  for (const auto& [k, v] : {std::pair<const char*, const std::string*>{"by", &u.by},
                             {"package", &u.package}, {"version", &u.version},
                             {"differs", &u.differs}, {"target", &u.target}}) {
    if (!v->empty()) e.attrs.emplace_back(k, *v);
  }
  return e;
}

}  // namespace twin
