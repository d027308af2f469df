// Exec storm: posix_spawn of /bin/true a fixed number of times, each waited for, and the rate.
// Usage: exec_storm COUNT [MARKER]   → prints {"count":N,"seconds":S,"rate":R}
// The marker goes into argv[1] so a capture tool's output can be checked for completeness.
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 5000;
  std::string marker = argc > 2 ? argv[2] : "exec-storm";
  char* envp[] = {nullptr};
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    char* args[] = {const_cast<char*>("/bin/true"), marker.data(), nullptr};
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, envp) != 0) {
      perror("posix_spawn");
      return 1;
    }
    int st;
    waitpid(pid, &st, 0);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("{\"count\":%ld,\"seconds\":%.6f,\"rate\":%.1f}\n", count, s, count / s);
  return 0;
}
