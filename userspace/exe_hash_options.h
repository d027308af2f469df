// twind's [exe_hash] settings: executable hashing (userspace/exe_hash.h, docs/OPERATIONS.md).
#pragma once

#include <cstdint>
#include <string>

namespace twin::capture {

struct ExeHashOptions {
  bool enabled = true;
  uint64_t max_file_bytes = 256ull << 20;  // bigger executables: exe_hash=too_large, not read
  uint32_t queue = 256;                    // execs waiting for the worker; more: queue_full
  uint32_t cache_entries = 4096;           // distinct executables remembered
  std::string dpkg_dir;                    // for "unpackaged"; "" = [host_config] dpkg_dir
};

}  // namespace twin::capture
