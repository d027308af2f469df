#include "forensics/export.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "eventlog/codec.h"
#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "format/codec.h"

#ifndef TWIN_VERSION
#define TWIN_VERSION "0.0.0"
#endif

namespace twin {

Result<ExportFormat> ParseExportFormat(std::string_view name) {
  if (name == "timesketch") return ExportFormat::kTimesketch;
  if (name == "ecs") return ExportFormat::kEcs;
  if (name == "ocsf") return ExportFormat::kOcsf;
  if (name == "csv") return ExportFormat::kCsv;
  return Status::InvalidArgument("unknown export format '" + std::string(name) +
                                 "'; valid formats: timesketch, ecs, ocsf, csv");
}

std::string_view ExportFormatName(ExportFormat f) {
  switch (f) {
    case ExportFormat::kTimesketch: return "timesketch";
    case ExportFormat::kEcs: return "ecs";
    case ExportFormat::kOcsf: return "ocsf";
    case ExportFormat::kCsv: return "csv";
  }
  return "?";
}

namespace {

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}
void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

std::string_view ResyncOpText(ResyncOp op) {
  switch (op) {
    case ResyncOp::kUpsert: return "upsert";
    case ResyncOp::kRemove: return "remove";
    case ResyncOp::kComplete: return "complete";
    default: return "none";
  }
}
std::string_view ResyncEntityText(ResyncEntity en) {
  switch (en) {
    case ResyncEntity::kProcess: return "process";
    case ResyncEntity::kListener: return "listener";
    case ResyncEntity::kUnit: return "unit";
    default: return "none";
  }
}

void AppendEndpoint(const Event& e, std::string& out) {
  out += ProtoName(e.proto);
  out += ' ';
  const std::string& a = e.addr.empty() ? (e.family == kFamilyInet6 ? std::string("::")
                                                                    : std::string("0.0.0.0"))
                                        : e.addr;
  if (e.family == kFamilyInet6) {
    out += '[';
    out += a;
    out += ']';
  } else {
    out += a;
  }
  out += ':';
  AppendUint(out, e.port);
}

void AppendIso8601MicrosQuoted(std::string& out, uint64_t ts_ns) {
  char buf[34];
  buf[0] = '"';
  const size_t n = FormatIso8601MicrosTo(buf + 1, ts_ns);
  buf[n + 1] = '"';
  out.append(buf, n + 2);
}

// A view of the RFC 3339 text of ts_ns in buf, valid while buf lives.
std::string_view Rfc3339Ns(uint64_t ts_ns, char (&buf)[32]) {
  return std::string_view(buf, FormatRfc3339NsTo(buf, ts_ns));
}

bool IsProcessEvent(const Event& e) {
  return e.kind == EventKind::kProcessExec || e.kind == EventKind::kProcessExit ||
         e.kind == EventKind::kProcessFork;
}

// Wall-clock ns of a CLOCK_BOOTTIME instant, using the event's own clock pair.
uint64_t BootToWall(const Event& e, uint64_t boot_ns) {
  if (boot_ns == 0 || e.mono_ns == 0 || e.ts_ns < e.mono_ns) return 0;
  return e.ts_ns - e.mono_ns + boot_ns;
}

std::string EntityId(const HostFacts& h, int32_t pid, uint64_t start_ns) {
  std::string s = h.boot_id.empty() ? std::string() : h.boot_id + "/";
  AppendInt(s, pid);
  s += '/';
  AppendUint(s, start_ns);
  return s;
}

std::string CommandLine(const Event& e) {
  std::string s;
  for (size_t i = 0; i < e.argv.size(); ++i) {
    if (i) s += ' ';
    s += e.argv[i];
  }
  return s;
}

bool ValidIp(const std::string& addr, uint8_t family) {
  unsigned char buf[16];
  if (family == kFamilyInet6) return inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  return inet_pton(AF_INET, addr.c_str(), buf) == 1;
}

std::string ListenAddr(const Event& e) {
  if (!e.addr.empty()) return e.addr;
  return e.family == kFamilyInet6 ? "::" : "0.0.0.0";
}

}  // namespace

