// The chain anchor: the log's head (key, count, hash) kept in a small file beside RocksDB's, so
// that a WAL cut or damaged after the fact cannot take the record of what it held with it
// (meta:chain_head lives in the same WAL as the events). The writer updates it after every
// written batch and syncs it with each group commit; readers read it before they open the log,
// so it never names more than what they will see unless records were lost.
//
// Format: two 512-byte slots, written alternately; each holds a generation, the head and a
// SHA-256 over both. The valid slot with the highest generation wins, so a torn write of one
// slot leaves the other.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "eventlog/log.h"
#include "eventlog/status.h"

namespace twin {

struct AnchorRecord {
  ChainHead head;
  uint64_t generation = 0;
  uint64_t written_ns = 0;
};

class ChainAnchor {
 public:
  // Opens (creating, 0600) dir/CHAIN_ANCHOR for writing; continues its generations.
  static Result<std::unique_ptr<ChainAnchor>> Open(const std::string& dir);
  // The newest valid record; empty when the file does not exist. kCorruption when the file
  // exists but neither slot is valid.
  static Result<std::optional<AnchorRecord>> Read(const std::string& dir);

  ~ChainAnchor();
  ChainAnchor(const ChainAnchor&) = delete;
  ChainAnchor& operator=(const ChainAnchor&) = delete;

  // Writes the head into the older slot (no sync). REQUIRES: one caller at a time.
  Status Update(const ChainHead& head);
  // fdatasync if anything was written since the last Sync. Thread-safe against Update.
  Status Sync();

 private:
  ChainAnchor(int fd, std::string path, uint64_t generation);
  int fd_;
  std::string path_;
  uint64_t generation_;
  std::atomic<bool> dirty_{false};
};

}  // namespace twin
