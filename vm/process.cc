#include "vm/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstring>
#include <map>

extern char** environ;

namespace twin::vm {
namespace {

std::vector<std::string> MergedEnv(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv;
  }
  for (const auto& kv : extra) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv;
  }
  std::vector<std::string> out;
  for (auto& [k, v] : env) out.push_back(v);
  return out;
}

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("RunProcess: empty argv");
  auto start = std::chrono::steady_clock::now();
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  bool capture = options.stdout_file.empty();
  if (capture) {
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
      return Status::IOError(std::string("pipe: ") + strerror(errno));
    }
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, options.stdout_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env_strings = MergedEnv(options.env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // twind blocks SIGTERM/SIGINT/SIGHUP in every thread (it takes them with sigwait) and a
  // caller may ignore SIGPIPE; a child inherits both, so ansible-playbook or qemu-img would
  // ignore a stop request. Start every child with an empty mask and default dispositions.
  sigset_t def;
  sigemptyset(&def);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2}) {
    sigaddset(&def, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &def);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (capture) {
    close(out_pipe[1]);
    close(err_pipe[1]);
  }
  if (rc != 0) {
    if (capture) {
      close(out_pipe[0]);
      close(err_pipe[0]);
    }
    return Status::IOError("cannot start " + argv[0] + ": " + strerror(rc));
  }
  ProcessResult res;
  bool timed_out = false;
  auto deadline = start + std::chrono::milliseconds(options.timeout_ms);
  if (capture) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
      int wait_ms = -1;
      if (options.timeout_ms > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
          timed_out = true;
          break;
        }
        wait_ms = static_cast<int>(left);
      }
      if (options.cancel) {
        if (options.cancel->load()) {
          timed_out = true;
          break;
        }
        wait_ms = wait_ms < 0 ? 200 : std::min(wait_ms, 200);
      }
      int n = poll(fds, 2, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t r = read(fds[i].fd, buf, sizeof(buf));
        if (r > 0) {
          (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(r));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    for (auto& f : fds) {
      if (f.fd >= 0) close(f.fd);
    }
  }
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, (options.timeout_ms > 0 || options.cancel) ? WNOHANG : 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return Status::IOError("waitpid failed");
    if (w == 0) {
      bool cancelled = options.cancel && options.cancel->load();
      if (timed_out || cancelled ||
          (options.timeout_ms > 0 && std::chrono::steady_clock::now() > deadline)) {
        timed_out = true;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      usleep(5000);
    }
  }
  res.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start)
                       .count();
  if (timed_out) {
    return Status::Unavailable(argv[0] + " timed out after " +
                               std::to_string(options.timeout_ms) + " ms");
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

}  // namespace twin::vm