std::string_view TimestampDesc(EventKind k) {
  switch (k) {
    case EventKind::kProcessExec: return "Process Exec";
    case EventKind::kProcessExit: return "Process Exit";
    case EventKind::kProcessFork: return "Process Fork";
    case EventKind::kSocketBind: return "Socket Bind";
    case EventKind::kSocketListen: return "Socket Listen";
    case EventKind::kListenerClose: return "Listener Close";
    case EventKind::kUnitStart: return "Unit Start";
    case EventKind::kUnitStop: return "Unit Stop";
    case EventKind::kUnitFileChanged: return "Unit File Changed";
    case EventKind::kHostFacts: return "Host Facts Recorded";
    case EventKind::kGap: return "Events Lost";
    case EventKind::kResync: return "State Resync";
    case EventKind::kDaemonStart: return "Daemon Start";
    case EventKind::kDaemonStop: return "Daemon Stop";
    case EventKind::kTwinAction: return "Twin Action";
    case EventKind::kAudit: return "Log Audit";
    case EventKind::kRetention: return "Retention Applied";
    default: return "Event Recorded";
  }
}

void AppendMessage(const Event& e, std::string& out) {
  out += KindName(e.kind);
  switch (e.kind) {
    case EventKind::kProcessExec:
      out += " pid=";
      AppendInt(out, e.pid);
      out += " ppid=";
      AppendInt(out, e.ppid);
      out += " uid=";
      AppendUint(out, e.uid);
      out += ": ";
      if (e.argv.empty()) out += e.exe.empty() ? e.comm : e.exe;
      for (size_t i = 0; i < e.argv.size(); ++i) {
        if (i) out += ' ';
        out += e.argv[i];
      }
      if (e.argv_truncated) out += " [truncated]";
      if (e.exe_truncated) out += " [exe path truncated]";
      if (e.cwd_truncated) out += " [cwd truncated]";
      break;
    case EventKind::kProcessFork:
      out += " pid=";
      AppendInt(out, e.pid);
      out += " ppid=";
      AppendInt(out, e.ppid);
      out += ' ';
      out += e.comm;
      break;
    case EventKind::kProcessExit:
      out += " pid=";
      AppendInt(out, e.pid);
      out += ' ';
      out += e.comm;
      if (e.signal) {
        out += " killed by signal ";
        AppendInt(out, e.signal);
        if (e.core_dumped) out += " (core dumped)";
      } else {
        out += " exit code ";
        AppendInt(out, e.exit_code);
      }
      break;
    case EventKind::kSocketBind:
    case EventKind::kSocketListen:
    case EventKind::kListenerClose:
      out += ' ';
      AppendEndpoint(e, out);
      out += " pid=";
      AppendInt(out, e.pid);
      out += ' ';
      out += e.comm;
      if (e.kind == EventKind::kSocketBind && e.result != 0) {
        out += " failed (";
        AppendInt(out, e.result);
        out += ')';
      }
      break;
    case EventKind::kUnitStart:
    case EventKind::kUnitStop:
    case EventKind::kUnitFileChanged:
      out += ' ';
      out += e.unit;
      if (!e.unit_file_path.empty()) {
        out += " file ";
        out += e.unit_file_path;
      }
      if (!e.unit_file_sha256.empty()) {
        out += " sha256 ";
        out += e.unit_file_sha256;
      }
      break;
    case EventKind::kHostFacts:
      out += ' ';
      out += e.host.hostname;
      out += " kernel ";
      out += e.host.kernel;
      break;
    case EventKind::kGap:
      out += ": ";
      AppendUint(out, e.lost);
      out += " events lost between ";
      out += FormatRfc3339Ns(e.gap_start_ns);
      out += " and ";
      out += FormatRfc3339Ns(e.gap_end_ns);
      if (!e.reason.empty()) {
        out += ": ";
        out += e.reason;
      }
      break;
    case EventKind::kResync:
      out += ' ';
      out += ResyncOpText(e.resync_op);
      out += ' ';
      out += ResyncEntityText(e.resync_entity);
      if (e.resync_entity == ResyncEntity::kProcess) {
        out += " pid=";
        AppendInt(out, e.pid);
      } else if (e.resync_entity == ResyncEntity::kListener) {
        out += ' ';
        AppendEndpoint(e, out);
      } else if (e.resync_entity == ResyncEntity::kUnit) {
        out += ' ';
        out += e.unit;
      }
      break;
    default:
      if (!e.reason.empty()) {
        out += ": ";
        out += e.reason;
      }
      for (const auto& [k, v] : e.attrs) {
        out += ' ';
        out += k;
        out += '=';
        out += v;
      }
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Timesketch: message, datetime, timestamp_desc, timestamp (µs) + our event fields flattened.

namespace {

// Our event fields for Timesketch, flat, written straight into out (", \"k\":v" pairs): the
// same names as twin-replay's JSON (replay/render.cc) without its per-event snprintf.
void Key(std::string& out, std::string_view k) {  // our keys are plain ASCII names
  out += ",\"";
  out += k;
  out += "\":";
}
void Str(std::string& out, std::string_view k, std::string_view v) {
  Key(out, k);
  AppendJsonString(out, v);
}
void U(std::string& out, std::string_view k, uint64_t v) {
  Key(out, k);
  AppendUint(out, v);
}
void I(std::string& out, std::string_view k, int64_t v) {
  Key(out, k);
  AppendInt(out, v);
}
void B(std::string& out, std::string_view k, bool v) {
  Key(out, k);
  out += v ? "true" : "false";
}

void AppendEventFields(const EventKey& key, const Event& e, std::string& out) {
  Str(out, "kind", KindName(e.kind));
  U(out, "ts_ns", e.ts_ns);
  U(out, "seq", key.seq);
  if (e.mono_ns) U(out, "mono_ns", e.mono_ns);
  const bool proc = IsProcessEvent(e) || IsSocketEvent(e) ||
                    (e.kind == EventKind::kResync && e.resync_entity != ResyncEntity::kUnit);
  if (proc) {
    I(out, "pid", e.pid);
    U(out, "start_ns", e.start_ns);
    if (e.ppid) I(out, "ppid", e.ppid);
    if (e.parent_start_ns) U(out, "parent_start_ns", e.parent_start_ns);
    if (!e.comm.empty()) Str(out, "comm", e.comm);
  }
  if (e.kind == EventKind::kProcessExec || e.kind == EventKind::kProcessFork ||
      (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kProcess)) {
    U(out, "uid", e.uid);
    U(out, "gid", e.gid);
    Str(out, "exe", e.exe);
    Str(out, "cwd", e.cwd);
    out += ",\"argv\":[";
    for (size_t i = 0; i < e.argv.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, e.argv[i]);
    }
    out += ']';
    B(out, "argv_truncated", e.argv_truncated);
    // Present only when set: the leading components of the path are missing.
    if (e.exe_truncated) B(out, "exe_truncated", true);
    if (e.cwd_truncated) B(out, "cwd_truncated", true);
    Str(out, "cgroup", e.cgroup);
    if (!e.container_id.empty()) Str(out, "container_id", e.container_id);
  }
  if (!e.unit.empty()) Str(out, "unit", e.unit);
  if (e.kind == EventKind::kProcessExit) {
    I(out, "exit_code", e.exit_code);
    I(out, "signal", e.signal);
    B(out, "core_dumped", e.core_dumped);
    U(out, "duration_ns", e.duration_ns);
  }
  if (IsSocketEvent(e) || (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kListener)) {
    Str(out, "proto", ProtoName(e.proto));
    Str(out, "family", FamilyName(e.family));
    Str(out, "addr", e.addr);
    U(out, "port", e.port);
    if (e.sock_inode) U(out, "sock_inode", e.sock_inode);
    if (e.kind == EventKind::kSocketBind) I(out, "result", e.result);
  }
  if (e.kind == EventKind::kUnitStart || e.kind == EventKind::kUnitStop ||
      e.kind == EventKind::kUnitFileChanged ||
      (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kUnit)) {
    if (!e.cgroup.empty()) Str(out, "cgroup", e.cgroup);
    Str(out, "unit_file_path", e.unit_file_path);
    Str(out, "unit_file_sha256", e.unit_file_sha256);
    if (e.kind != EventKind::kUnitStop) Str(out, "unit_file_content", e.unit_file_content);
  }
  if (e.kind == EventKind::kHostFacts) {
    Str(out, "hostname", e.host.hostname);
    Str(out, "kernel", e.host.kernel);
    Str(out, "os", e.host.os);
    Str(out, "machine_id", e.host.machine_id);
    Str(out, "boot_id", e.host.boot_id);
    U(out, "cpus", e.host.cpus);
    U(out, "mem_bytes", e.host.mem_bytes);
  }
  if (e.kind == EventKind::kGap) {
    U(out, "gap_start_ns", e.gap_start_ns);
    U(out, "gap_end_ns", e.gap_end_ns);
    U(out, "lost", e.lost);
  }
  if (e.kind == EventKind::kResync) {
    Str(out, "op", ResyncOpText(e.resync_op));
    Str(out, "entity", ResyncEntityText(e.resync_entity));
  }
  if (!e.reason.empty()) Str(out, "reason", e.reason);
  if (!e.attrs.empty()) {
    out += ",\"attrs\":{";
    for (size_t i = 0; i < e.attrs.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(out, e.attrs[i].first);
      out += ':';
      AppendJsonString(out, e.attrs[i].second);
    }
    out += '}';
  }
}

class TimesketchFormatter : public LineFormatter {
 public:
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    msg_.clear();
    AppendMessage(e, msg_);
    out += "{\"message\":";
    AppendJsonString(out, msg_);
    out += ",\"datetime\":";
    AppendIso8601MicrosQuoted(out, e.ts_ns);
    out += ",\"timestamp_desc\":\"";
    out += TimestampDesc(e.kind);
    out += "\",\"timestamp\":";
    AppendUint(out, e.ts_ns / 1000);
    out += ",\"data_type\":\"safetytwin:event:";
    out += KindName(e.kind);
    out += "\",\"chain_hash\":\"";
    AppendHex(out, std::string_view(reinterpret_cast<const char*>(chain.data()), chain.size()));
    out += '"';
    AppendEventFields(key, e, out);
    out += "}\n";
  }

 private:
  std::string msg_;
};

// ---------------------------------------------------------------------------------------------
// ECS 8.x.

struct EcsClass {
  const char* category;
  const char* type;
};

EcsClass EcsClassOf(const Event& e) {
  switch (e.kind) {
    case EventKind::kProcessExec: return {"process", "start"};
    case EventKind::kProcessFork: return {"process", "start"};
    case EventKind::kProcessExit: return {"process", "end"};
    case EventKind::kSocketBind: return {"network", "info"};
    case EventKind::kSocketListen: return {"network", "start"};
    case EventKind::kListenerClose: return {"network", "end"};
    case EventKind::kUnitStart: return {"process", "start"};
    case EventKind::kUnitStop: return {"process", "end"};
    case EventKind::kUnitFileChanged: return {"configuration", "change"};
    case EventKind::kHostFacts: return {"host", "info"};
    case EventKind::kGap: return {"host", "info"};
    case EventKind::kResync:
      if (e.resync_entity == ResyncEntity::kListener) return {"network", "info"};
      if (e.resync_entity == ResyncEntity::kProcess) return {"process", "info"};
      return {"host", "info"};
    case EventKind::kDaemonStart: return {"process", "start"};
    case EventKind::kDaemonStop: return {"process", "end"};
    case EventKind::kTwinAction: return {"host", "change"};
    case EventKind::kAudit: return {"configuration", "access"};
    case EventKind::kRetention: return {"configuration", "deletion"};
    default: return {"host", "info"};
  }
}

void EcsHost(const HostFacts& h, JsonWriter& w) {
  w.Key("host").BeginObject();
  if (!h.hostname.empty()) w.Field("hostname", h.hostname).Field("name", h.hostname);
  if (!h.machine_id.empty()) w.Field("id", h.machine_id);
  w.Key("os").BeginObject().Field("type", "linux").Field("family", "linux");
  if (!h.kernel.empty()) w.Field("kernel", h.kernel);
  if (!h.os.empty()) w.Field("full", h.os);
  w.EndObject();
  if (!h.boot_id.empty()) w.Key("boot").BeginObject().Field("id", h.boot_id).EndObject();
  if (h.cpus) w.Key("cpu").BeginObject().FieldU("count", h.cpus).EndObject();
  w.EndObject();
}

class EcsFormatter : public LineFormatter {
 public:
  explicit EcsFormatter(const HostFacts& h) : host_(h) {}
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    if (e.kind == EventKind::kHostFacts) host_ = e.host;
    msg_.clear();
    AppendMessage(e, msg_);
    const EcsClass c = EcsClassOf(e);
    JsonWriter w(out);
    char tb[32];
    w.BeginObject()
        .Field("@timestamp", Rfc3339Ns(e.ts_ns, tb))
        .Field("message", msg_)
        .Key("ecs").BeginObject().Field("version", kEcsVersion).EndObject();
    w.Key("event").BeginObject().Field("kind", "event");
    w.Key("category").BeginArray().String(c.category).EndArray();
    w.Key("type").BeginArray().String(c.type).EndArray();
    w.Field("action", KindName(e.kind))
        .FieldU("sequence", key.seq)
        .Field("hash", HashHex(chain))
        .Field("module", "safetytwin")
        .Field("dataset", "safetytwin.events")
        .Field("provider", "twind");
    if (e.kind == EventKind::kSocketBind) w.Field("outcome", e.result == 0 ? "success" : "failure");
    w.EndObject();
    if (IsProcessEvent(e) || (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kProcess) ||
        IsSocketEvent(e) || (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kListener)) {
      Process(e, w);
    }
    if (IsSocketEvent(e) || (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kListener)) {
      const std::string addr = ListenAddr(e);
      w.Key("server").BeginObject();
      if (ValidIp(addr, e.family)) w.Field("ip", addr);
      w.Field("address", addr).FieldU("port", e.port).EndObject();
      w.Key("network").BeginObject().Field("transport", ProtoName(e.proto))
          .Field("type", FamilyName(e.family)).FieldU("iana_number", e.proto).EndObject();
    }
    if (e.kind == EventKind::kUnitStart || e.kind == EventKind::kUnitStop ||
        e.kind == EventKind::kUnitFileChanged ||
        (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kUnit)) {
      w.Key("service").BeginObject().Field("name", e.unit).Field("type", "systemd");
      w.Field("state", e.kind == EventKind::kUnitStop ? "stopped" : "running");
      w.EndObject();
      if (!e.unit_file_path.empty()) {
        w.Key("file").BeginObject().Field("path", e.unit_file_path);
        if (!e.unit_file_sha256.empty()) {
          w.Key("hash").BeginObject().Field("sha256", e.unit_file_sha256).EndObject();
        }
        w.EndObject();
      }
    } else if (!e.unit.empty()) {
      w.Key("service").BeginObject().Field("name", e.unit).Field("type", "systemd").EndObject();
    }
    if (!e.container_id.empty()) w.Key("container").BeginObject().Field("id", e.container_id).EndObject();
    EcsHost(host_, w);
    w.Key("labels").BeginObject().Field("safetytwin_kind", KindName(e.kind)).EndObject();
    // Everything else, losslessly, in our own namespace.
    w.Key("safetytwin");
    EventToJson(key, e, w);
    w.EndObject();
    out += '\n';
  }

 private:
  void Process(const Event& e, JsonWriter& w) {
    w.Key("process").BeginObject().FieldI("pid", e.pid);
    if (e.start_ns) w.Field("entity_id", EntityId(host_, e.pid, e.start_ns));
    if (!e.comm.empty()) w.Field("name", e.comm);
    if (!e.exe.empty()) w.Field("executable", e.exe);
    if (!e.argv.empty()) {
      w.Key("args").BeginArray();
      for (const auto& a : e.argv) w.String(a);
      w.EndArray().FieldU("args_count", e.argv.size()).Field("command_line", CommandLine(e));
    }
    if (!e.cwd.empty()) w.Field("working_directory", e.cwd);
    if (e.kind == EventKind::kProcessExec || e.kind == EventKind::kProcessFork ||
        e.kind == EventKind::kResync) {
      w.Key("user").BeginObject().Field("id", std::to_string(e.uid)).EndObject();
      w.Key("group").BeginObject().Field("id", std::to_string(e.gid)).EndObject();
    }
    if (e.ppid) {
      w.Key("parent").BeginObject().FieldI("pid", e.ppid);
      if (e.parent_start_ns) w.Field("entity_id", EntityId(host_, e.ppid, e.parent_start_ns));
      w.EndObject();
    }
    const uint64_t start = BootToWall(e, e.start_ns);
    char tb[32];
    if (start) w.Field("start", Rfc3339Ns(start, tb));
    if (e.kind == EventKind::kProcessExit) {
      w.Field("end", Rfc3339Ns(e.ts_ns, tb));
      w.FieldI("exit_code", e.signal ? 128 + e.signal : e.exit_code);
      if (e.duration_ns) w.FieldU("uptime", e.duration_ns / 1'000'000'000ull);
    }
    w.EndObject();
  }

  HostFacts host_;
  std::string msg_, body_;
};

// ---------------------------------------------------------------------------------------------
// OCSF 1.1: Process Activity (1007), Network Activity (4001), the rest as Base Event (0).

struct OcsfClass {
  int class_uid;
  const char* class_name;
  int category_uid;
  const char* category_name;
  int activity_id;
  const char* activity_name;
};

OcsfClass OcsfClassOf(const Event& e) {
  switch (e.kind) {
    case EventKind::kProcessExec:
    case EventKind::kProcessFork:
      return {1007, "Process Activity", 1, "System Activity", 1, "Launch"};
    case EventKind::kProcessExit:
      return {1007, "Process Activity", 1, "System Activity", 2, "Terminate"};
    case EventKind::kSocketBind:
      return {4001, "Network Activity", 4, "Network Activity", 1, "Open"};
    case EventKind::kSocketListen:
      return {4001, "Network Activity", 4, "Network Activity", 7, "Listen"};
    case EventKind::kListenerClose:
      return {4001, "Network Activity", 4, "Network Activity", 2, "Close"};
    default:
      return {0, "Base Event", 0, "Uncategorized", 99, "Other"};
  }
}

class OcsfFormatter : public LineFormatter {
 public:
  explicit OcsfFormatter(const HostFacts& h) : host_(h) {}
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    if (e.kind == EventKind::kHostFacts) host_ = e.host;
    const OcsfClass c = OcsfClassOf(e);
    msg_.clear();
    AppendMessage(e, msg_);
    const bool failed = e.kind == EventKind::kSocketBind && e.result != 0;
    const int severity = e.kind == EventKind::kGap ? 3 : 1;
    JsonWriter w(out);
    char tb[32];
    w.BeginObject()
        .FieldU("time", e.ts_ns / 1'000'000)
        .FieldI("class_uid", c.class_uid)
        .Field("class_name", c.class_name)
        .FieldI("category_uid", c.category_uid)
        .Field("category_name", c.category_name)
        .FieldI("activity_id", c.activity_id)
        .Field("activity_name", c.activity_name)
        .FieldI("type_uid", c.class_uid * 100 + c.activity_id)
        .Field("type_name", std::string(c.class_name) + ": " + c.activity_name)
        .FieldI("severity_id", severity)
        .Field("severity", severity == 3 ? "Medium" : "Informational")
        .FieldI("status_id", failed ? 2 : 1)
        .Field("status", failed ? "Failure" : "Success")
        .Field("message", msg_);
    w.Key("metadata").BeginObject().Field("version", kOcsfVersion)
        .Key("product").BeginObject().Field("name", "safetytwin").Field("vendor_name", "safetytwin")
        .Field("version", TWIN_VERSION).EndObject()
        .FieldU("sequence", key.seq)
        .Field("uid", KeyToString(key))
        .Field("original_time", Rfc3339Ns(e.ts_ns, tb))
        .Field("log_name", "safetytwin");
    w.Key("profiles").BeginArray().String("host").EndArray().EndObject();
    Device(w);
    if (c.class_uid == 1007) {
      // The actor of a launch is the parent; of a termination, the process itself.
      w.Key("actor").BeginObject().Key("process");
      if (e.kind == EventKind::kProcessExit) {
        Proc(e, w);
      } else {
        w.BeginObject().FieldI("pid", e.ppid);
        if (e.parent_start_ns) w.Field("uid", EntityId(host_, e.ppid, e.parent_start_ns));
        w.EndObject();
      }
      w.EndObject();
      w.Key("process");
      Proc(e, w);
      if (e.kind == EventKind::kProcessExit) w.FieldI("exit_code", e.signal ? 128 + e.signal : e.exit_code);
    } else if (c.class_uid == 4001) {
      const std::string addr = ListenAddr(e);
      for (const char* which : {"src_endpoint", "dst_endpoint"}) {
        w.Key(which).BeginObject();
        if (ValidIp(addr, e.family)) w.Field("ip", addr);
        w.FieldU("port", e.port).Field("hostname", host_.hostname).EndObject();
      }
      w.Key("connection_info").BeginObject().Field("protocol_name", ProtoName(e.proto))
          .FieldU("protocol_num", e.proto).FieldI("protocol_ver_id", e.family == kFamilyInet6 ? 6 : 4)
          .FieldI("direction_id", 1).Field("direction", "Inbound").EndObject();
      w.Key("actor").BeginObject().Key("process");
      Proc(e, w);
      w.EndObject();
      if (failed) w.Field("status_detail", "bind failed: " + std::to_string(e.result));
    }
    w.Key("unmapped").BeginObject().Field("chain_hash", HashHex(chain)).Key("event");
    EventToJson(key, e, w);
    w.EndObject();
    w.EndObject();
    out += '\n';
  }

 private:
  void Device(JsonWriter& w) {
    w.Key("device").BeginObject().FieldI("type_id", 0).Field("type", "Unknown");
    if (!host_.hostname.empty()) w.Field("hostname", host_.hostname);
    if (!host_.machine_id.empty()) w.Field("uid", host_.machine_id);
    w.Key("os").BeginObject().Field("name", host_.os.empty() ? std::string("Linux") : host_.os)
        .FieldI("type_id", 200).Field("type", "Linux");
    if (!host_.kernel.empty()) w.Field("version", host_.kernel);
    w.EndObject().EndObject();
  }
  void Proc(const Event& e, JsonWriter& w) {
    w.BeginObject().FieldI("pid", e.pid);
    if (e.start_ns) w.Field("uid", EntityId(host_, e.pid, e.start_ns));
    if (!e.comm.empty()) w.Field("name", e.comm);
    if (!e.argv.empty()) w.Field("cmd_line", CommandLine(e));
    if (!e.exe.empty()) {
      std::string_view exe = e.exe;
      size_t slash = exe.rfind('/');
      w.Key("file").BeginObject().Field("path", exe)
          .Field("name", slash == std::string_view::npos ? exe : exe.substr(slash + 1))
          .FieldI("type_id", 1).Field("type", "Regular File").EndObject();
    }
    if (e.kind == EventKind::kProcessExec || e.kind == EventKind::kProcessFork) {
      w.Key("user").BeginObject().Field("uid", std::to_string(e.uid)).EndObject();
    }
    if (e.ppid) {
      w.Key("parent_process").BeginObject().FieldI("pid", e.ppid);
      if (e.parent_start_ns) w.Field("uid", EntityId(host_, e.ppid, e.parent_start_ns));
      w.EndObject();
    }
    const uint64_t start = BootToWall(e, e.start_ns);
    if (start) w.FieldU("created_time", start / 1'000'000);
    if (e.kind == EventKind::kProcessExit) w.FieldU("terminated_time", e.ts_ns / 1'000'000);
    if (!e.container_id.empty()) w.Key("container").BeginObject().Field("uid", e.container_id).EndObject();
    w.EndObject();
  }

  HostFacts host_;
  std::string msg_, body_;
};

