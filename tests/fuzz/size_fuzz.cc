// twind's size, duration and log-level parsers on arbitrary text: they must never crash or
// throw, and a log level is either one of the names or an error.
#include <string>

#include "eventlog/timefmt.h"
#include "userspace/config.h"
#include "userspace/log_level.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace twin::capture;
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)ParseSize(text);
  (void)ParseDuration(text);
  auto lv = ParseLogLevel(text);
  if (lv.ok() && text != "trace" && text != "debug" && text != "info" && text != "warn" &&
      text != "error" && text != "critical" && text != "off") {
    twin::fuzz::Violated("ParseLogLevel accepted a name it does not list");
  }
  return 0;
}
