#include "forensics/export_internal.h"

namespace twin::export_detail {

// ---------------------------------------------------------------------------------------------
// OCSF 1.1: Process Activity (1007), Network Activity (4001), the rest as Base Event (0).

namespace {

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
    case EventKind::kExeHash:  // the hash of a launch's executable, computed after it
      return {1007, "Process Activity", 1, "System Activity", 99, "Other"};
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
      if (e.kind == EventKind::kProcessExit || e.kind == EventKind::kExeHash) {
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
          .FieldI("type_id", 1).Field("type", "Regular File");
      if (const std::string_view sha = ExeSha256(e); !sha.empty()) {
        w.Key("hashes").BeginArray().BeginObject().FieldI("algorithm_id", 3)
            .Field("algorithm", "SHA-256").Field("value", sha).EndObject().EndArray();
      }
      w.EndObject();
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

}  // namespace

std::unique_ptr<LineFormatter> MakeOcsfFormatter(const HostFacts& host) {
  return std::make_unique<OcsfFormatter>(host);
}

}  // namespace twin::export_detail
