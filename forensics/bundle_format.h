// Inside forensics/bundle: the archive's layout shared by the writer (bundle_write.cc) and the
// offline verifier (bundle_verify.cc). records.bin holds "TWINREC1" then, per record, a kind
// byte, its 16-byte key, a big-endian length and the stored value (chain hash + record).
#pragma once

#include <cstdint>
#include <string>

#include "eventlog/state.h"
#include "format/json_writer.h"
#include "format/render.h"

#ifndef TWIN_VERSION
#define TWIN_VERSION "0.0.0"
#endif

namespace twin::bundle_detail {

inline constexpr char kMagic[] = "TWINREC1";
inline constexpr size_t kMagicLen = 8;
inline constexpr size_t kRecHeader = 1 + 16 + 4;
inline const char* const kDataMembers[] = {"records.bin", "events.jsonl", "state_start.json",
                                    "state_start.snap", "state_end.json", "state_end.snap"};
// Optional (bundles made before it have none): twin-replay report of the range.
inline constexpr char kReportMember[] = "report.html";

inline void PutBE32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}
inline uint32_t GetBE32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}

inline std::string StateJson(const State& s, uint64_t at) {
  std::string out;
  JsonWriter w(out);
  StateToJson(s, at, w);
  out += '\n';
  return out;
}

}  // namespace twin::bundle_detail
