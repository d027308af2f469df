// Hardware CRC32C for RocksDB's checksums.
//
// RocksDB checksums every WAL record (and its MANIFEST) with CRC32C through
// rocksdb::crc32c::Extend; table blocks use XXH3. Debian's librocksdb is a portable build: its
// Extend is a table-driven software loop, about a third of the CPU of each DB::Write of the event
// log (profiled: docs/BENCHMARKS.md). The library calls Extend through its PLT, so the definition
// below, exported from the executable, takes its place in this process: the same function
// (CRC-32C with the same pre- and post-conditioning, so every checksum is bit-identical and the
// files stay readable by any RocksDB build) computed with the SSE4.2 crc32 instruction. On a CPU
// without SSE4.2 it calls the library's own definition. tests/core/crc32c_test.cc compares the
// two on random input and has the packaged ldb open a log written here.
#include "eventlog/rocksdb_crc32c.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>

namespace twin {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

constexpr char kExtendSymbol[] = "_ZN7rocksdb6crc32c6ExtendEjPKcm";

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const char* p, size_t n) {
  uint64_t l = crc ^ 0xffffffffu;
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    l = _mm_crc32_u8(static_cast<uint32_t>(l), static_cast<uint8_t>(*p++));
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    l = _mm_crc32_u64(l, v);
    p += 8;
    n -= 8;
  }
  while (n != 0) {
    l = _mm_crc32_u8(static_cast<uint32_t>(l), static_cast<uint8_t>(*p++));
    --n;
  }
  return static_cast<uint32_t>(l) ^ 0xffffffffu;
}

ExtendFn LibraryExtend() {
  return reinterpret_cast<ExtendFn>(dlsym(RTLD_NEXT, kExtendSymbol));
}

// Chosen on first use: RocksDB may checksum during its own static initialisation, before
// libgcc's constructor has filled in the CPU model that __builtin_cpu_supports reads.
ExtendFn Chosen() {
  static const ExtendFn fn = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? ExtendSse42 : LibraryExtend();
  }();
  return fn;
}

// Calls that reached our definition: the proof that the library binds to it (a dlsym
// comparison cannot tell whether librocksdb's PLT really resolves here, e.g. under -Bsymbolic
// or LTO). One relaxed increment per WAL record or MANIFEST checksum.
std::atomic<uint64_t> g_calls{0};

}  // namespace
}  // namespace twin

namespace rocksdb::crc32c {
__attribute__((visibility("default"))) uint32_t Extend(uint32_t init_crc, const char* data,
                                                        size_t n) {
  twin::g_calls.fetch_add(1, std::memory_order_relaxed);
  return twin::Chosen()(init_crc, data, n);
}
}  // namespace rocksdb::crc32c

namespace twin {

bool RocksDbHardwareCrc32c() {
  // The library's PLT binds to the first definition in lookup order: ours only if the
  // executable exports it (twin_eventlog's link options).
  const void* bound = dlsym(RTLD_DEFAULT, kExtendSymbol);
  return Chosen() == ExtendSse42 &&
         bound == reinterpret_cast<const void*>(&rocksdb::crc32c::Extend);
}

uint64_t OurCrc32cCalls() { return g_calls.load(std::memory_order_relaxed); }

uint32_t LibraryCrc32cExtend(uint32_t crc, const char* data, size_t n) {
  static const ExtendFn fn = LibraryExtend();
  if (fn == nullptr) {
    std::fprintf(stderr, "librocksdb does not define %s\n", kExtendSymbol);
    std::abort();
  }
  return fn(crc, data, n);
}

}  // namespace twin

#else

namespace twin {
bool RocksDbHardwareCrc32c() { return false; }
uint64_t OurCrc32cCalls() { return 0; }
uint32_t LibraryCrc32cExtend(uint32_t crc, const char* data, size_t n) {
  using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);
  static const auto fn =
      reinterpret_cast<ExtendFn>(dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm"));
  return fn(crc, data, n);
}
}  // namespace twin

#endif
