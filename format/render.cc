#include "format/render.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <arpa/inet.h>

#include <fmt/format.h>

#include "eventlog/process_id.h"
#include "eventlog/timefmt.h"

namespace twin {

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i) out += ' ';
    out += EscapeForTerminal(argv[i]);
  }
  return out;
}

std::string ProtoName(uint8_t proto) {
  if (proto == kProtoTcp) return "tcp";
  if (proto == kProtoUdp) return "udp";
  return std::to_string(proto);
}

std::string FamilyName(uint8_t family) {
  if (family == kFamilyInet) return "ipv4";
  if (family == kFamilyInet6) return "ipv6";
  return std::to_string(family);
}

std::string Endpoint(const std::string& addr, uint8_t family, uint16_t port) {
  std::string a = EscapeForTerminal(addr.empty() ? (family == kFamilyInet6 ? "::" : "0.0.0.0") : addr);
  if (family == kFamilyInet6) return "[" + a + "]:" + std::to_string(port);
  return a + ":" + std::to_string(port);
}

namespace {

// The renderers below take an Event or an EventView (the same fields, strings borrowed from
// the record): one body for both, so `events` and the exports write the same bytes.
template <typename Argv>
void ArgvJson(const Argv& argv, JsonWriter& w) {
  w.BeginArray();
  for (const auto& a : argv) w.String(a);
  w.EndArray();
}

template <typename E>
void AttrsJson(const E& e, JsonWriter& w) {
  if (e.attrs.empty()) return;
  w.Key("attrs").BeginObject();
  for (const auto& [k, v] : e.attrs) w.Field(std::string_view(k), std::string_view(v));
  w.EndObject();
}

std::string_view ProtoText(uint8_t proto, char (&buf)[4]) {
  if (proto == kProtoTcp) return "tcp";
  if (proto == kProtoUdp) return "udp";
  const auto r = std::to_chars(buf, buf + sizeof buf, proto);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}
std::string_view FamilyText(uint8_t family, char (&buf)[4]) {
  if (family == kFamilyInet) return "ipv4";
  if (family == kFamilyInet6) return "ipv6";
  const auto r = std::to_chars(buf, buf + sizeof buf, family);
  return std::string_view(buf, static_cast<size_t>(r.ptr - buf));
}

template <typename E>
void SockJson(const E& e, JsonWriter& w) {
  char pb[4], fb[4];
  w.Field("proto", ProtoText(e.proto, pb))
      .Field("family", FamilyText(e.family, fb))
      .Field("addr", std::string_view(e.addr))
      .FieldU("port", e.port);
  if (e.sock_inode) w.FieldU("sock_inode", e.sock_inode);
}

template <typename E>
void ProcIdJson(const E& e, JsonWriter& w, const std::string* boot_tag) {
  w.FieldI("pid", e.pid).FieldU("start_ns", e.start_ns);
  if (boot_tag && e.pid != 0 && e.start_ns != 0) {
    w.Field("process_id", FormatProcessId(*boot_tag, e.pid, e.start_ns));
  }
}
template <typename E>
void ParentIdJson(const E& e, JsonWriter& w, const std::string* boot_tag) {
  if (boot_tag && e.ppid != 0 && e.parent_start_ns != 0) {
    w.Field("parent_process_id", FormatProcessId(*boot_tag, e.ppid, e.parent_start_ns));
  }
}

template <typename E>
void ProcImageJson(const E& e, JsonWriter& w) {
  w.FieldI("ppid", e.ppid)
      .FieldU("uid", e.uid)
      .FieldU("gid", e.gid)
      .Field("comm", std::string_view(e.comm))
      .Field("exe", std::string_view(e.exe))
      .Field("cwd", std::string_view(e.cwd));
  w.Key("argv");
  ArgvJson(e.argv, w);
  w.FieldB("argv_truncated", e.argv_truncated)
      .FieldB("exe_truncated", e.exe_truncated)
      .FieldB("cwd_truncated", e.cwd_truncated)
      .Field("cgroup", std::string_view(e.cgroup))
      .Field("unit", std::string_view(e.unit))
      .Field("container_id", std::string_view(e.container_id));
}

}  // namespace

