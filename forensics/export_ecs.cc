#include "forensics/export_internal.h"

namespace twin::export_detail {

// ---------------------------------------------------------------------------------------------
// ECS 8.x.

namespace {

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
    case EventKind::kFleet: return {"host", "info"};
    case EventKind::kExeHash: return {"process", "info"};
    case EventKind::kPackage: {
      const std::string_view op = AttrOf(e, "op");
      return {"package", op == "add" ? "installation" : op == "remove" ? "deletion" : "change"};
    }
    case EventKind::kConfigFile:
    case EventKind::kUnitConfig: {
      const std::string_view op = AttrOf(e, "op");
      return {"file", op == "add" ? "creation" : op == "remove" ? "deletion" : "change"};
    }
    case EventKind::kUser:
    case EventKind::kGroup: {
      const std::string_view op = AttrOf(e, "op");
      return {"iam", op == "add" ? "creation" : op == "remove" ? "deletion" : "change"};
    }
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
    if (IsProcessEvent(e) || e.kind == EventKind::kExeHash ||
        (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kProcess) ||
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
    if (const std::string_view sha = ExeSha256(e); !sha.empty())
      w.Key("hash").BeginObject().Field("sha256", sha).EndObject();
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

}  // namespace

std::unique_ptr<LineFormatter> MakeEcsFormatter(const HostFacts& host) {
  return std::make_unique<EcsFormatter>(host);
}

}  // namespace twin::export_detail
