// Runs a program with an argv vector (no shell: arguments may hold hostile bytes) and captures
// its exit code, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace twin::testing {

struct ArgvRun {
  int code = -1;
  std::string out, err;
};

inline ArgvRun RunArgv(std::vector<std::string> args) {
  char out_t[] = "/tmp/twin-run-out-XXXXXX", err_t[] = "/tmp/twin-run-err-XXXXXX";
  const int out_fd = mkstemp(out_t), err_fd = mkstemp(err_t);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  ArgvRun r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  close(out_fd);
  close(err_fd);
  auto slurp = [](const char* p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_t);
  r.err = slurp(err_t);
  unlink(out_t);
  unlink(err_t);
  return r;
}

}  // namespace twin::testing
