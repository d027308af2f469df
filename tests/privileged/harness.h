// Shared helpers for the privileged capture tests: run the real twind binary against a temporary
// data dir, wait for READY over a private NOTIFY_SOCKET (as systemd would), read the log back.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "eventlog/log.h"
#include "tests/common/skip.h"

namespace twin::testing {

inline bool HaveBpf() { return geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0; }

#define TWIN_REQUIRE_BPF() TWIN_REQUIRE(::twin::testing::HaveBpf(), "needs root and kernel BTF (BPF capture)")

inline std::string MakeTempDir(const std::string& tag) {
  std::string tmpl = "/tmp/twin-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* d = mkdtemp(buf.data());
  return d ? std::string(d) : std::string();
}

// Runs twind --foreground on a temporary data dir.
class Twind {
 public:
  // log_path: where twind's stderr goes (default data_dir + ".log"); keep it off a filesystem
  // the test fills up.
  explicit Twind(std::string data_dir, std::string log_path = "")
      : data_dir_(std::move(data_dir)),
        log_path_(log_path.empty() ? data_dir_ + ".log" : std::move(log_path)) {}
  void set_config(std::string path) { config_ = std::move(path); }
  ~Twind() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (notify_fd_ >= 0) close(notify_fd_);
    if (!notify_path_.empty()) unlink(notify_path_.c_str());
  }