std::string_view ResyncOpName(ResyncOp op) {
  switch (op) {
    case ResyncOp::kUpsert: return "upsert";
    case ResyncOp::kRemove: return "remove";
    case ResyncOp::kComplete: return "complete";
    default: return "none";
  }
}
std::string_view ResyncEntityName(ResyncEntity en) {
  switch (en) {
    case ResyncEntity::kProcess: return "process";
    case ResyncEntity::kListener: return "listener";
    case ResyncEntity::kUnit: return "unit";
    default: return "none";
  }
}

void HostToJson(const HostFacts& h, JsonWriter& w) {
  w.BeginObject()
      .Field("hostname", h.hostname)
      .Field("kernel", h.kernel)
      .Field("os", h.os)
      .Field("machine_id", h.machine_id)
      .Field("boot_id", h.boot_id)
      .FieldU("cpus", h.cpus)
      .FieldU("mem_bytes", h.mem_bytes);
  w.Key("disks").BeginArray();
  for (const auto& d : h.disks) {
    w.BeginObject().Field("name", d.name).FieldU("size_bytes", d.size_bytes).Field("mount", d.mount).EndObject();
  }
  w.EndArray().EndObject();
}

namespace {
template <typename E>
void EventToJsonT(const EventKey& key, const E& e, JsonWriter& w, const std::string* tag) {
  char tb[32];
  w.BeginObject()
      .Field("kind", KindName(e.kind))
      .Field("time", std::string_view(tb, FormatRfc3339NsTo(tb, e.ts_ns)))
      .FieldU("ts_ns", e.ts_ns)
      .FieldU("seq", key.seq)
      .FieldU("mono_ns", e.boottime_ns);
  switch (e.kind) {
    case EventKind::kProcessExec:
    case EventKind::kProcessFork:
      ProcIdJson(e, w, tag);
      w.FieldU("parent_start_ns", e.parent_start_ns);
      ParentIdJson(e, w, tag);
      ProcImageJson(e, w);
      break;
    case EventKind::kProcessExit:
      ProcIdJson(e, w, tag);
      w.FieldI("ppid", e.ppid).Field("comm", std::string_view(e.comm)).FieldI("exit_code", e.exit_code)
          .FieldI("signal", e.signal).FieldB("core_dumped", e.core_dumped)
          .FieldU("duration_ns", e.duration_ns).Field("unit", std::string_view(e.unit));
      break;
    case EventKind::kSocketBind:
    case EventKind::kSocketListen:
    case EventKind::kListenerClose:
      ProcIdJson(e, w, tag);
      w.Field("comm", std::string_view(e.comm)).Field("unit", std::string_view(e.unit));
      SockJson(e, w);
      if (e.kind == EventKind::kSocketBind) w.FieldI("result", e.result);
      break;
    case EventKind::kUnitStart:
    case EventKind::kUnitStop:
    case EventKind::kUnitFileChanged:
      w.Field("unit", std::string_view(e.unit)).Field("cgroup", std::string_view(e.cgroup))
          .Field("unit_file_path", std::string_view(e.unit_file_path))
          .Field("unit_file_sha256", std::string_view(e.unit_file_sha256));
      if (e.kind != EventKind::kUnitStop) w.Field("unit_file_content", std::string_view(e.unit_file_content));
      break;
    case EventKind::kHostFacts:
      w.Key("host");
      HostToJson(e.host, w);
      break;
    case EventKind::kGap:
      w.FieldU("gap_start_ns", e.gap_start_ns).FieldU("gap_end_ns", e.gap_end_ns)
          .FieldU("lost", e.lost).Field("reason", std::string_view(e.reason));
      break;
    case EventKind::kResync:
      w.Field("op", ResyncOpName(e.resync_op)).Field("entity", ResyncEntityName(e.resync_entity));
      if (e.resync_entity == ResyncEntity::kProcess) {
        ProcIdJson(e, w, tag);
        ParentIdJson(e, w, tag);
        ProcImageJson(e, w);
      } else if (e.resync_entity == ResyncEntity::kListener) {
        ProcIdJson(e, w, tag);
        w.Field("comm", std::string_view(e.comm)).Field("unit", std::string_view(e.unit));
        SockJson(e, w);
      } else if (e.resync_entity == ResyncEntity::kUnit) {
        w.Field("unit", std::string_view(e.unit)).Field("unit_file_path", std::string_view(e.unit_file_path))
            .Field("unit_file_sha256", std::string_view(e.unit_file_sha256));
      }
      break;
    case EventKind::kExeHash:
      ProcIdJson(e, w, tag);
      w.Field("exe", std::string_view(e.exe));
      break;
    default:
      if (!e.reason.empty()) w.Field("message", std::string_view(e.reason));
      break;
  }
  AttrsJson(e, w);
  w.EndObject();
}
}  // namespace

