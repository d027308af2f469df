// TwindMain: flags → config → logging → (daemonize) → RunDaemon. Kept apart from the daemon loop so
// that the loop stays testable and main() stays one line.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "userspace/daemon.h"
#include "forensics/audit.h"
#include "forensics/seal.h"
#include "vm/twin_sync.h"
#include "fleet/publisher.h"

namespace twin::capture {
namespace {

std::shared_ptr<spdlog::logger> MakeLogger(const DaemonConfig& cfg, const std::string& file) {
  std::shared_ptr<spdlog::logger> log;
  if (!file.empty()) {
    log = spdlog::basic_logger_mt("twind", file);
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
  } else {
    log = spdlog::stderr_logger_mt("twind");
    // journald adds its own timestamps; plain stderr gets ours.
    if (cfg.journal_stream) log->set_pattern("<%l> %v");
    else log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
  }
  log->set_level(cfg.log_level);
  log->flush_on(spdlog::level::info);
  return log;
}

// The twin's options from the config ([twin] and the environment, read by ParseCommandLine).
// Under systemd the unit's CacheDirectory= (exported as $CACHE_DIRECTORY) holds the Ansible run
// bundles: the only writable place the sandbox gives us besides the data dir and the overlay root.
vm::TwinOptions TwinOptionsFor(const DaemonConfig& cfg) {
  vm::TwinOptions o;
  static_cast<vm::TwinSettings&>(o) = cfg.twin;
  if (!cfg.cache_directory.empty()) o.work_dir = cfg.cache_directory + "/ansible";
  o.host_config = cfg.host_config.enabled && cfg.host_config.twin;
  return o;
}

}  // namespace

// The modules that ride on the daemon: the twin VM driver, forward-secure sealing, retention.
DaemonHooks MakeHooks(const DaemonConfig& cfg, std::shared_ptr<spdlog::logger> log) {
  struct FleetLog {
    // The publisher's fleet events go to the log while it is open; a few wait across a reopen.
    std::mutex mu;
    EventLog* log = nullptr;
    std::vector<Event> waiting;
  };
  struct Shared {
    std::unique_ptr<vm::TwinSync> twin_sync;
    std::unique_ptr<ForwardSecureSealer> sealer;
    uint64_t next_retention_ns = 0;
    std::shared_ptr<FleetLog> fleet_log = std::make_shared<FleetLog>();
    bool fleet_started = false;
    std::unique_ptr<fleet::Publisher> publisher;  // last member: stops (and revokes) first
  };
  auto sh = std::make_shared<Shared>();
  sh->sealer = std::make_unique<ForwardSecureSealer>(cfg.data_dir);
  if (cfg.fleet.enabled()) {
    auto fl = sh->fleet_log;
    auto sink = [fl, log](Event e) {
      std::string attrs;
      for (const auto& [k, v] : e.attrs) attrs += " " + k + "=" + v;
      const bool bad = !e.attrs.empty() && e.attrs[0].second != "connected" && e.attrs[0].second != "caught_up";
      log->log(bad ? spdlog::level::warn : spdlog::level::info, "fleet:{}", LogEscape(attrs));
      std::lock_guard<std::mutex> lock(fl->mu);
      if (fl->log) {
        fl->log->Append(e).status().IgnoreError();  // best effort: the log may itself be down
      } else if (fl->waiting.size() < 32) {
        fl->waiting.push_back(std::move(e));
      }
    };
    sh->publisher = std::make_unique<fleet::Publisher>(
        cfg.fleet, fleet::ReadLocalIdentity(cfg.fleet.host_id), std::move(sink), TWIN_VERSION);
  }
  DaemonHooks h;
  h.on_open = [sh, cfg, log](EventLog& elog) {
    if (sh->publisher) {
      {
        std::lock_guard<std::mutex> lock(sh->fleet_log->mu);
        sh->fleet_log->log = &elog;
        for (const Event& e : sh->fleet_log->waiting) elog.Append(e).status().IgnoreError();
        sh->fleet_log->waiting.clear();
      }
      if (!sh->fleet_started) {
        sh->fleet_started = true;
        if (Status s = sh->publisher->Start(); !s.ok()) {
          // Kept (not started): the metrics thread may read its stats at any time.
          log->error("fleet publisher not started: {}", s.ToString());
        } else {
          log->info("fleet publisher started: host {} -> {} etcd endpoint(s)",
                    LogEscape(sh->publisher->identity().host_id), cfg.fleet.endpoints.size());
        }
      }
    }
    if (!sh->sealer->enabled()) {
      log->warn("no forward-secure seal key in {}: run 'twin-replay setup-keys' to enable sealing",
                cfg.data_dir);
    }
    if (cfg.no_twin) {
      log->info("twin VM disabled (--no-twin)");
      return;
    }
    sh->twin_sync = std::make_unique<vm::TwinSync>(TwinOptionsFor(cfg), &elog);
    sh->twin_sync->Start();
    log->info("twin VM sync started (failures are logged as twin events and retried)");
  };
  h.on_snapshot = [sh](const Snapshot& snap) {
    if (sh->twin_sync) sh->twin_sync->OnSnapshot(snap);
    // The digest is cut here (units and listeners only) and handed over; etcd is never waited on.
    if (sh->publisher) sh->publisher->OfferState(snap.state);
  };
  h.after_compaction = [sh, cfg, log](EventLog& elog, uint64_t now_ns) {
    if (Status s = sh->sealer->MaybeSeal(elog, now_ns); !s.ok()) {
      log->error("forward-secure seal failed: {}", s.ToString());
    }
    // Exports and bundles made while twind holds the log leave their audit records in a spool.
    if (auto n = IngestAuditSpool(elog, cfg.data_dir); !n.ok()) {
      log->error("audit spool: {}", n.status().ToString());
    }
    if ((cfg.retention_max_age_ns || cfg.retention_max_bytes) && now_ns >= sh->next_retention_ns) {
      sh->next_retention_ns = now_ns + 60ull * 1000000000;  // at most once a minute
      auto r = elog.ApplyRetention(cfg.retention_max_age_ns, cfg.retention_max_bytes, now_ns);
      if (!r.ok()) {
        log->error("retention failed: {}", r.status().ToString());
      } else if (r.value() > 0) {
        log->info("retention removed {} events older than the cut snapshot", r.value());
      }
    }
  };
  if (sh->publisher) {
    h.metrics = [sh] { return fleet::PrometheusText(sh->publisher->stats()); };
  }
  h.on_close = [sh]() {
    if (sh->twin_sync) sh->twin_sync->Stop();
    sh->twin_sync.reset();
    std::lock_guard<std::mutex> lock(sh->fleet_log->mu);
    sh->fleet_log->log = nullptr;
  };
  return h;
}

namespace {

// Forks into the background: the parent waits on the pipe for the child's "ready" and returns its
// exit code; the child (a new session, umask 077, stdio on /dev/null, the log in the data dir
// unless --log-file) returns -1 with *ready_fd set to the pipe's write end.
int Daemonize(DaemonConfig& cfg, int* ready_fd) {
  int ready_pipe[2] = {-1, -1};
  if (pipe2(ready_pipe, O_CLOEXEC) != 0) {
    perror("twind: pipe");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("twind: fork");
    return 1;
  }
  if (pid > 0) {
    close(ready_pipe[1]);
    char c = 0;
    ssize_t n = read(ready_pipe[0], &c, 1);
    if (n == 1 && c == '1') return 0;
    fprintf(stderr, "twind: start-up failed; see %s\n",
            (cfg.log_file.empty() ? cfg.data_dir + "/twind.log" : cfg.log_file).c_str());
    return 1;
  }
  close(ready_pipe[0]);
  setsid();
  if (fork() > 0) _exit(0);
  umask(077);
  int devnull = open("/dev/null", O_RDWR);
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  if (devnull > 2) close(devnull);
  if (cfg.log_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    chmod(cfg.data_dir.c_str(), 0700);
    cfg.log_file = cfg.data_dir + "/twind.log";
  }
  *ready_fd = ready_pipe[1];
  return -1;
}

void WritePidFile(const std::string& path) {
  if (path.empty()) return;
  if (FILE* f = fopen(path.c_str(), "w")) {
    fprintf(f, "%d\n", getpid());
    fclose(f);
  }
}

}  // namespace

int TwindMain(int argc, char** argv) {
  DaemonConfig cfg;
  int rc = ParseCommandLine(argc, argv, &cfg);
  if (rc >= 0) return rc;
  if (cfg.check) return RunCheck(cfg);
  if (geteuid() != 0) {
    fprintf(stderr, "twind: must run as root (loads BPF programs); from a root shell, try: twind --check\n");
    return 1;
  }
  // Under systemd (Type=notify) or with --foreground we stay put; otherwise daemonize and let the
  // parent exit only once the child reports ready, so `twind && next-step` works.
  const bool stay = cfg.foreground || cfg.under_systemd;
  int ready_fd = -1;
  if (!stay && (rc = Daemonize(cfg, &ready_fd)) >= 0) return rc;
  auto log = MakeLogger(cfg, stay ? std::string() : cfg.log_file);
  WritePidFile(cfg.pid_file);
  ReadyFn ready = [ready_fd](bool ok) {
    if (ready_fd < 0) return;
    char c = ok ? '1' : '0';
    (void)!write(ready_fd, &c, 1);
    close(ready_fd);
  };
  rc = RunDaemon(cfg, log, MakeHooks(cfg, log), ready);
  if (!cfg.pid_file.empty()) unlink(cfg.pid_file.c_str());
  return rc;
}

}  // namespace twin::capture
