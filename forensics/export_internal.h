// Inside forensics/export: what the four formats share, and their factories. Included by the
// export_*.cc files only.
#pragma once

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <memory>

#include "eventlog/codec.h"
#include "eventlog/process_id.h"
#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "forensics/export.h"
#include "format/codec.h"
#include "format/json_writer.h"
#include "format/render.h"

#ifndef TWIN_VERSION
#define TWIN_VERSION "0.0.0"
#endif

namespace twin {
namespace export_detail {

inline void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}
inline void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr - buf);
}

inline void AppendEndpoint(const Event& e, std::string& out) {
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

inline void AppendIso8601MicrosQuoted(std::string& out, uint64_t ts_ns) {
  char buf[34];
  buf[0] = '"';
  const size_t n = FormatIso8601MicrosTo(buf + 1, ts_ns);
  buf[n + 1] = '"';
  out.append(buf, n + 2);
}

// A view of the RFC 3339 text of ts_ns in buf, valid while buf lives.
inline std::string_view Rfc3339Ns(uint64_t ts_ns, char (&buf)[32]) {
  return std::string_view(buf, FormatRfc3339NsTo(buf, ts_ns));
}

// The executable's SHA-256 the record carries ("" unless its exe_hash status is "ok"): exec and
// resync records when it was known in time, exe_hash records (docs/FORENSICS.md).
inline std::string_view ExeSha256(const Event& e) {
  return AttrOf(e, kAttrExeHash) == "ok" ? AttrOf(e, kAttrExeSha256) : std::string_view();
}

inline bool IsProcessEvent(const Event& e) {
  return e.kind == EventKind::kProcessExec || e.kind == EventKind::kProcessExit ||
         e.kind == EventKind::kProcessFork;
}

// Wall-clock ns of a CLOCK_BOOTTIME instant, using the event's own clock pair.
inline uint64_t BootToWall(const Event& e, uint64_t boot_ns) {
  if (boot_ns == 0 || e.boottime_ns == 0 || e.ts_ns < e.boottime_ns) return 0;
  return e.ts_ns - e.boottime_ns + boot_ns;
}

// The stable process id (eventlog/process_id.h) in the boot of h: ECS process.entity_id, OCSF
// process.uid, Timesketch process_id.
inline std::string EntityId(const HostFacts& h, int32_t pid, uint64_t start_ns) {
  return ProcessIdOf(h.boot_id, pid, start_ns);
}

inline std::string CommandLine(const Event& e) {
  std::string s;
  for (size_t i = 0; i < e.argv.size(); ++i) {
    if (i) s += ' ';
    s += e.argv[i];
  }
  return s;
}

inline bool ValidIp(const std::string& addr, uint8_t family) {
  unsigned char buf[16];
  if (family == kFamilyInet6) return inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  return inet_pton(AF_INET, addr.c_str(), buf) == 1;
}

inline std::string ListenAddr(const Event& e) {
  if (!e.addr.empty()) return e.addr;
  return e.family == kFamilyInet6 ? "::" : "0.0.0.0";
}

std::unique_ptr<LineFormatter> MakeTimesketchFormatter(const HostFacts& host);
std::unique_ptr<LineFormatter> MakeEcsFormatter(const HostFacts& host);
std::unique_ptr<LineFormatter> MakeOcsfFormatter(const HostFacts& host);
std::unique_ptr<LineFormatter> MakeCsvFormatter();

}  // namespace export_detail
}  // namespace twin