  // Starts twind and waits for READY=1. extra: further flags.
  ::testing::AssertionResult Start(std::vector<std::string> extra = {}, int timeout_s = 30) {
    notify_path_ = log_path_ + ".notify";
    unlink(notify_path_.c_str());
    if (notify_fd_ >= 0) close(notify_fd_);
    notify_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, notify_path_.c_str(), sizeof(sa.sun_path) - 1);
    if (bind(notify_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
      return ::testing::AssertionFailure() << "notify socket: " << strerror(errno);
    std::vector<std::string> args = {TWIND_BIN, "--foreground", "--data-dir", data_dir_,
                                     "--metrics-addr", "off", "--compact-interval", "1",
                                     "--config", config_, "--no-twin"};  // capture only
    for (auto& a : extra) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string env_notify = "NOTIFY_SOCKET=" + notify_path_;
    const std::string& log_path = log_path_;
    char* envp[] = {env_notify.data(), const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid_, TWIND_BIN, &fa, nullptr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return ::testing::AssertionFailure() << "spawn twind: " << strerror(rc);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      timeval tv{0, 200000};
      setsockopt(notify_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      char buf[4096];
      ssize_t n = recv(notify_fd_, buf, sizeof(buf) - 1, 0);
      if (n > 0) {
        buf[n] = 0;
        if (strstr(buf, "READY=1")) return ::testing::AssertionSuccess();
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "twind exited during start-up; log:\n" << Log();
      }
    }
    return ::testing::AssertionFailure() << "twind not ready in " << timeout_s << " s; log:\n" << Log();
  }

  // SIGTERM and wait; returns the exit status (or -1).
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  pid_t pid() const { return pid_; }
  std::string Log() const {
    std::string s;
    FILE* f = fopen(log_path_.c_str(), "r");
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
    fclose(f);
    return s;
  }
  const std::string& data_dir() const { return data_dir_; }

 private:
  std::string data_dir_;
  std::string log_path_;
  std::string config_ = "/dev/null";
  pid_t pid_ = -1;
  int notify_fd_ = -1;
  std::string notify_path_;
};

inline std::vector<KeyedEvent> ReadAll(const std::string& dir) {
  std::vector<KeyedEvent> out;
  auto log = EventLog::OpenReader(dir);
  if (!log.ok()) {
    ADD_FAILURE() << "open reader: " << log.status().ToString();
    return out;
  }
  Status s = (*log)->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    out.push_back({k, e});
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Polls the live log (a fresh read-only open each time) until pred finds an event.
inline std::optional<Event> WaitForEvent(const std::string& dir, const std::function<bool(const Event&)>& pred,
                                         int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  do {
    auto log = EventLog::OpenReader(dir);
    if (log.ok()) {
      std::optional<Event> found;
      (void)(*log)->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey&, const Event& e) {
        if (pred(e)) {
          found = e;
          return false;
        }
        return true;
      });
      if (found) return found;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

// Runs argv (execve, empty environment) in cwd as uid/gid; returns pid (not waited for).
inline pid_t SpawnAs(const std::vector<std::string>& args, const std::string& cwd, uid_t uid, gid_t gid) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(127);
    if (gid != static_cast<gid_t>(-1) && setgid(gid) != 0) _exit(127);
    if (uid != static_cast<uid_t>(-1) && setuid(uid) != 0) _exit(127);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  return pid;
}

inline int WaitStatus(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

inline std::string ReadText(const std::string& path) {
  std::string s;
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

// Start time of a live process as twind records it (ticks → ns).
inline uint64_t ProcStartNs(pid_t pid) {
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos) return 0;
  const char* p = stat.c_str() + rp + 2;
  for (int field = 3; field < 22 && *p; ++p)
    if (*p == ' ') ++field;
  long hz = sysconf(_SC_CLK_TCK);
  return strtoull(p, nullptr, 10) * (1000000000ull / static_cast<uint64_t>(hz));
}

inline std::string CgroupV2Of(pid_t pid) {
  std::string cg = ReadText("/proc/" + std::to_string(pid) + "/cgroup");
  size_t k = cg.find("0::");
  if (k == std::string::npos) return "/";
  size_t e = cg.find('\n', k);
  return cg.substr(k + 3, e - k - 3);
}

}  // namespace twin::testing

namespace twin::testing {

// (pid, start_ns) of every live, non-zombie process.
inline std::set<std::pair<pid_t, uint64_t>> ScanProcKeys() {
  std::set<std::pair<pid_t, uint64_t>> out;
  for (auto& de : std::filesystem::directory_iterator("/proc")) {
    const std::string n = de.path().filename().string();
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(n);
    std::string stat = ReadText("/proc/" + n + "/stat");
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 2 >= stat.size()) continue;
    if (stat[rp + 2] == 'Z' || stat[rp + 2] == 'X') continue;
    out.insert({pid, ProcStartNs(pid)});
  }
  return out;
}

// The state just before the final daemon-stop (which, by design, makes the state uncertain: nothing
// is observed after it). Other modules may append after it (twin actions), so search for it.
inline std::optional<State> FinalState(const std::string& dir) {
  auto log = EventLog::OpenReader(dir);
  if (!log.ok()) return std::nullopt;
  uint64_t t = UINT64_MAX;
  (void)(*log)->Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    if (e.kind == EventKind::kDaemonStop) t = k.ts_ns - 1;
    return true;
  });
  auto st = StateAt(**log, t);
  if (!st.ok()) return std::nullopt;
  return *st;
}

// The state the log ends with agrees with /proc: every process alive both before and after the
// daemon stopped is there with the same identity; none of `gone` (processes the test knows have
// exited) is.
inline void ExpectStateMatchesProc(const State& s, const std::set<std::pair<pid_t, uint64_t>>& before,
                                   const std::set<std::pair<pid_t, uint64_t>>& after, pid_t twind_pid,
                                   const std::function<bool(const Process&)>& gone) {
  int missing = 0;
  for (auto& k : before) {
    if (!after.count(k) || k.first == twind_pid) continue;
    if (!s.processes.count(ProcKey{k.first, k.second})) {
      if (++missing <= 5) {
        std::string other;
        for (auto& [pk, pp] : s.processes)
          if (pk.pid == k.first) other += " (state has start_ns " + std::to_string(pk.start_ns) + ")";
        ADD_FAILURE() << "live process missing from state: pid " << k.first << " start_ns "
                      << k.second << " comm "
                      << ReadText("/proc/" + std::to_string(k.first) + "/comm") << other;
      }
    }
  }
  EXPECT_EQ(missing, 0);
  int stale = 0;
  for (auto& [k, p] : s.processes) {
    if (gone(p) && ++stale <= 5) ADD_FAILURE() << "exited process still in state: pid " << k.pid;
  }
  EXPECT_EQ(stale, 0);
  EXPECT_FALSE(s.uncertain);
}

}  // namespace twin::testing
