// Runs a program with an explicit argv (posix_spawn, no shell: nothing is ever interpolated),
// optionally capturing stdout/stderr, with a wall-clock timeout.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace twin::vm {

struct ProcessResult {
  int exit_code = -1;   // exit status, or 128+signal
  std::string out;      // captured stdout (if capture)
  std::string err;      // captured stderr (if capture)
  double elapsed_ms = 0;
};

struct ProcessOptions {
  std::vector<std::string> env;  // extra "K=V" entries added to the current environment
  std::string stdout_file;       // if set, stdout+stderr go to this file instead of capture
  int timeout_ms = 0;            // 0 = no timeout; on expiry the child gets SIGKILL
  std::string cwd;
  const std::atomic<bool>* cancel = nullptr;  // when it becomes true the child is killed
};

// Fails only if the program could not be started or timed out; a non-zero exit is a result.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options = {});

}  // namespace twin::vm
