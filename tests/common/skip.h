// Capability skips for privileged and vm tests. In CI (.ci/run exports SAFETYTWIN_NO_SKIP=1)
// a skip is turned into a failure, so CI can never pass by skipping.
#pragma once

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace twin::testing {

inline bool SkipsAreFailures() {
  const char* v = std::getenv("SAFETYTWIN_NO_SKIP");
  return v != nullptr && std::string(v) != "" && std::string(v) != "0";
}

}  // namespace twin::testing

// Use at the top of a TEST body: TWIN_REQUIRE(geteuid() == 0, "needs root");
#define TWIN_REQUIRE(cond, reason)                                                  \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      if (::twin::testing::SkipsAreFailures()) {                                    \
        FAIL() << "capability missing and SAFETYTWIN_NO_SKIP is set: " << (reason); \
      } else {                                                                      \
        GTEST_SKIP() << (reason);                                                   \
      }                                                                             \
    }                                                                               \
  } while (0)
