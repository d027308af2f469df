// The TOML config loader (userspace/config.cc) on arbitrary files: never crashes, throws or
// hits undefined behaviour (UBSan catches float-to-int overflows); errors are Status values.
#include "userspace/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  twin::fuzz::MemFile f(data, size);
  twin::capture::DaemonConfig cfg;
  (void)twin::capture::LoadTomlConfig(f.path(), true, &cfg);
  return 0;
}
