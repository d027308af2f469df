// Salvage of a data dir that cannot be opened: copy it, let RocksDB's repair rebuild what it can
// in the copy, verify the result and say what was lost. The original dir is only read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/log.h"

namespace twin {

// Records of the vouched chain the salvaged log lacks: sequence numbers first..last, between the
// salvaged records `after` and `before` (absent at either end of the log).
struct MissingRange {
  uint64_t first_seq = 0, last_seq = 0;
  std::optional<EventKey> after, before;
  uint64_t count() const { return last_seq - first_seq + 1; }
};

struct SalvageReport {
  std::string method;  // how the copy was made openable
  uint64_t files_copied = 0;
  uint64_t bytes_copied = 0;
  std::vector<std::string> unusable_files;  // tables the repair could not read (OUT/lost)
  std::vector<std::string> replayed_files;  // WALs and MANIFESTs it read and then moved to OUT/lost
  std::vector<MissingRange> missing_ranges; // where the records it lacks were (sequence gaps)
  uint64_t records = 0;                      // events in the salvaged log
  std::optional<EventKey> first, last;
  // What the original log had vouched for (the chain anchor / seals / head), when known.
  std::optional<uint64_t> expected_records;
  std::optional<EventKey> expected_last;
  VerifyReport verify;                       // of the salvaged log
  // Records the salvaged log lacks against what was vouched for (0 when unknown).
  uint64_t missing() const {
    return expected_records && *expected_records > records ? *expected_records - records : 0;
  }
};

// REQUIRES: out does not exist (or is an empty dir). src is never written.
Result<SalvageReport> SalvageLog(const std::string& src, const std::string& out);

}  // namespace twin