void EventToJson(const EventKey& key, const Event& e, JsonWriter& w) { EventToJsonT(key, e, w, nullptr); }
void EventToJson(const EventKey& key, const EventView& e, JsonWriter& w) {
  EventToJsonT(key, e, w, nullptr);
}
void EventToJson(const EventKey& key, const Event& e, std::string_view boot_id, JsonWriter& w) {
  const std::string tag = BootTag(boot_id);
  EventToJsonT(key, e, w, &tag);
}
void EventToJson(const EventKey& key, const EventView& e, std::string_view boot_id, JsonWriter& w) {
  const std::string tag = BootTag(boot_id);
  EventToJsonT(key, e, w, &tag);
}

namespace {
// "add nginx:amd64 1.22.1-9 (install ok installed)", "change /etc/x 0644 0:0 sha256=ab12..".
std::string HostConfigSummary(const Event& e) {
  auto a = [&](std::string_view k) { return EscapeForTerminal(std::string(AttrOf(e, k))); };
  std::string out = a("op") + " ";
  switch (e.kind) {
    case EventKind::kPackage:
      out += fmt::format("{}:{} {}", a("name"), a("arch"), a("version"));
      if (!AttrOf(e, "old_version").empty() && AttrOf(e, "old_version") != AttrOf(e, "version"))
        out += fmt::format(" (was {})", a("old_version"));
      if (AttrOf(e, "status") != "install ok installed") out += fmt::format(" [{}]", a("status"));
      break;
    case EventKind::kConfigFile: {
      out += a("path");
      if (AttrOf(e, "op") != "remove") {
        out += fmt::format(" {} {}:{} {}", a("mode"), a("uid"), a("gid"),
                           AttrOf(e, "type") == "symlink" ? "-> " + a("target")
                                                         : "sha256=" + a("sha256").substr(0, 12));
        if (AttrOf(e, "content") != "stored") out += " content " + a("content");
        if (!AttrOf(e, "package").empty()) {
          out += fmt::format(" pkg={}{}", a("package"),
                             AttrOf(e, "differs") == "yes" ? " (differs from package)" : "");
        }
      }
      break;
    }
    case EventKind::kUser:
      out += fmt::format("{} uid={} gid={} home={} shell={}", a("name"), a("uid"), a("gid"),
                         a("home"), a("shell"));
      break;
    case EventKind::kGroup:
      out += fmt::format("{} gid={} members={}", a("name"), a("gid"), a("members"));
      break;
    case EventKind::kUnitConfig: {
      // "add wants timers.target -> backup.timer", "change dropin /etc/.../x.conf sha256=.."
      const std::string_view role = AttrOf(e, "role");
      out += a("role") + " ";
      if (!AttrOf(e, "by").empty()) out += a("by") + " -> ";
      out += a("unit");
      if (AttrOf(e, "op") != "remove") {
        if (role == "dropin") out += " " + a("path");
        if (AttrOf(e, "type") == "symlink") {
          out += " link " + a("target");
        } else {
          out += " sha256=" + a("sha256").substr(0, 12);
          if (AttrOf(e, "content") == "package") {
            out += fmt::format(" from {} {}", a("package"), a("version"));
          } else if (AttrOf(e, "content") != "stored") {
            out += " content " + a("content");
          }
          if (AttrOf(e, "differs") == "yes") out += fmt::format(" (differs from {})", a("package"));
        }
      } else {
        out += " " + a("path");
      }
      break;
    }
    default:
      break;
  }
  if (!AttrOf(e, "via").empty()) out += " via " + a("via");
  return out;
}
}  // namespace

namespace {
// " sha256=0123456789ab [deleted,unpackaged]", " hash pending", "" when none.
std::string IntegritySummary(const Event& e) {
  const std::string_view status = AttrOf(e, kAttrExeHash);
  const std::string_view flags = AttrOf(e, kAttrExeFlags);
  std::string out;
  if (status == "ok") out = " sha256=" + EscapeForTerminal(std::string(AttrOf(e, kAttrExeSha256)).substr(0, 12));
  else if (!status.empty()) out = " hash " + EscapeForTerminal(std::string(status));
  if (!flags.empty()) out += " [" + EscapeForTerminal(std::string(flags)) + "]";
  return out;
}
}  // namespace