// ---------------------------------------------------------------------------------------------
// CSV.

constexpr uint32_t kCsvByteBase = 0x10FF00;

void AppendByteCodePoint(std::string& out, uint8_t b) {
  const uint32_t cp = kCsvByteBase + b;
  out += static_cast<char>(0xF0 | (cp >> 18));
  out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out += static_cast<char>(0x80 | (cp & 0x3F));
}

// Length of a valid UTF-8 sequence at s[i] whose code point is below U+10FF00, else 0.
size_t CsvUtf8Len(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]) < 0x80 ? 0 : ValidUtf8SeqLen(s, i, kCsvByteBase);
}

void CsvComma(std::string& out) { out += ','; }

class CsvFormatter : public LineFormatter {
 public:
  void Begin(std::string& out) override {
    out += CsvHeader();
    out += "\r\n";
  }
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    char tb[32];
    AppendCsvText(out, Rfc3339Ns(e.ts_ns, tb));
    CsvComma(out);
    AppendUint(out, e.ts_ns / 1000);
    CsvComma(out);
    AppendCsvText(out, KindName(e.kind));
    CsvComma(out);
    AppendUint(out, key.seq);
    CsvComma(out);
    AppendInt(out, e.pid);
    CsvComma(out);
    AppendInt(out, e.ppid);
    CsvComma(out);
    AppendUint(out, e.start_ns);
    CsvComma(out);
    AppendUint(out, e.uid);
    CsvComma(out);
    AppendUint(out, e.gid);
    CsvComma(out);
    AppendCsvText(out, e.comm);
    CsvComma(out);
    AppendCsvText(out, e.exe);
    CsvComma(out);
    AppendCsvText(out, e.cwd);
    CsvComma(out);
    tmp_.clear();
    JsonWriter w(tmp_);
    w.BeginArray();
    for (const auto& a : e.argv) w.String(a);
    w.EndArray();
    AppendCsvText(out, tmp_);
    CsvComma(out);
    AppendCsvText(out, e.unit);
    CsvComma(out);
    AppendCsvText(out, e.cgroup);
    CsvComma(out);
    AppendCsvText(out, e.container_id);
    CsvComma(out);
    AppendInt(out, e.exit_code);
    CsvComma(out);
    AppendInt(out, e.signal);
    CsvComma(out);
    AppendCsvText(out, e.proto ? ProtoName(e.proto) : std::string());
    CsvComma(out);
    AppendCsvText(out, e.family ? FamilyName(e.family) : std::string());
    CsvComma(out);
    AppendCsvText(out, e.addr);
    CsvComma(out);
    AppendUint(out, e.port);
    CsvComma(out);
    AppendInt(out, e.result);
    CsvComma(out);
    AppendCsvText(out, e.unit_file_path);
    CsvComma(out);
    AppendCsvText(out, e.unit_file_sha256);
    CsvComma(out);
    tmp_.clear();
    AppendMessage(e, tmp_);
    AppendCsvText(out, tmp_);
    CsvComma(out);
    AppendCsvText(out, HashHex(chain));
    out += "\r\n";
  }

 private:
  std::string tmp_;
};

}  // namespace

