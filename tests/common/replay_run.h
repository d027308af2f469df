// Runs the real twin-replay binary (TWIN_REPLAY_BIN, set by the test target) and captures its
// exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/core/test_util.h"

namespace twin::testing {

struct CmdRun {
  int code = -1;
  std::string out, err;
};

inline std::string Slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// `args` is a shell fragment written by the test itself (never host data).
inline CmdRun Replay(const TempDir& t, const std::string& args) {
  const std::string o = t.sub("stdout"), e = t.sub("stderr");
  const std::string cmd = std::string(TWIN_REPLAY_BIN) + " " + args + " >" + o + " 2>" + e;
  int status = std::system(cmd.c_str());
  CmdRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(o);
  r.err = Slurp(e);
  return r;
}

}  // namespace twin::testing
