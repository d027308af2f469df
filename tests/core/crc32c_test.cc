// RocksDB's CRC32C in our processes (eventlog/rocksdb_crc32c.cc): the same function as the
// library's own, the one the library actually uses, and a log written with it is accepted by
// the packaged RocksDB tools, which run the library's own CRC.
#include <dlfcn.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "eventlog/rocksdb_crc32c.h"
#include "test_util.h"
#include "tests/common/skip.h"

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
}

namespace twin {
namespace {

using testing::TempDir;

uint32_t Value(const std::string& s) { return rocksdb::crc32c::Extend(0, s.data(), s.size()); }

// RFC 3720 (iSCSI) B.4 test vectors, and the classic check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62a8ab43u);
  std::string up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Value(up), 0x46dd794eu);
  EXPECT_EQ(Value(down), 0x113fdb5cu);
}

TEST(Crc32c, SameAsTheLibrarysOwnOnRandomInput) {
  std::mt19937_64 rng(7);
  std::string buf(70000, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 3000; ++i) {
    const size_t off = rng() % 16;
    const size_t len = i < 300 ? static_cast<size_t>(i) : rng() % (buf.size() - off);
    const uint32_t init = i % 3 == 0 ? 0u : static_cast<uint32_t>(rng());
    ASSERT_EQ(rocksdb::crc32c::Extend(init, buf.data() + off, len),
              LibraryCrc32cExtend(init, buf.data() + off, len))
        << "offset " << off << " length " << len << " init " << init;
  }
  // Extending piecewise equals one pass, as RocksDB's record checksums rely on.
  const uint32_t whole = rocksdb::crc32c::Extend(0, buf.data(), 5000);
  const uint32_t head = rocksdb::crc32c::Extend(0, buf.data(), 1234);
  EXPECT_EQ(rocksdb::crc32c::Extend(head, buf.data() + 1234, 5000 - 1234), whole);
}

TEST(Crc32c, TheLibraryBindsToTheHardwareOne) {
#if defined(__x86_64__)
  TWIN_REQUIRE(__builtin_cpu_supports("sse4.2"), "this CPU has no SSE4.2");
  EXPECT_TRUE(RocksDbHardwareCrc32c())
      << "librocksdb does not bind rocksdb::crc32c::Extend to ours: is it exported "
         "(twin_eventlog's link options)?";
  void* bound = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
  void* library = dlsym(RTLD_NEXT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
  EXPECT_NE(bound, nullptr);
  EXPECT_NE(library, nullptr);
  EXPECT_NE(bound, library);
#else
  TWIN_REQUIRE(false, "hardware CRC32C is provided on x86-64 only");
#endif
}

// The binding proved by use: RocksDB's own writes (WAL records, the MANIFEST) reach our function.
// Fails if the library stops calling through its PLT (-Bsymbolic, LTO, a static build) even
// when the dlsym comparison above still agrees.
TEST(Crc32c, RocksDbWritesChecksumThroughOurFunction) {
#if defined(__x86_64__)
  TempDir t;
  const uint64_t before = OurCrc32cCalls();
  {
    auto log = EventLog::OpenWriter(t.sub("log"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE(log.value()->Append(testing::Synth(1000)).ok());
    ASSERT_TRUE(log.value()->Sync().ok());
  }
  const uint64_t during = OurCrc32cCalls() - before;
  EXPECT_GE(during, 2u) << "RocksDB wrote a WAL and a MANIFEST without one call to our CRC32C";
  // And a direct call is counted (the counter itself works).
  const uint64_t c0 = OurCrc32cCalls();
  (void)rocksdb::crc32c::Extend(0, "abc", 3);
  EXPECT_EQ(OurCrc32cCalls(), c0 + 1);
#else
  TWIN_REQUIRE(false, "hardware CRC32C is provided on x86-64 only");
#endif
}

std::string Shell(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> b;
  size_t n;
  while ((n = fread(b.data(), 1, b.size(), p)) > 0) out.append(b.data(), n);
  *status = pclose(p);
  return out;
}

// A log written here (WAL records and MANIFEST checksummed by our CRC; table blocks use XXH3)
// is opened by the packaged ldb, which checksums with the library's own table-driven CRC.
TEST(Crc32c, PackagedToolsAcceptWhatWeWrite) {
  TempDir t;
  const std::string dir = t.sub("log");
  const auto first = testing::Synth(30000, 3);
  const auto second = testing::Synth(20000, 4);
  {
    auto log = std::move(EventLog::OpenWriter(dir).value());
    ASSERT_TRUE(log->Append(first).ok());
  }
  {
    // Reopening replays the WAL (our checksums) and flushes it to a table file.
    auto log = std::move(EventLog::OpenWriter(dir).value());
    ASSERT_TRUE(log->Append(std::span(second).subspan(0, 10000)).ok());
    ASSERT_TRUE(log->Append(std::span(second).subspan(10000)).ok());
    ASSERT_TRUE(log->Sync().ok());
  }
  // ldb reads the MANIFEST and recovers the WAL of the second session (our record checksums);
  // a checksum it disagrees with fails the open (non-zero exit) or ends recovery early, losing
  // events. Its own exit status and every record line are checked, not a pipe's.
  int status = 0;
  const std::string out =
      Shell("ldb --db=" + dir + " --column_family=events scan --hex", &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "ldb status " << status << ": " << out;
  size_t records = 0;
  for (size_t pos = 0; pos < out.size();) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    const std::string_view line(out.data() + pos, nl - pos);
    if (line.starts_with("0x") && line.find(" : 0x") != std::string_view::npos) ++records;
    pos = nl + 1;
  }
  EXPECT_EQ(records, first.size() + second.size()) << out.substr(0, 2000);
}

}  // namespace
}  // namespace twin