std::string_view CsvHeader() {
  return "time,timestamp_us,kind,seq,pid,ppid,start_ns,uid,gid,comm,exe,cwd,argv_json,unit,cgroup,"
         "container_id,exit_code,signal,proto,family,addr,port,result,unit_file_path,"
         "unit_file_sha256,message,chain_hash";
}

void AppendCsvText(std::string& out, std::string_view s) {
  out += '"';
  if (!s.empty()) {
    const char c0 = s[0];
    if (c0 == '=' || c0 == '+' || c0 == '-' || c0 == '@' || c0 == '\t' || c0 == '\r' || c0 == '\'') {
      out += '\'';
    }
  }
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == '"') {
      out += "\"\"";
      ++i;
    } else if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x80) {  // other control bytes and DEL
      AppendByteCodePoint(out, c);
      ++i;
    } else if (size_t n = CsvUtf8Len(s, i); n != 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      AppendByteCodePoint(out, c);
      ++i;
    }
  }
  out += '"';
}

std::string CsvUnescapeCell(std::string_view cell) {
  std::string out;
  size_t i = 0;
  if (!cell.empty() && cell[0] == '\'') i = 1;
  for (; i < cell.size(); ++i) {
    const auto c = static_cast<uint8_t>(cell[i]);
    if (c == 0xF4 && i + 3 < cell.size() && static_cast<uint8_t>(cell[i + 1]) == 0x8F &&
        (static_cast<uint8_t>(cell[i + 2]) & 0xFC) == 0xBC) {
      const uint32_t cp = (0x4u << 18) | (0x0Fu << 12) |
                          ((static_cast<uint8_t>(cell[i + 2]) & 0x3Fu) << 6) |
                          (static_cast<uint8_t>(cell[i + 3]) & 0x3Fu);
      if (cp >= kCsvByteBase) {
        out.push_back(static_cast<char>(cp - kCsvByteBase));
        i += 3;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::unique_ptr<LineFormatter> MakeFormatter(ExportFormat f, const HostFacts& host) {
  switch (f) {
    case ExportFormat::kTimesketch: return std::make_unique<TimesketchFormatter>();
    case ExportFormat::kEcs: return std::make_unique<EcsFormatter>(host);
    case ExportFormat::kOcsf: return std::make_unique<OcsfFormatter>(host);
    case ExportFormat::kCsv: return std::make_unique<CsvFormatter>();
  }
  return nullptr;
}

Result<ExportStats> ExportEvents(const EventLog& log, const ExportOptions& o, const ChunkSink& sink) {
  ExportStats st;
  auto fmt = MakeFormatter(o.format, o.host);
  std::string buf;
  buf.reserve(1 << 20);
  Sha256 out_sha;
  Status sink_status;
  auto flush = [&]() -> bool {
    if (buf.empty()) return true;
    out_sha.Update(buf);
    st.bytes += buf.size();
    sink_status = sink(buf);
    buf.clear();
    return sink_status.ok();
  };
  fmt->Begin(buf);
  Event e;
  Status failure;
  // Records are checked as verify checks them (FlatBuffers verifier and chain): an edited record
  // ends the export with its key instead of being exported as if it were good.
  Status s = log.ScanRecords({o.filter.since_ns, 0}, {o.filter.until_ns, UINT64_MAX},
                             [&](const EventKey& k, std::string_view record) {
    Status ds = DecodeEvent(record, &e);
    if (!ds.ok()) {
      failure = RecordCorruption(k, ds);
      return false;
    }
    if (!o.filter.Matches(e)) return true;
    // The record is a view into the stored value, right after its 32-byte chain hash.
    Hash chain;
    std::memcpy(chain.data(), record.data() - 32, 32);
    if (int n = o.redactor.Apply(e); n > 0) {
      ++st.redacted_events;
      st.redacted_args += n;
    }
    fmt->Line(k, e, chain, buf);
    ++st.events;
    const auto ki = static_cast<size_t>(e.kind);
    if (ki < st.per_kind.size()) ++st.per_kind[ki];
    if (buf.size() >= (1 << 20) && !flush()) return false;
    if (o.progress && (st.events & 0xFFFF) == 0) o.progress(st.events);
    return true;
  }, nullptr, /*check_chain=*/true);
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  if (!sink_status.ok()) return sink_status;
  if (!flush()) return sink_status;
  st.sha256 = out_sha.Final();
  return st;
}

}  // namespace twin
