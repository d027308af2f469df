// Decides, before RocksDB sees a data dir, whether it holds a log, nothing, or the remains of a
// log that cannot be opened. RocksDB's create_if_missing looks at CURRENT only: with CURRENT gone
// it writes a fresh CURRENT/MANIFEST over the old tables, and the next open deletes them as
// obsolete. This check runs first and never writes or deletes anything.
#pragma once

#include <string>
#include <vector>

#include "eventlog/status.h"

namespace twin {

// The file that says "safetytwin created a log here" (also the chain anchor, chain_anchor.h).
inline constexpr const char* kAnchorFileName = "CHAIN_ANCHOR";

struct DirInspection {
  bool exists = false;        // the dir itself
  bool has_current = false;   // RocksDB's CURRENT
  std::vector<std::string> traces;  // files that belong to a log (tables, WAL, MANIFEST, ...)
  bool fresh() const { return !has_current && traces.empty(); }
};

// Lists the dir (not recursive). Fails only when it cannot be read.
Result<DirInspection> InspectDataDir(const std::string& dir);

// OK when the dir holds an openable-looking log (CURRENT naming an existing MANIFEST) or, with
// allow_fresh, nothing of a log at all. Otherwise kCorruption naming what is missing and what to
// do; kNotFound when there is no log and !allow_fresh.
Status CheckLogDir(const std::string& dir, bool allow_fresh, DirInspection* out = nullptr);

// The one way a damaged log is reported: what is wrong (the real file, the key) and the next
// step. Appended to every corruption a reader or twind reports.
std::string CorruptionAdvice(const std::string& dir);

// RocksDB's refusal to open (or read) a log, said in terms of the files of `dir`: a table named
// with the wrong extension (RocksDB tries .ldb after .sst) is named as it is in the dir, and the
// advice is added.
Status ExplainRocksFailure(const std::string& dir, const std::string& what, bool corruption,
                           const std::string& rocks_message);

}  // namespace twin