std::string EventSummary(const Event& e) {
  auto who = [&] { return fmt::format("{} {}", e.pid, EscapeForTerminal(e.comm)); };
  switch (e.kind) {
    case EventKind::kProcessExec:
      return fmt::format("{} ppid={} uid={} {}{}{}{}{}{}", e.pid, e.ppid, e.uid, JoinArgv(e.argv),
                         e.argv_truncated ? " [truncated]" : "",
                         e.exe_truncated ? " [exe path truncated: ..." + EscapeForTerminal(e.exe) + "]" : "",
                         e.cwd_truncated ? " [cwd truncated]" : "",
                         e.unit.empty() ? "" : " unit=" + EscapeForTerminal(e.unit),
                         IntegritySummary(e));
    case EventKind::kExeHash:
      return fmt::format("{} {}{}", e.pid, EscapeForTerminal(e.exe), IntegritySummary(e));
    case EventKind::kProcessFork:
      return fmt::format("{} ppid={} {}", e.pid, e.ppid, EscapeForTerminal(e.comm));
    case EventKind::kProcessExit:
      return e.signal ? fmt::format("{} killed by signal {}{}", who(), e.signal,
                                    e.core_dumped ? " (core dumped)" : "")
                      : fmt::format("{} exit {}", who(), e.exit_code);
    case EventKind::kSocketBind:
      return fmt::format("{} {} {}{}", who(), ProtoName(e.proto), Endpoint(e.addr, e.family, e.port),
                         e.result ? fmt::format(" failed ({})", e.result) : "");
    case EventKind::kSocketListen:
    case EventKind::kListenerClose:
      return fmt::format("{} {} {}", who(), ProtoName(e.proto), Endpoint(e.addr, e.family, e.port));
    case EventKind::kUnitStart:
    case EventKind::kUnitFileChanged:
      return fmt::format("{} {} sha256={}", EscapeForTerminal(e.unit),
                         EscapeForTerminal(e.unit_file_path), e.unit_file_sha256.substr(0, 12));
    case EventKind::kUnitStop:
      return EscapeForTerminal(e.unit);
    case EventKind::kHostFacts:
      return fmt::format("{} kernel {} cpus={} mem={}MiB", EscapeForTerminal(e.host.hostname),
                         EscapeForTerminal(e.host.kernel), e.host.cpus, e.host.mem_bytes >> 20);
    case EventKind::kGap: {
      // An open gap (writing stopped; its end is recorded by the gap that closes it) and a count
      // nobody knows (the daemon was down) are said as such, not as 1970 and 0.
      const bool unknown = std::any_of(e.attrs.begin(), e.attrs.end(),
                                       [](const auto& a) { return a.first == "lost_count"; });
      return fmt::format("{} .. {} lost={} {}", FormatRfc3339Ns(e.gap_start_ns),
                         e.gap_end_ns ? FormatRfc3339Ns(e.gap_end_ns) : std::string("(open)"),
                         unknown && e.lost == 0 ? std::string("unknown") : std::to_string(e.lost),
                         EscapeForTerminal(e.reason));
    }
    case EventKind::kResync: {
      std::string what;
      if (e.resync_entity == ResyncEntity::kProcess) what = who();
      if (e.resync_entity == ResyncEntity::kListener)
        what = fmt::format("{} {}", ProtoName(e.proto), Endpoint(e.addr, e.family, e.port));
      if (e.resync_entity == ResyncEntity::kUnit) what = EscapeForTerminal(e.unit);
      return fmt::format("{} {} {}", ResyncOpName(e.resync_op), ResyncEntityName(e.resync_entity), what);
    }
    case EventKind::kPackage:
    case EventKind::kConfigFile:
    case EventKind::kUser:
    case EventKind::kGroup:
    case EventKind::kUnitConfig:
      return HostConfigSummary(e);
    default: {
      std::string out = EscapeForTerminal(e.reason);
      for (const auto& [k, v] : e.attrs) out += fmt::format(" {}={}", EscapeForTerminal(k), EscapeForTerminal(v));
      return out;
    }
  }
}

