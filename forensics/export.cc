// The export driver (ExportEvents), the format names and the human message line; each format is
// a LineFormatter in its own file: export_timesketch.cc, export_ecs.cc, export_ocsf.cc,
// export_csv.cc.
#include "forensics/export_internal.h"

namespace twin {
using namespace export_detail;

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
    case EventKind::kFleet: return "Fleet Publisher";
    case EventKind::kPackage: return "Package Changed";
    case EventKind::kConfigFile: return "Config File Changed";
    case EventKind::kUser: return "User Changed";
    case EventKind::kGroup: return "Group Changed";
    case EventKind::kExeHash: return "Executable Hashed";
    case EventKind::kUnitConfig: return "Unit Config Changed";
    default: return "Event Recorded";
  }
}

namespace {
// " sha256 <hex>" or " hash <status>", then " [flags]".
void AppendIntegrity(const Event& e, std::string& out) {
  const std::string_view status = AttrOf(e, kAttrExeHash);
  if (status == "ok") {
    out += " sha256 ";
    out += AttrOf(e, kAttrExeSha256);
  } else if (!status.empty()) {
    out += " hash ";
    out += status;
  }
  const std::string_view flags = AttrOf(e, kAttrExeFlags);
  if (!flags.empty()) {
    out += " [";
    out += flags;
    out += ']';
  }
}
}  // namespace

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
      AppendIntegrity(e, out);
      break;
    case EventKind::kExeHash:
      out += " pid=";
      AppendInt(out, e.pid);
      out += ' ';
      out += e.exe;
      AppendIntegrity(e, out);
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
      out += ResyncOpName(e.resync_op);
      out += ' ';
      out += ResyncEntityName(e.resync_entity);
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

std::unique_ptr<LineFormatter> MakeFormatter(ExportFormat f, const HostFacts& host) {
  switch (f) {
    case ExportFormat::kTimesketch: return MakeTimesketchFormatter(host);
    case ExportFormat::kEcs: return MakeEcsFormatter(host);
    case ExportFormat::kOcsf: return MakeOcsfFormatter(host);
    case ExportFormat::kCsv: return MakeCsvFormatter();
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
