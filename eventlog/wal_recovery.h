// What an open of the log found missing: the WAL records RocksDB dropped while replaying
// (point-in-time recovery stops at the first damaged record and says so only in its info log)
// and the records the chain anchor vouched for that the log no longer holds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <rocksdb/env.h>

#include "eventlog/chain_anchor.h"
#include "eventlog/log.h"

namespace twin {

struct WalDrop {
  std::string file;  // base name, e.g. 000012.log
  uint64_t bytes = 0;
  std::string cause;
};

// Forwards RocksDB's messages to `inner` (at inner's level) and keeps every WAL drop it reports.
class RecoveryLogger : public rocksdb::Logger {
 public:
  explicit RecoveryLogger(std::shared_ptr<rocksdb::Logger> inner);
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  std::vector<WalDrop> drops() const;

 private:
  std::shared_ptr<rocksdb::Logger> inner_;
  mutable std::mutex mu_;
  std::vector<WalDrop> drops_;
};

// Hard links to every WAL of a dir, taken before a writer opens it: RocksDB deletes a WAL once
// its records are in a table, so without them the damaged file would be gone after the open.
class WalKeeper {
 public:
  static WalKeeper Link(const std::string& dir);
  // Keeps the links as dir/damaged-wal-<ns>; returns that path ("" if nothing was linked).
  std::string Keep();
  // Removes the links (the WALs were fine).
  void Discard();

 private:
  std::string dir_, keep_;
  bool linked_ = false;
};

struct LossReport {
  ChainHead log_head;                  // where the log ends now
  std::optional<AnchorRecord> anchor;  // what the anchor vouched for, if it was read
  uint64_t lost_records = 0;           // vouched for, not in the log
  bool anchor_mismatch = false;        // the record the anchor names is not the one it hashed
  std::vector<WalDrop> drops;
  std::string kept_dir;                // copies of the damaged WALs
  std::string anchor_problem;          // the anchor was missing or unreadable (end unchecked)
  uint64_t detected_ns = 0;
  // Anything at all: a missing record, or RocksDB dropping WAL bytes.
  bool any() const {
    return lost_records != 0 || anchor_mismatch || !drops.empty() || !anchor_problem.empty();
  }
  // Records the log had vouched for are gone (what verify fails on).
  bool vouched_lost() const { return lost_records != 0 || anchor_mismatch; }
  std::string Describe() const;  // one line, names the files and the numbers
  std::string ToJson() const;
  static std::optional<LossReport> FromJson(const std::string& s);
};

// "loss/" + EncodeKey(report.log_head.key): where the writer records a loss it found.
std::string LossMetaKey(const LossReport& r);
inline constexpr const char* kLossPrefix = "loss/";

}  // namespace twin

namespace twin {

// Compares the log as opened with its anchor. record_hash returns the chain hash stored with the
// record at a key (empty if there is none). Records before origin were deleted by retention.
LossReport AssessLoss(const ChainHead& head, const ChainHead& origin,
                      const std::optional<AnchorRecord>& anchor, std::vector<WalDrop> drops,
                      const std::function<std::optional<Hash>(const EventKey&)>& record_hash);

}  // namespace twin