void ProcessToJson(const Process& p, std::string_view boot_id, JsonWriter& w) {
  const std::string tag = BootTag(boot_id);
  w.BeginObject().Field("id", FormatProcessId(tag, p.pid, p.start_ns));
  if (p.ppid != 0 && p.parent_start_ns != 0) {
    w.Field("parent_id", FormatProcessId(tag, p.ppid, p.parent_start_ns));
  }
  w.FieldI("pid", p.pid).FieldU("start_ns", p.start_ns).FieldI("ppid", p.ppid)
      .FieldU("parent_start_ns", p.parent_start_ns)
      .FieldU("uid", p.uid).FieldU("gid", p.gid).Field("comm", p.comm).Field("exe", p.exe)
      .Field("cwd", p.cwd);
  w.Key("argv");
  ArgvJson(p.argv, w);
  w.FieldB("argv_truncated", p.argv_truncated)
      .FieldB("exe_truncated", p.exe_truncated)
      .FieldB("cwd_truncated", p.cwd_truncated)
      .Field("cgroup", p.cgroup)
      .Field("unit", p.unit)
      .Field("container_id", p.container_id).FieldU("since_ns", p.since_ns);
  // Executable integrity (docs/FORENSICS.md): "" status = never hashed.
  w.Field("exe_hash", p.exe_hash).Field("exe_sha256", p.exe_sha256);
  w.Key("exe_flags").BeginArray();
  for (size_t i = 0; i < p.exe_flags.size();) {
    size_t j = p.exe_flags.find(',', i);
    if (j == std::string::npos) j = p.exe_flags.size();
    if (j > i) w.String(std::string_view(p.exe_flags).substr(i, j - i));
    i = j + 1;
  }
  w.EndArray().EndObject();
}

void ListenerToJson(const Listener& l, std::string_view boot_id, JsonWriter& w) {
  w.BeginObject().Field("proto", ProtoName(l.proto)).Field("family", FamilyName(l.family))
      .Field("addr", l.addr).FieldU("port", l.port).FieldI("pid", l.pid)
      .FieldU("start_ns", l.start_ns);
  if (l.pid != 0 && l.start_ns != 0) w.Field("process_id", ProcessIdOf(boot_id, l.pid, l.start_ns));
  w.Field("comm", l.comm).Field("unit", l.unit)
      .FieldU("sock_inode", l.sock_inode).FieldU("since_ns", l.since_ns).EndObject();
}

void UnitToJson(const Unit& u, JsonWriter& w, bool with_content) {
  w.BeginObject().Field("name", u.name).Field("file_path", u.file_path)
      .Field("file_sha256", u.file_sha256).Field("cgroup", u.cgroup).FieldU("since_ns", u.since_ns);
  if (with_content) w.Field("file_content", u.file_content);
  w.EndObject();
}

void PackageToJson(const Package& p, JsonWriter& w) {
  w.BeginObject().Field("name", p.name).Field("arch", p.arch).Field("version", p.version)
      .Field("status", p.status).FieldU("since_ns", p.since_ns).EndObject();
}

void ConfigFileToJson(const ConfigFile& f, JsonWriter& w) {
  char mode[16];
  snprintf(mode, sizeof mode, "%04o", f.mode);
  w.BeginObject().Field("path", f.path).Field("type", f.type).Field("mode", std::string_view(mode))
      .FieldU("uid", f.uid).FieldU("gid", f.gid).FieldU("size", f.size).Field("sha256", f.sha256)
      .Field("content", f.content).Field("package", f.package).Field("differs", f.differs);
  if (!f.target.empty()) w.Field("target", f.target);
  w.FieldU("since_ns", f.since_ns).EndObject();
}

void UserToJson(const User& u, JsonWriter& w) {
  w.BeginObject().Field("name", u.name).FieldU("uid", u.uid).FieldU("gid", u.gid)
      .Field("gecos", u.gecos).Field("home", u.home).Field("shell", u.shell)
      .FieldU("since_ns", u.since_ns).EndObject();
}

void GroupToJson(const Group& g, JsonWriter& w) {
  w.BeginObject().Field("name", g.name).FieldU("gid", g.gid).Key("members").BeginArray();
  for (const auto& m : g.members) w.String(m);
  w.EndArray().FieldU("since_ns", g.since_ns).EndObject();
}

