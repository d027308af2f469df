#include "forensics/export_internal.h"

namespace twin::export_detail {

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

void AppendEventFields(const EventKey& key, const Event& e, const HostFacts& host, std::string& out) {
  Str(out, "kind", KindName(e.kind));
  U(out, "ts_ns", e.ts_ns);
  U(out, "seq", key.seq);
  if (e.boottime_ns) U(out, "mono_ns", e.boottime_ns);
  const bool proc = IsProcessEvent(e) || IsSocketEvent(e) || e.kind == EventKind::kExeHash ||
                    (e.kind == EventKind::kResync && e.resync_entity != ResyncEntity::kUnit);
  if (proc) {
    I(out, "pid", e.pid);
    U(out, "start_ns", e.start_ns);
    if (e.pid && e.start_ns) Str(out, "process_id", EntityId(host, e.pid, e.start_ns));
    if (e.ppid) I(out, "ppid", e.ppid);
    if (e.parent_start_ns) U(out, "parent_start_ns", e.parent_start_ns);
    if (e.ppid && e.parent_start_ns) Str(out, "parent_process_id", EntityId(host, e.ppid, e.parent_start_ns));
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
  if (e.kind == EventKind::kExeHash) Str(out, "exe", e.exe);
  // Executable integrity as Timesketch attributes of their own (also in attrs).
  if (const std::string_view st = AttrOf(e, kAttrExeHash); !st.empty()) {
    Str(out, "exe_hash", st);
    if (const std::string_view sha = ExeSha256(e); !sha.empty()) Str(out, "exe_sha256", sha);
    if (const std::string_view f = AttrOf(e, kAttrExeFlags); !f.empty()) Str(out, "exe_flags", f);
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
    Str(out, "op", ResyncOpName(e.resync_op));
    Str(out, "entity", ResyncEntityName(e.resync_entity));
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
  explicit TimesketchFormatter(const HostFacts& h) : host_(h) {}
  void Line(const EventKey& key, const Event& e, const Hash& chain, std::string& out) override {
    if (e.kind == EventKind::kHostFacts) host_ = e.host;
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
    AppendEventFields(key, e, host_, out);
    out += "}\n";
  }

 private:
  HostFacts host_;
  std::string msg_;
};

}  // namespace

std::unique_ptr<LineFormatter> MakeTimesketchFormatter(const HostFacts& host) {
  return std::make_unique<TimesketchFormatter>(host);
}

}  // namespace twin::export_detail
