// The tar reader and the case-bundle verifier on arbitrary archives: never crash, hang or
// read out of bounds; a listed member always lies inside the archive; a bundle that verifies
// has at least one record.
#include "forensics/bundle.h"
#include "forensics/tar.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace twin;
  fuzz::MemFile f(data, size);
  auto members = ListTar(f.path());
  if (members.ok()) {
    for (const auto& m : *members) {
      if (m.offset > size || m.size > size - m.offset) fuzz::Violated("member outside the archive");
    }
  }
  BundleReport rep = VerifyBundle(f.path(), nullptr);
  if (rep.ok() && !members.ok()) fuzz::Violated("a bundle verified whose tar does not list");
  return 0;
}