void UnitConfigToJson(const UnitConfig& u, JsonWriter& w) {
  char mode[16];
  snprintf(mode, sizeof mode, "%04o", u.mode);
  w.BeginObject().Field("path", u.path).Field("dir", u.dir).Field("unit", u.unit)
      .Field("role", u.role);
  if (!u.by.empty()) w.Field("by", u.by);
  w.Field("type", u.type).Field("mode", std::string_view(mode)).FieldU("uid", u.uid)
      .FieldU("gid", u.gid).FieldU("size", u.size).Field("sha256", u.sha256)
      .Field("content", u.content).Field("package", u.package).Field("version", u.version)
      .Field("differs", u.differs);
  if (!u.target.empty()) w.Field("target", u.target);
  w.FieldU("since_ns", u.since_ns).EndObject();
}

void StateToJson(const State& s, uint64_t at_ns, JsonWriter& w) {
  w.BeginObject().Field("at", FormatRfc3339Ns(at_ns)).FieldU("at_ns", at_ns)
      .FieldU("last_event_ts_ns", s.ts_ns).FieldU("last_event_seq", s.last_key.seq)
      .FieldB("uncertain", s.uncertain);
  if (s.uncertain) w.Field("uncertain_since", FormatRfc3339Ns(s.uncertain_since_ns));
  w.Key("host");
  HostToJson(s.host, w);
  w.Key("processes").BeginArray();
  for (const auto& [k, p] : s.processes) ProcessToJson(p, s.host.boot_id, w);
  w.EndArray().Key("units").BeginArray();
  for (const auto& [k, u] : s.units) UnitToJson(u, w, true);
  w.EndArray().Key("listeners").BeginArray();
  for (const auto& [k, l] : s.listeners) ListenerToJson(l, s.host.boot_id, w);
  w.EndArray().Key("packages").BeginArray();
  for (const auto& [k, p] : s.packages) PackageToJson(p, w);
  w.EndArray().Key("config_files").BeginArray();
  for (const auto& [k, f] : s.config_files) ConfigFileToJson(f, w);
  w.EndArray().Key("users").BeginArray();
  for (const auto& [k, u] : s.users) UserToJson(u, w);
  w.EndArray().Key("groups").BeginArray();
  for (const auto& [k, g] : s.groups) GroupToJson(g, w);
  w.EndArray().Key("unit_config").BeginArray();
  for (const auto& [k, u] : s.unit_config) UnitConfigToJson(u, w);
  w.EndArray().EndObject();
}

namespace {
std::string Trunc(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}
std::string ProcLine(const Process& p) {
  return fmt::format("{:>7} {:>7} {:>6} {:<24} {}", p.pid, p.ppid, p.uid,
                     Trunc(EscapeForTerminal(p.unit.empty() ? "-" : p.unit), 24),
                     Trunc(p.argv.empty() ? EscapeForTerminal(p.comm) : JoinArgv(p.argv), 120));
}
std::string UnitLine(const Unit& u) {
  return fmt::format("{:<40} {:<14} {}", Trunc(EscapeForTerminal(u.name), 40),
                     u.file_sha256.empty() ? "-" : u.file_sha256.substr(0, 12),
                     u.file_path.empty() ? "-" : EscapeForTerminal(u.file_path));
}
std::string PackageLine(const Package& p) {
  return fmt::format("{:<40} {:<8} {:<32} {}", Trunc(EscapeForTerminal(p.name), 40),
                     EscapeForTerminal(p.arch), Trunc(EscapeForTerminal(p.version), 32),
                     EscapeForTerminal(p.status));
}
std::string ConfigFileLine(const ConfigFile& f) {
  std::string what = f.type == "symlink" ? "-> " + EscapeForTerminal(f.target)
                                         : (f.sha256.empty() ? "-" : f.sha256.substr(0, 12));
  std::string pkg = f.package.empty() ? "-" : EscapeForTerminal(f.package) +
                                                  (f.differs == "yes" ? " (modified)" : "");
  return fmt::format("{:04o} {:>5}:{:<5} {:>8} {:<10} {:<14} {:<24} {}", f.mode, f.uid, f.gid,
                     f.size, f.content, Trunc(what, 14), Trunc(pkg, 24),
                     EscapeForTerminal(f.path));
}
std::string UserLine(const User& u) {
  return fmt::format("{:<24} {:>6} {:>6} {:<28} {}", Trunc(EscapeForTerminal(u.name), 24), u.uid,
                     u.gid, Trunc(EscapeForTerminal(u.home), 28), EscapeForTerminal(u.shell));
}
std::string GroupLine(const Group& g) {
  std::string m;
  for (const auto& x : g.members) m += (m.empty() ? "" : ",") + x;
  return fmt::format("{:<24} {:>6} {}", Trunc(EscapeForTerminal(g.name), 24), g.gid,
                     m.empty() ? "-" : EscapeForTerminal(m));
}
std::string UnitConfigLine(const UnitConfig& u) {
  std::string role = u.role + (u.by.empty() ? "" : " " + EscapeForTerminal(u.by));
  std::string what;
  if (u.type == "symlink") {
    what = "-> " + EscapeForTerminal(u.target);
  } else if (u.content == "package") {
    what = EscapeForTerminal(u.package) + " " + EscapeForTerminal(u.version);
  } else {
    what = u.content + " " + (u.sha256.empty() ? "-" : u.sha256.substr(0, 12));
    if (u.differs == "yes") what += " (modified " + EscapeForTerminal(u.package) + ")";
  }
  return fmt::format("{:<32} {:<28} {:<40} {}", Trunc(EscapeForTerminal(u.unit), 32),
                     Trunc(role, 28), Trunc(what, 40), EscapeForTerminal(u.path));
}
std::string ListenerLine(const Listener& l) {
  return fmt::format("{:<5} {:<40} {:>7} {:<16} {}", ProtoName(l.proto),
                     Trunc(Endpoint(l.addr, l.family, l.port), 40), l.pid,
                     Trunc(EscapeForTerminal(l.comm), 16),
                     l.unit.empty() ? "-" : EscapeForTerminal(l.unit));
}
}  // namespace

