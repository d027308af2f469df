// ParseTime on arbitrary text. Properties: never crashes; every accepted time formats to an
// RFC 3339 string that parses back to the same instant; a canonical RFC 3339 input (what
// FormatRfc3339Ns prints) is accepted only as itself (no normalising Feb 31 into Mar 3).
#include <cstring>
#include <string>

#include "eventlog/timefmt.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace twin;
  uint64_t now = 1'764'126'727'000'000'000ull;  // the first 8 bytes, when present, are "now"
  if (size >= 8) {
    std::memcpy(&now, data, 8);
    data += 8;
    size -= 8;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = ParseTime(text, now);
  if (!r.ok()) return 0;
  const std::string canon = FormatRfc3339Ns(r.value());
  auto back = ParseTime(canon, 0);
  if (!back.ok() || back.value() != r.value()) fuzz::Violated("formatted time does not parse back");
  if (text.size() == 30 && text[10] == 'T' && text[19] == '.' && text[29] == 'Z' && text != canon) {
    fuzz::Violated("a canonical RFC 3339 time was taken as another instant");
  }
  return 0;
}
