// Runs `twin-replay vm ...` in this process (libvirt's test driver keeps its state per process)
// and captures what it prints.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "replay/vm_cmd.h"

namespace twin::testing {

inline int RunVmCli(std::vector<std::string> args, std::string* out) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  int rc = RunVmCommand(static_cast<int>(argv.size()), argv.data());
  *out = ::testing::internal::GetCapturedStdout();
  return rc;
}

}  // namespace twin::testing