std::string StateTable(const State& s, uint64_t at_ns) {
  std::string out = fmt::format("State at {}{}\n", FormatRfc3339Ns(at_ns),
                                s.uncertain ? "  [UNCERTAIN: events were lost since " +
                                                  FormatRfc3339Ns(s.uncertain_since_ns) +
                                                  "; no resync yet]"
                                            : "");
  const HostFacts& h = s.host;
  out += fmt::format("Host: {}  kernel {}  {}  cpus {}  memory {} MiB\n",
                     h.hostname.empty() ? "-" : EscapeForTerminal(h.hostname),
                     h.kernel.empty() ? "-" : EscapeForTerminal(h.kernel),
                     h.os.empty() ? "-" : EscapeForTerminal(h.os), h.cpus, h.mem_bytes >> 20);
  for (const auto& d : h.disks) {
    out += fmt::format("  disk {} {} GiB {}\n", EscapeForTerminal(d.name), d.size_bytes >> 30,
                       EscapeForTerminal(d.mount));
  }
  out += fmt::format("\nUnits ({})\n{:<40} {:<14} {}\n", s.units.size(), "UNIT", "SHA256", "FILE");
  for (const auto& [k, u] : s.units) out += UnitLine(u) + "\n";
  out += fmt::format("\nListeners ({})\n{:<5} {:<40} {:>7} {:<16} {}\n", s.listeners.size(),
                     "PROTO", "ADDRESS", "PID", "COMM", "UNIT");
  for (const auto& [k, l] : s.listeners) out += ListenerLine(l) + "\n";
  out += fmt::format("\nProcesses ({})\n{:>7} {:>7} {:>6} {:<24} {}\n", s.processes.size(), "PID",
                     "PPID", "UID", "UNIT", "COMMAND");
  for (const auto& [k, p] : s.processes) out += ProcLine(p) + "\n";
  out += fmt::format("\nPackages ({})\n{:<40} {:<8} {:<32} {}\n", s.packages.size(), "PACKAGE",
                     "ARCH", "VERSION", "STATUS");
  for (const auto& [k, p] : s.packages) out += PackageLine(p) + "\n";
  out += fmt::format("\nConfig files ({})\n{:<4} {:>5}:{:<5} {:>8} {:<10} {:<14} {:<24} {}\n",
                     s.config_files.size(), "MODE", "UID", "GID", "SIZE", "CONTENT", "SHA256",
                     "PACKAGE", "PATH");
  for (const auto& [k, f] : s.config_files) out += ConfigFileLine(f) + "\n";
  out += fmt::format("\nUsers ({})\n{:<24} {:>6} {:>6} {:<28} {}\n", s.users.size(), "USER",
                     "UID", "GID", "HOME", "SHELL");
  for (const auto& [k, u] : s.users) out += UserLine(u) + "\n";
  out += fmt::format("\nGroups ({})\n{:<24} {:>6} {}\n", s.groups.size(), "GROUP", "GID",
                     "MEMBERS");
  for (const auto& [k, g] : s.groups) out += GroupLine(g) + "\n";
  out += fmt::format("\nUnit files, drop-ins and links ({})\n{:<32} {:<28} {:<40} {}\n",
                     s.unit_config.size(), "UNIT", "ROLE", "CONTENT", "PATH");
  for (const auto& [k, u] : s.unit_config) out += UnitConfigLine(u) + "\n";
  return out;
}

