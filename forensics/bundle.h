// Case bundles: one ustar file that an investigator can verify offline, without the data dir.
//
// Members (in this order):
//   records.bin        the raw chain records of the range: "TWINREC1", then per record
//                      flags(1: bit0 = redacted) | key(16) | len(4, big-endian) | chain hash(32) |
//                      FlatBuffers event(len - 32)
//   events.jsonl       the same events as twin-replay JSON, one per line (redacted)
//   state_start.json/.snap, state_end.json/.snap   the state just before --since and at --until
//                      (.snap = FlatBuffers snapshot, so that verify-bundle can re-fold)
//   report.html        optional: `twin-replay report` of the range, redacted like events.jsonl
//                      (one self-contained page: open it in a browser, offline)
//   manifest.json      host identity, boot ids, range, versions, counts per kind, the chain
//                      anchors (hash and count before the first record, last hash), the seals in
//                      the range, what was redacted, and the SHA-256 of each member above
//   SHA256SUMS         `sha256sum -c` compatible, ending with a "# self-sha256" comment line
//
// Redacted records carry the redacted payload and their original chain hash: the chain is
// re-verified across every other record, and the manifest lists each redacted record's key and
// original payload SHA-256 so the full log can confirm it later.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/log.h"
#include "forensics/redact.h"
#include "forensics/seal.h"

namespace twin {

struct BundleOptions {
  uint64_t since_ns = 0;
  uint64_t until_ns = UINT64_MAX;
  Redactor redactor;
  std::string created_by;  // AuditWho()
  std::function<void(uint64_t records)> progress;
  // The report.html member (ui/report.h), made by the caller from the same range and redactor;
  // empty: none. Listed in the manifest and SHA256SUMS like every member.
  std::string report_html;
};

struct BundleStats {
  uint64_t records = 0;
  uint64_t redacted_records = 0;
  uint64_t seals = 0;
  uint64_t bytes = 0;
  std::string sums_sha256;  // SHA-256 of SHA256SUMS: commits to every member
};

Result<BundleStats> WriteBundle(const EventLog& log, const BundleOptions& o, const std::string& out_path);

struct BundleProblem {
  std::string file;  // the member (or "archive") at fault
  std::string what;
};

struct BundleReport {
  uint64_t records = 0;
  uint64_t chain_verified = 0;   // records whose chain hash was recomputed
  uint64_t redacted = 0;         // records carried with their stored chain hash only
  uint64_t seals = 0;
  uint64_t seals_matched = 0;    // seal head/count found in the records
  std::optional<SealCheck> macs; // with --key
  std::string first_key, last_key, last_hash, since, until;
  std::vector<BundleProblem> problems;
  std::vector<std::string> notes;
  bool ok() const { return problems.empty() && (!macs || macs->ok()); }
};

BundleReport VerifyBundle(const std::string& path, const VerificationKey* key);

}  // namespace twin
