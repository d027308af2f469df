// RocksDB's CRC32C in this process (see rocksdb_crc32c.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace twin {

// True when RocksDB's checksums in this process run on the SSE4.2 crc32 instruction (our
// rocksdb::crc32c::Extend is the one the library binds to).
bool RocksDbHardwareCrc32c();

// How many checksums librocksdb has computed through our definition in this process.
uint64_t OurCrc32cCalls();

// librocksdb's own rocksdb::crc32c::Extend, bypassing ours (for tests).
uint32_t LibraryCrc32cExtend(uint32_t crc, const char* data, size_t n);

}  // namespace twin