void DiffToJson(const StateDiff& d, uint64_t t1, uint64_t t2, std::string_view boot_before,
                std::string_view boot_after, JsonWriter& w) {
  w.BeginObject().Field("from", FormatRfc3339Ns(t1)).Field("to", FormatRfc3339Ns(t2));
  // fn(entity, boot id of the state it is from)
  auto section = [&](const char* name, const auto& md, auto fn) {
    w.Key(name).BeginObject();
    w.Key("added").BeginArray();
    for (const auto& x : md.added) fn(x, boot_after);
    w.EndArray().Key("removed").BeginArray();
    for (const auto& x : md.removed) fn(x, boot_before);
    w.EndArray().Key("changed").BeginArray();
    for (const auto& [a, b] : md.changed) {
      w.BeginObject().Key("before");
      fn(a, boot_before);
      w.Key("after");
      fn(b, boot_after);
      w.EndObject();
    }
    w.EndArray().EndObject();
  };
  section("processes", d.processes, [&](const Process& p, std::string_view b) { ProcessToJson(p, b, w); });
  section("units", d.units, [&](const Unit& u, std::string_view) { UnitToJson(u, w, false); });
  section("listeners", d.listeners, [&](const Listener& l, std::string_view b) { ListenerToJson(l, b, w); });
  section("packages", d.packages, [&](const Package& p, std::string_view) { PackageToJson(p, w); });
  section("config_files", d.config_files,
          [&](const ConfigFile& f, std::string_view) { ConfigFileToJson(f, w); });
  section("users", d.users, [&](const User& u, std::string_view) { UserToJson(u, w); });
  section("groups", d.groups, [&](const Group& g, std::string_view) { GroupToJson(g, w); });
  section("unit_config", d.unit_config,
          [&](const UnitConfig& u, std::string_view) { UnitConfigToJson(u, w); });
  w.FieldB("host_changed", d.host_changed);
  if (d.host_changed) {
    w.Key("host_before");
    HostToJson(d.host_before, w);
    w.Key("host_after");
    HostToJson(d.host_after, w);
  }
  w.EndObject();
}

std::string DiffTable(const StateDiff& d, uint64_t t1, uint64_t t2) {
  std::string out = fmt::format("Diff {} -> {}\n", FormatRfc3339Ns(t1), FormatRfc3339Ns(t2));
  if (d.empty()) return out + "no differences\n";
  auto section = [&](const char* title, const auto& md, auto line) {
    if (md.empty()) return;
    out += fmt::format("\n{} (+{} -{} ~{})\n", title, md.added.size(), md.removed.size(),
                       md.changed.size());
    for (const auto& x : md.added) out += "+ " + line(x) + "\n";
    for (const auto& x : md.removed) out += "- " + line(x) + "\n";
    for (const auto& [a, b] : md.changed) {
      out += "~ " + line(a) + "\n";
      out += "  " + line(b) + "\n";
    }
  };
  section("Units", d.units, UnitLine);
  section("Listeners", d.listeners, ListenerLine);
  section("Processes", d.processes, ProcLine);
  section("Packages", d.packages, PackageLine);
  section("Config files", d.config_files, ConfigFileLine);
  section("Users", d.users, UserLine);
  section("Groups", d.groups, GroupLine);
  section("Unit files, drop-ins and links", d.unit_config, UnitConfigLine);
  if (d.host_changed) {
    out += fmt::format("\nHost changed: {} kernel {} -> {} kernel {}\n",
                       EscapeForTerminal(d.host_before.hostname), EscapeForTerminal(d.host_before.kernel),
                       EscapeForTerminal(d.host_after.hostname), EscapeForTerminal(d.host_after.kernel));
  }
  return out;
}

}  // namespace twin
