#include "userspace/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "bpf/events.h"
#include "eventlog/compactor.h"
#include "eventlog/rocksdb_crc32c.h"
#include "eventlog/wal_recovery.h"
#include "userspace/cgroup_names.h"
#include "userspace/clock.h"
#include "userspace/decode.h"
#include "userspace/daemon_metrics.h"
#include "userspace/disk_guard.h"
#include "userspace/event_queue.h"
#include "userspace/exe_hash.h"
#include "userspace/host_config.h"
#include "userspace/host_config_watch.h"
#include "userspace/metrics.h"
#include "userspace/probes.h"
#include "eventlog/chain.h"
#include "userspace/host_facts.h"
#include "userspace/listener_scan.h"
#include "userspace/proc_read.h"
#include "userspace/process_scan.h"
#include "userspace/unit_scan.h"
#include "userspace/reconcile.h"
#include "userspace/sd_notify.h"
#include "userspace/systemd_watch.h"
#include "userspace/unit_tracker.h"

namespace twin::capture {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

// The gap for records the log lost while twind was down (a cut or damaged WAL): from the last
// record that survived to the last one the chain anchor vouched for.
Event LossGap(const LossReport& loss, uint64_t now_ns) {
  Event g;
  g.kind = EventKind::kGap;
  g.ts_ns = now_ns;
  g.gap_start_ns = loss.log_head.key.ts_ns;
  g.gap_end_ns = loss.anchor && loss.anchor->head.key.ts_ns > g.gap_start_ns
                     ? std::min(loss.anchor->head.key.ts_ns, now_ns)
                     : g.gap_start_ns;
  g.lost = loss.lost_records;
  g.reason = "log damaged: " + loss.Describe();
  uint64_t dropped = 0;
  std::string files;
  for (const auto& d : loss.drops) {
    dropped += d.bytes;
    files += (files.empty() ? "" : ",") + d.file;
  }
  g.attrs = {{"lost_records", std::to_string(loss.lost_records)},
             {"wal_bytes_dropped", std::to_string(dropped)},
             {"wal_files", files},
             {"kept_dir", loss.kept_dir}};
  if (!loss.anchor_problem.empty()) g.attrs.push_back({"lost_count", "unknown"});
  return g;
}

class Daemon {
 public:
  Daemon(const DaemonConfig& cfg, std::shared_ptr<spdlog::logger> log, DaemonHooks hooks,
         ReadyFn ready)
      : cfg_(cfg), log_(std::move(log)), hooks_(std::move(hooks)), ready_(std::move(ready)),
        queue_(cfg.queue_capacity) {}

  int Run();
  std::string RenderMetrics();

 private:
  Status Start();
  void ReaderLoop();
  void WriterLoop();
  // The records of what the hooks captured (writer thread, or before it starts).
  void ToRecords(std::vector<Decoded>& in, std::vector<Event>* batch);
  // Appends a batch, folds it into live_ and counts it. Returns false if the log refused it.
  bool Write(std::vector<Event>& batch);
  void HandleCgroup(const CgroupChange& c, std::vector<Event>* out);
  void EnrichUnit(Event* e);
  void CheckDrops(std::vector<Event>* out);
  // Compares live_ with /proc and the cgroup tree; writes corrections as resync events and a
  // kComplete when anything changed or the state was uncertain.
  void Reconcile(uint64_t grace_ns, bool always_complete, const char* why);
  // A binary deleted after its exec was hashed: the scan's "(deleted)" exe links of processes
  // whose integrity does not say so yet become exe_hash records with the flag added.
  void NoticeDeletedExes(const std::vector<ProcessBrief>& scan, const Event& at);
  // Processes in the state whose executable was never hashed (found by a resync: they were
  // running before twind, or their exec fell in a gap): one hash job each, once.
  void HashUnhashed();
  std::set<ProcKey> hash_asked_;  // (pid, start) handed to HashUnhashed's jobs
  void Compact();
  // Packages, config files, users and groups: scans what is asked (files also when dpkg is, for
  // the package md5s), writes the contents to store, then the events. Writer thread.
  void ScanHostConfig(bool dpkg, bool files, const char* via);
  // The writer loop's part: inotify hints, debounced into a scan.
  void PollHostConfig();
  Event Stamp(Event e) {
    uint64_t boot = BoottimeNs();
    e.boottime_ns = boot;
    e.ts_ns = clock_.ToWall(boot);
    return e;
  }
  uint64_t DropTotal(const DropTable& t) const {
    uint64_t n = 0;
    for (const auto& row : t)
      for (uint64_t v : row) n += v;
    return n;
  }

  DaemonConfig cfg_;
  std::shared_ptr<spdlog::logger> log_;
  DaemonHooks hooks_;
  ReadyFn ready_;
  EventQueue queue_;
  DaemonCounters ctr_;
  ClockOffset clock_;
  DecodeContext dctx_;
  std::unique_ptr<EventLog> elog_;
  std::unique_ptr<Compactor> compactor_;
  std::unique_ptr<Probes> probes_;
  MetricsServer metrics_;
  State live_;  // the fold of everything this writer appended (writer thread only)
  uint64_t seq_hint_ = 0;
  UnitCgroupTracker units_;  // which hierarchies hold each unit's cgroup
  DropTable last_drops_;
  uint64_t last_queue_drops_ = 0;
  uint64_t last_drop_check_wall_ = 0;
  uint64_t prev_last_ts_ = 0;  // the last record of the previous run (0: a new log)
  bool prev_clean_ = false;    // whether that record is a daemon_stop
  Event boot_stamp_;           // taken just before the probes attach
  HostFacts boot_facts_;
  std::mutex drops_mu_;
  DropTable drops_snapshot_;  // for metrics
  CgroupRoots roots_;
  std::atomic<bool> reader_stop_{false};
  std::atomic<bool> capture_stopped_{false};  // the hooks are detached: drain and stop
  SystemdWatcher bus_watch_;  // only when systemd is PID 1
  std::mutex hints_mu_;
  std::vector<UnitSignal> hints_;  // from bus_watch_, consumed by the writer
  // A write outage: from the first write that failed (or the low-disk stop) until the log takes
  // writes again. Events keep coming off the ring buffer and are counted, not written; the gap
  // written when the outage ends carries the window and the count.
  struct Outage {
    bool active = false;
    bool low_disk = false;   // stopped on purpose, before ENOSPC (an open gap was written)
    bool log_failed = false; // the log refused a write: it must be reopened
    uint64_t since_ns = 0;   // the last record known to be written (the window's start)
    uint64_t unwritten = 0;  // events that reached the writer and were not written
    std::string cause;
    Clock::time_point next_complaint{};
  };
  void BeginOutage(const std::string& cause, uint64_t since_ns, uint64_t unwritten, bool low_disk);
  // Ends the outage if the disk has room and the log takes writes (reopened if it had failed):
  // writes the gap, resyncs from /proc. Returns whether writing works.
  // At a stop a low-disk stop ends even below the resume threshold (at_stop).
  bool TryEndOutage(const char* why, bool at_stop = false);
  Status ReopenLog();
  void CheckDisk();
  Outage outage_;
  std::unique_ptr<ConfigScanner> hc_;  // null when [host_config] enabled = false
  std::unique_ptr<ExeHasher> hasher_;  // null when [exe_hash] enabled = false
  HostConfigWatch hc_watch_;
  bool hc_dirty_dpkg_ = false, hc_dirty_files_ = false;
  Clock::time_point hc_first_dirty_{}, hc_last_hint_{}, hc_next_files_scan_{};
  std::set<std::string> hc_stored_;  // content hashes known to be in the store
  LogOptions log_options_;
  uint64_t handed_count_ = 0;  // the chain count after the last batch handed to the log
  bool disk_warned_ = false;
};

Status Daemon::Start() {
  std::vector<std::string> actions;
  Status s = EnsureKernelFilesystems(&actions);
  for (const auto& a : actions) log_->info("{}", a);
  if (!s.ok()) return s;

  std::error_code ec;
  std::filesystem::create_directories(cfg_.data_dir, ec);
  if (chmod(cfg_.data_dir.c_str(), 0700) != 0)
    return Status::IOError("cannot set mode 0700 on " + cfg_.data_dir + ": " + strerror(errno));
  log_options_.fsync = cfg_.fsync;
  log_options_.fsync_interval_ms = cfg_.fsync_interval_ms;
  auto opened = EventLog::OpenWriter(cfg_.data_dir, log_options_);
  if (!opened.ok()) return opened.status();
  elog_ = std::move(opened).value();
  handed_count_ = elog_->Head().count;
  compactor_ = std::make_unique<Compactor>(*elog_);
  // Where the log left off: if the last record is not a daemon-stop, we crashed (or were killed).
  if (auto last = elog_->Last(); last.ok() && last->has_value()) {
    const Event& e = (*last)->event;
    prev_last_ts_ = e.ts_ns;
    prev_clean_ = e.kind == EventKind::kDaemonStop;
    // A clean stop says when capture ended (its hooks detached before the drain).
    for (const auto& [k, v] : e.attrs) {
      uint64_t t = 0;
      if (!prev_clean_ || k != "capture_stopped_ns") continue;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), t);
      if (ec == std::errc() && end == v.data() + v.size() && t != 0 && t < prev_last_ts_)
        prev_last_ts_ = t;
    }
  }
  // Replay the log into live_ (through the compactor's snapshot) so reconciliation diffs
  // against what the log says, not against nothing. Before the probes attach: whatever they
  // capture must not be older than the records this run starts with (daemon_start, the
  // downtime gap), and replaying a long log takes tens of ms.
  if (auto r = compactor_->RunOnce(WallNs()); !r.ok())
    log_->warn("initial compaction: {}", r.status().ToString());
  live_ = compactor_->current();
  // From now on the compactor folds records as they are committed; each tick only cuts.
  if (Status fs = compactor_->Follow(); !fs.ok()) {
    log_->warn("compactor reads the log back at each tick: {}", fs.ToString());
  }

  if (cfg_.host_config.enabled) {
    hc_ = std::make_unique<ConfigScanner>(cfg_.host_config);
    // Watching starts before the first scan: a change in between is seen twice, never missed.
    // The unit directories too: /etc/systemd/system is under /etc already, the others are
    // watched for files put there by hand (a package's are also found through dpkg's change).
    std::vector<std::string> watched = cfg_.host_config.roots;
    for (const std::string& d : cfg_.host_config.unit_dirs) {
      const bool under_root = std::any_of(watched.begin(), watched.end(), [&](const std::string& r) {
        return d.size() > r.size() && d.compare(0, r.size(), r) == 0 && d[r.size()] == '/';
      });
      if (!under_root) watched.push_back(d);
    }
    if (Status ws = hc_watch_.Start(watched, cfg_.host_config.dpkg_dir); !ws.ok()) {
      log_->warn("host config changes are found at each reconcile only: {}", ws.ToString());
    }
  }

  clock_ = ClockOffset::Measure();
  dctx_.clock = clock_;
  if (cfg_.exe_hash.enabled) {
    ExeHashOptions ho = cfg_.exe_hash;
    if (ho.dpkg_dir.empty()) ho.dpkg_dir = cfg_.host_config.dpkg_dir;
    hasher_ = std::make_unique<ExeHasher>(ho, [this] {
      const uint64_t boot = BoottimeNs();
      return std::make_pair(clock_.ToWall(boot), boot);
    });
  }
  dctx_.tick_ns = TickNs();
  roots_ = FindCgroupRoots();

  // Probes first, /proc scan after: anything that happens in between is in the queue.
  probes_ = std::make_unique<Probes>();
  SetLibbpfLogger(
      [this](int level, const std::string& m) {
        if (level == 0) log_->warn("libbpf: {}", m);
        else if (level == 1) log_->info("libbpf: {}", m);
        else log_->debug("libbpf: {}", m);
      },
      cfg_.log_level <= spdlog::level::debug);
  ProbeOptions po;
  po.ringbuf_bytes = cfg_.ringbuf_bytes;
  po.max_args = cfg_.max_args;
  po.force_raw_tp = cfg_.force_raw_tp;
  po.wakeup_bytes = cfg_.ringbuf_wakeup_bytes;
  if (s = probes_->Open(); !s.ok()) return s;
  if (s = probes_->Configure(po); !s.ok()) return s;
  if (s = probes_->Load(); !s.ok()) return s;
  // The start of this run, taken before the first hook can fire: every record this run
  // captures is at least as late as its daemon_start and the end of the downtime gap.
  boot_facts_ = CollectHostFacts();
  boot_stamp_ = Stamp(Event{});
  if (s = probes_->Attach(); !s.ok()) return s;
  s = probes_->OpenRingBuffer([this](const void* data, size_t size) {
    Decoded d;
    if (!DecodeRecord(data, size, dctx_, &d)) {
      ++ctr_.decode_errors;
      return;
    }
    const uint16_t k = d.raw_kind < TWIN_EV_KIND_MAX ? d.raw_kind : 0;
    ++ctr_.received[k];
    if (!queue_.TryPush(std::move(d))) ++ctr_.queue_drops[k];
  });
  if (!s.ok()) return s;
  last_drops_ = probes_->ReadDrops();
  log_->info("probes attached ({} mode, ring buffer {} bytes, argv bound {} bytes)",
             probes_->mode() == HookMode::kTpBtf ? "tp_btf" : "raw_tp", probes_->ringbuf_bytes(),
             cfg_.max_args);

  if (SystemdIsPid1()) {
    Status bs = bus_watch_.Start([this](const UnitSignal& u) {
      std::lock_guard<std::mutex> l(hints_mu_);
      hints_.push_back(u);
    });
    if (bs.ok()) log_->info("systemd is PID 1: unit states confirmed over sd-bus");
    else log_->warn("systemd is PID 1 but sd-bus is unavailable ({}); units from cgroups only", bs.ToString());
  }

  // Metrics never keep capture from starting: a port another process holds is retried.
  const std::string tcp = cfg_.metrics_addr == "off" ? std::string() : cfg_.metrics_addr;
  const std::string sock = cfg_.metrics_socket == "off" ? std::string() : cfg_.metrics_socket;
  if (!tcp.empty() || !sock.empty()) {
    if (!sock.empty()) {
      std::error_code dec;
      std::filesystem::create_directories(std::filesystem::path(sock).parent_path(), dec);
    }
    Status ms = metrics_.Start(tcp, sock, [this] { return RenderMetrics(); },
                               [this](bool warning, const std::string& m) {
                                 if (warning) log_->warn("{}", m);
                                 else log_->info("{}", m);
                               });
    if (!ms.ok()) return ms;  // a bad address; ValidateConfig refuses those before we get here
  }
  return Status::Ok();
}

bool Daemon::Write(std::vector<Event>& batch) {
  if (batch.empty()) return true;
  if (outage_.active) {
    outage_.unwritten += batch.size();
    batch.clear();
    return false;
  }
  auto t0 = Clock::now();
  auto r = elog_->Append(std::span<const Event>(batch.data(), batch.size()));
  uint64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  if (!r.ok()) {
    ++ctr_.append_errors;
    // The failure may be an earlier batch's (written behind Append): that one and every batch
    // handed over after it are lost with this one. Head() is back at the last written batch.
    const ChainHead written = elog_->Head();
    const uint64_t lost =
        batch.size() + (handed_count_ > written.count ? handed_count_ - written.count : 0);
    batch.clear();
    outage_.log_failed = true;
    BeginOutage(r.status().ToString(), written.key.ts_ns, lost, false);
    return false;
  }
  handed_count_ += batch.size();
  compactor_->Appended(batch.size());
  ctr_.batch_ns_last = ns;
  ctr_.batch_ns_sum += ns;
  ++ctr_.batches;
  // Fold with approximate keys: live_ only needs the resulting maps, not exact keys.
  for (const Event& e : batch) {
    Fold(live_, e, EventKey{e.ts_ns, ++seq_hint_});
    ++ctr_.written[static_cast<size_t>(e.kind) <= kEventKindMax ? static_cast<size_t>(e.kind) : 0];
  }
  batch.clear();
  return true;
}

void Daemon::EnrichUnit(Event* e) {
  if (auto f = FindUnitFile(e->unit)) {
    e->unit_file_path = f->path;
    e->unit_file_sha256 = f->sha256;
    e->unit_file_content = std::move(f->content);
  }
}

void Daemon::HandleCgroup(const CgroupChange& c, std::vector<Event>* out) {
  std::string name;
  const auto change = units_.OnCgroup(c, &name);
  if (change == UnitCgroupTracker::Change::kNone) return;
  Event e;
  e.ts_ns = c.ts_ns;
  e.boottime_ns = c.boottime_ns;
  e.unit = name;
  e.cgroup = c.path;
  if (change == UnitCgroupTracker::Change::kFirstHeld) {
    if (live_.units.count(name)) return;  // sd-bus may have reported it already
    e.kind = EventKind::kUnitStart;
    EnrichUnit(&e);
    log_->info("unit start {} (cgroup {})", LogEscape(name), LogEscape(c.path));
  } else {
    if (!live_.units.count(name)) return;  // already stopped (sd-bus JobRemoved)
    if (bus_watch_.running()) {
      // No processes left is not "stopped" for systemd (RemainAfterExit=yes): let it say.
      bus_watch_.Recheck(name);
      return;
    }
    e.kind = EventKind::kUnitStop;
    log_->info("unit stop {}", LogEscape(name));
  }
  out->push_back(std::move(e));
}

void Daemon::CheckDrops(std::vector<Event>* out) {
  DropTable now = probes_->ReadDrops();
  uint64_t qd = 0;
  for (auto& v : ctr_.queue_drops) qd += v;
  const uint64_t wall = WallNs();
  uint64_t kernel_new = DropTotal(now) - DropTotal(last_drops_);
  uint64_t queue_new = qd - last_queue_drops_;
  {
    std::lock_guard<std::mutex> l(drops_mu_);
    drops_snapshot_ = now;
  }
  if (outage_.active) {
    // Nothing can be written: the drops join the outage's count and its gap.
    outage_.unwritten += kernel_new + queue_new;
    last_drops_ = std::move(now);
    last_queue_drops_ = qd;
    last_drop_check_wall_ = wall;
    return;
  }
  if (kernel_new + queue_new > 0) {
    std::string by_kind;
    for (int k = 1; k < TWIN_EV_KIND_MAX; ++k) {
      uint64_t n = 0;
      for (size_t c = 0; c < now.size(); ++c)
        n += now[c][k] - (c < last_drops_.size() ? last_drops_[c][k] : 0);
      if (n) by_kind += fmt::format("{}{}={}", by_kind.empty() ? "" : ",", KindLabel(k), n);
    }
    Event g = Stamp(Event{});
    g.kind = EventKind::kGap;
    g.gap_start_ns = last_drop_check_wall_ ? last_drop_check_wall_ : g.ts_ns;
    g.gap_end_ns = g.ts_ns;
    g.lost = kernel_new + queue_new;
    g.reason = fmt::format("events lost: ring buffer {} ({}), queue {}", kernel_new,
                           by_kind.empty() ? "-" : by_kind, queue_new);
    g.attrs = {{"ringbuf_drops", std::to_string(kernel_new)},
               {"queue_drops", std::to_string(queue_new)}};
    out->push_back(std::move(g));
    ++ctr_.gaps;
    log_->warn("gap: {}", out->back().reason);
    last_drops_ = std::move(now);
    last_queue_drops_ = qd;
    last_drop_check_wall_ = wall;
    Write(*out);
    Reconcile(0, true, "after gap");
    return;
  }
  last_drops_ = std::move(now);
  last_queue_drops_ = qd;
  last_drop_check_wall_ = wall;
}

void Daemon::HashUnhashed() {
  if (!hasher_) return;
  for (auto it = hash_asked_.begin(); it != hash_asked_.end();)
    it = live_.processes.count(*it) ? std::next(it) : hash_asked_.erase(it);
  for (const auto& [k, p] : live_.processes) {
    if (!p.exe_hash.empty() || p.exe.empty() || !hash_asked_.insert(k).second) continue;
    hasher_->OnRunning(p.pid, p.start_ns, p.since_ns, p.exe, p.exe_truncated);
  }
}

void Daemon::NoticeDeletedExes(const std::vector<ProcessBrief>& scan, const Event& at) {
  std::vector<Event> out;
  for (const ProcessBrief& b : scan) {
    if (!b.exe_deleted) continue;
    auto it = live_.processes.find(ProcKey{b.pid, b.start_ns});
    if (it == live_.processes.end()) continue;
    const Process& p = it->second;
    if (p.exe != b.exe) continue;  // another image
    std::string flags = p.exe_flags;
    bool flagged = false;
    for (std::string_view f : {"deleted", "memfd", "anonymous"})
      flagged = flagged || ("," + flags + ",").find("," + std::string(f) + ",") != std::string::npos;
    if (flagged) continue;
    AddFlag(&flags, "deleted");
    Event e;
    e.kind = EventKind::kExeHash;
    e.ts_ns = at.ts_ns;
    e.boottime_ns = at.boottime_ns;
    e.pid = p.pid;
    e.start_ns = p.start_ns;
    e.exe = p.exe;
    e.attrs.emplace_back(kAttrExecTs, std::to_string(p.since_ns));
    AddIntegrityAttrs(p.exe_hash, p.exe_sha256, flags, &e);
    e.attrs.emplace_back("noticed_by", "reconcile");
    log_->info("executable deleted after exec: pid {} {}", p.pid, LogEscape(p.exe));
    out.push_back(std::move(e));
  }
  Write(out);
}

void Daemon::Reconcile(uint64_t grace_ns, bool always_complete, const char* why) {
  if (outage_.active) return;  // the resync runs when the outage ends
  const auto t0 = Clock::now();
  // Every record of a pass carries the time the scan began: what /proc showed from then on,
  // before anything the hooks capture while the scan runs (those records follow).
  const Event at = Stamp(Event{});
  HostScan scan;
  scan.processes = ScanProcessBriefs(dctx_.tick_ns);
  scan.listeners = ScanListeners(&live_.processes, dctx_.tick_ns, &live_.listeners);
  // Units: cgroup directories on the v2 and v1 name=systemd hierarchies.
  CgroupRoots v2only{roots_.v2, ""}, v1only{"", roots_.v1_systemd};
  std::map<std::string, std::set<std::string>> held;
  for (auto& [n, path] : ScanUnitCgroups(v2only)) {
    held[n].insert(UnitCgroupTracker::kV2);
    scan.unit_cgroups[n] = path;
  }
  for (auto& [n, path] : ScanUnitCgroups(v1only)) {
    held[n].insert(UnitCgroupTracker::kV1Systemd);
    scan.unit_cgroups.emplace(n, path);
  }
  units_.Reset(std::move(held));
  ReconcileLookups lookups;
  lookups.read_process = [this](int pid) { return ReadProcess(pid, cfg_.max_args, dctx_.tick_ns); };
  lookups.find_unit_file = [](const std::string& unit) { return FindUnitFile(unit); };
  ReconcileOptions o;
  o.grace_ns = grace_ns;
  o.now_boot_ns = BoottimeNs();
  o.systemd_answers_for_units = bus_watch_.running();
  o.always_complete = always_complete;
  o.why = why;
  ReconcilePlan plan = PlanReconcile(live_, scan, lookups, o);
  for (const std::string& unit : plan.recheck_units) bus_watch_.Recheck(unit);
  for (Event& e : plan.events) {
    e.ts_ns = at.ts_ns;
    e.boottime_ns = at.boottime_ns;
    if (e.kind == EventKind::kUnitFileChanged) {
      log_->info("unit file changed: {} ({})", LogEscape(e.unit), LogEscape(e.unit_file_path));
    }
  }
  ctr_.resync_corrections += plan.corrections;
  if (plan.corrections) log_->info("resync ({}): {} corrections", why, plan.corrections);
  Write(plan.events);
  NoticeDeletedExes(scan.processes, at);
  HashUnhashed();
  ctr_.reconcile_ns_last =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  // The safety net for what inotify missed (an overflow, a watch limit, a change while down):
  // the dpkg database (one lstat) at every reconcile, the config roots' walk every
  // rescan_interval_s while inotify runs (every reconcile without it, and after a gap).
  const auto now = Clock::now();
  const bool periodic = std::string_view(why) == "periodic";
  const bool files_due = !periodic || !hc_watch_.running() || now >= hc_next_files_scan_;
  if (files_due) {
    hc_next_files_scan_ = now + std::chrono::seconds(cfg_.host_config.rescan_interval_s);
  }
  ScanHostConfig(true, files_due, std::string_view(why) == "start-up" ? "start-up" : "reconcile");
}

void Daemon::ScanHostConfig(bool dpkg, bool files, const char* via) {
  if (!hc_ || outage_.active) return;
  const auto t0 = Clock::now();
  HostConfigScan scan;
  if (dpkg) {
    const uint64_t reads = hc_->dpkg_reads();
    const DpkgDb& db = hc_->Dpkg();
    // An unchanged status file changes nothing: the package list is compared only after a read.
    if (hc_->dpkg_ok() && hc_->dpkg_reads() != reads) scan.packages = db.packages;
  }
  // A new dpkg database can change files' package and differs: the roots are walked too.
  if (scan.packages) files = true;
  if (files) {
    scan.files = hc_->ScanFiles();
    scan.users = hc_->Users();
    scan.groups = hc_->Groups();
    scan.unit_config = hc_->ScanUnitConfig();
  }
  HostConfigPlan plan = PlanHostConfig(live_, scan, via);
  for (const auto& [path, sha] : plan.missing_content) {
    // Unchanged on disk since the scanner last read it, but not in the state (a reopened log):
    // read again, and store it only if it is still what the scan hashed.
    if (hc_stored_.count(sha)) continue;
    bool ok = false;
    std::string bytes = ReadFileLimited(path, cfg_.host_config.max_content_bytes + 1, &ok);
    if (ok && Sha256Hex(bytes) == sha) plan.contents.emplace(sha, std::move(bytes));
  }
  for (auto& [sha, bytes] : plan.contents) {
    if (hc_stored_.count(sha)) continue;
    if (Status ps = elog_->PutContent(sha, bytes); !ps.ok()) {
      log_->warn("config file content {} not stored: {}", sha, ps.ToString());
      continue;
    }
    hc_stored_.insert(sha);
  }
  const Event at = Stamp(Event{});
  for (Event& e : plan.events) {
    e.ts_ns = at.ts_ns;
    e.boottime_ns = at.boottime_ns;
  }
  const size_t n = plan.events.size();
  Write(plan.events);
  const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (n) {
    log_->info("host config ({}): {} changes (packages {}, files {}, unit config {}) in {:.1f} ms",
               via, n, scan.packages ? scan.packages->size() : 0,
               scan.files ? scan.files->size() : 0,
               scan.unit_config ? scan.unit_config->size() : 0, ms);
  } else {
    log_->debug("host config ({}): no change in {:.1f} ms", via, ms);
  }
}

void Daemon::PollHostConfig() {
  if (!hc_) return;
  const HostConfigWatch::Dirty d = hc_watch_.Poll();
  const auto now = Clock::now();
  if (d.dpkg || d.files) {
    if (!hc_dirty_dpkg_ && !hc_dirty_files_) hc_first_dirty_ = now;
    hc_last_hint_ = now;
    hc_dirty_dpkg_ = hc_dirty_dpkg_ || d.dpkg;
    hc_dirty_files_ = hc_dirty_files_ || d.files;
  }
  if (!hc_dirty_dpkg_ && !hc_dirty_files_) return;
  const auto quiet = std::chrono::milliseconds(cfg_.host_config.debounce_ms);
  const auto longest = std::chrono::milliseconds(cfg_.host_config.debounce_max_ms);
  if (now - hc_last_hint_ < quiet && now - hc_first_dirty_ < longest) return;
  ScanHostConfig(hc_dirty_dpkg_, hc_dirty_files_, "watch");
  hc_dirty_dpkg_ = hc_dirty_files_ = false;
}

void Daemon::Compact() {
  if (outage_.active) return;  // snapshots wait for the log to take writes again
  // Host facts are part of every snapshot: record a change before folding.
  HostFacts h = CollectHostFacts();
  if (!(h == live_.host)) {
    std::vector<Event> b{Stamp(Event{})};
    b[0].kind = EventKind::kHostFacts;
    b[0].host = std::move(h);
    Write(b);
  }
  auto t0 = Clock::now();
  auto r = compactor_->RunOnce(WallNs());
  ctr_.compaction_ns_last =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  ++ctr_.compactions;
  ctr_.db_bytes = elog_->ApproximateSizeBytes();
  if (!r.ok()) {
    log_->error("compaction failed: {}", r.status().ToString());
    return;
  }
  if (r->has_value() && hooks_.on_snapshot) hooks_.on_snapshot(**r);
  if (hooks_.after_compaction) hooks_.after_compaction(*elog_, WallNs());
}

void Daemon::BeginOutage(const std::string& cause, uint64_t since_ns, uint64_t unwritten,
                         bool low_disk) {
  outage_.active = true;
  outage_.low_disk = low_disk;
  outage_.since_ns = since_ns;
  outage_.unwritten = unwritten;
  outage_.cause = cause;
  outage_.next_complaint = Clock::now() + std::chrono::seconds(30);
  ++ctr_.gaps;
  log_->error("event log writing stopped ({}); {} events not written so far; capture goes on "
              "counting and twind resumes writing by itself when it can",
              cause, unwritten);
}

void Daemon::CheckDisk() {
  auto d = StatDisk(cfg_.data_dir);
  if (!d.ok()) return;
  const DiskThresholds th = ComputeDiskThresholds(d->size, cfg_.min_free_bytes);
  if (d->free < th.warn_below && !disk_warned_) {
    disk_warned_ = true;
    log_->warn("free space on the data dir's filesystem is low: {} bytes free of {}; writing "
               "stops below {} bytes", d->free, d->size, th.stop_below);
  } else if (d->free >= th.warn_below) {
    disk_warned_ = false;
  }
  if (!outage_.active && d->free < th.stop_below) {
    std::vector<Event> g{Stamp(Event{})};
    g[0].kind = EventKind::kGap;
    g[0].gap_start_ns = g[0].ts_ns;
    g[0].gap_end_ns = 0;  // open: the gap that ends it follows with the window and the count
    g[0].reason = fmt::format("low disk: writing stopped ({} bytes free of {}, threshold {})",
                              d->free, d->size, th.stop_below);
    g[0].attrs = {{"lost_count", "unknown until the gap closes"}};
    const uint64_t since = g[0].ts_ns;
    Write(g);  // if even this fails, the outage is a failed log instead
    if (!outage_.active) {
      BeginOutage(fmt::format("low disk: {} bytes free, below {}", d->free, th.stop_below), since,
                  0, true);
      // RocksDB's own flushes and merges would spend the reserve (and, failing with ENOSPC,
      // fail the log): until writing resumes only the WAL takes the few records of the stop.
      if (Status p = elog_->PauseBackgroundWork(); !p.ok()) {
        log_->warn("low disk: {}", p.ToString());
      }
    }
  }
}

Status Daemon::ReopenLog() {
  if (hooks_.on_close) hooks_.on_close();  // workers holding the old log stop first
  compactor_.reset();
  elog_.reset();
  auto opened = EventLog::OpenWriter(cfg_.data_dir, log_options_);
  if (!opened.ok()) return opened.status();
  elog_ = std::move(opened).value();
  handed_count_ = elog_->Head().count;
  compactor_ = std::make_unique<Compactor>(*elog_);
  if (auto r = compactor_->RunOnce(WallNs()); !r.ok()) {
    log_->warn("compaction after reopening: {}", r.status().ToString());
  }
  // live_ had folded batches that were then lost: start again from what the log holds.
  live_ = compactor_->current();
  if (Status fs = compactor_->Follow(); !fs.ok()) {
    log_->warn("compactor reads the log back at each tick: {}", fs.ToString());
  }
  if (hooks_.on_open) hooks_.on_open(*elog_);
  return Status::Ok();
}

bool Daemon::TryEndOutage(const char* why, bool at_stop) {
  if (!outage_.active) return true;
  auto d = StatDisk(cfg_.data_dir);
  const bool complain = Clock::now() >= outage_.next_complaint;
  if (complain) outage_.next_complaint = Clock::now() + std::chrono::seconds(30);
  // At a stop, a low-disk stop ends regardless: the log itself takes writes, and the reserve
  // kept below the threshold is there to pay for the gap and the daemon_stop.
  const bool reserve_pays = at_stop && outage_.low_disk && !outage_.log_failed;
  if (!reserve_pays && d.ok() &&
      d->free <= ComputeDiskThresholds(d->size, cfg_.min_free_bytes).resume_above) {
    if (complain) {
      log_->warn("event log writing still stopped ({}): {} bytes free; {} events not written "
                 "so far", outage_.cause, d->free, outage_.unwritten);
    }
    return false;
  }
  if (outage_.log_failed) {
    Status s = ReopenLog();
    if (!s.ok()) {
      if (complain) log_->warn("cannot reopen the event log yet: {}", s.ToString());
      return false;
    }
    log_->info("event log reopened after the write failure");
  } else if (!reserve_pays) {
    // A low-disk stop paused the log's flushes and merges; there is room for them again.
    if (Status r = elog_->ResumeBackgroundWork(); !r.ok()) {
      log_->warn("cannot resume the event log's background work: {}", r.ToString());
    }
  }
  Event g = Stamp(Event{});
  g.kind = EventKind::kGap;
  g.gap_start_ns = outage_.since_ns;
  g.gap_end_ns = g.ts_ns;
  g.lost = outage_.unwritten;
  g.reason = fmt::format("{}: {} events not written; {}",
                         outage_.low_disk ? "low disk" : "event log write failed (" + outage_.cause + ")",
                         outage_.unwritten,
                         reserve_pays ? "twind stopped while writing was stopped"
                         : outage_.log_failed ? "writing resumed after reopening the log"
                                              : "writing resumed");
  g.attrs = {{"unwritten", std::to_string(outage_.unwritten)}, {"cause", outage_.cause}};
  const Outage ended = outage_;
  outage_ = Outage{};
  std::vector<Event> b{std::move(g)};
  if (!Write(b)) return false;  // a new outage began
  if (reserve_pays) {
    log_->info("stopping while writing was stopped for low disk: gap of {} unwritten events "
               "recorded from the reserve", ended.unwritten);
  } else {
    log_->info("event log writing resumed ({}): gap of {} unwritten events recorded", why,
               ended.unwritten);
  }
  Reconcile(0, true, "after write outage");
  return !outage_.active;
}

void Daemon::ReaderLoop() {
  while (!reader_stop_) {
    int n = probes_->Poll(50);  // also the latency bound for records committed without wakeup
    if (n < 0 && n != -EINTR) {
      log_->error("ring buffer poll failed: {}", strerror(-n));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ctr_.queue_depth = queue_.size();
  }
  // Drain what is left so a clean stop loses nothing.
  while (probes_->Poll(0) > 0) {
  }
}

void Daemon::ToRecords(std::vector<Decoded>& in, std::vector<Event>* batch) {
  for (Decoded& d : in) {
    if (d.is_cgroup) {
      HandleCgroup(d.cgroup, batch);
      continue;
    }
    Event& e = d.event;
    if (hasher_ && e.kind == EventKind::kProcessExec) hasher_->OnExec(&e, d.exe_id);
    // Owner's unit for socket events: the process image knows it, the socket probe does not.
    if (IsSocketEvent(e) && e.unit.empty()) {
      auto it = live_.processes.find(ProcKey{e.pid, e.start_ns});
      if (it != live_.processes.end()) e.unit = it->second.unit;
    }
    batch->push_back(std::move(e));
  }
}

void Daemon::WriterLoop() {
  std::vector<Decoded> in;
  std::vector<Event> batch;
  auto next_drop_check = Clock::now();
  auto next_compact = Clock::now() + std::chrono::milliseconds(cfg_.compact_interval_ms);
  auto next_disk_check = Clock::now();
  bool draining = false;
  for (;;) {
    in.clear();
    // Returns on the first item; sooner while a host config change waits for its quiet time.
    const bool hc_waiting = hc_dirty_dpkg_ || hc_dirty_files_;
    queue_.PopBatch(&in, cfg_.batch_max,
                    std::chrono::milliseconds(hc_waiting ? std::max<uint32_t>(cfg_.host_config.debounce_ms / 2, 10) : 250));
    ToRecords(in, &batch);
    if (hasher_) hasher_->TakeResults(&batch);
    std::vector<UnitSignal> hints;
    {
      std::lock_guard<std::mutex> l(hints_mu_);
      hints.swap(hints_);
    }
    for (const UnitSignal& u : hints) {
      const bool known = live_.units.count(u.unit) > 0;
      if (u.active() == known) continue;  // the state already agrees
      Event e = Stamp(Event{});
      e.kind = u.active() ? EventKind::kUnitStart : EventKind::kUnitStop;
      e.unit = u.unit;
      e.attrs = {{"source", "sd-bus"}, {"cause", u.cause}, {"active_state", u.active_state}};
      if (u.active()) EnrichUnit(&e);
      log_->info("unit {} {} (sd-bus {})", u.active() ? "start" : "stop", LogEscape(u.unit),
                 LogEscape(u.cause));
      batch.push_back(std::move(e));
    }
    Write(batch);
    PollHostConfig();
    auto now = Clock::now();
    if (now >= next_drop_check) {
      CheckDrops(&batch);
      next_drop_check = now + std::chrono::milliseconds(500);
    }
    if (now >= next_disk_check) {
      CheckDisk();
      if (outage_.active) TryEndOutage("write outage");
      // Sooner while writing is stopped: every second of it is a second of history not kept.
      next_disk_check = now + std::chrono::seconds(outage_.active ? 1 : 2);
    }
    if (now >= next_compact) {
      Reconcile(cfg_.reconcile_grace_ms * 1000000ull, false, "periodic");
      Compact();
      next_compact = Clock::now() + std::chrono::milliseconds(cfg_.compact_interval_ms);
      NotifyManager(fmt::format("STATUS=capturing: {} batches, {} gaps", ctr_.batches.load(),
                         ctr_.gaps.load()));
    } else if (compactor_->DueByCount()) {
      // A burst: a snapshot now, so that no reader folds more than the bound on top of one
      // (the reconcile waits for the tick).
      Compact();
    }
    if (capture_stopped_ && !draining) {
      draining = true;
      reader_stop_ = true;
      continue;  // one more pass picks up what the reader drained
    }
    if (draining && queue_.size() == 0 && in.empty()) break;
  }
}

int Daemon::Run() {
  Status s = Start();
  if (!s.ok()) {
    log_->critical("cannot start capture: {}", s.ToString());
    NotifyManager("STATUS=failed: " + s.ToString());
    if (ready_) ready_(false);
    return 1;
  }
  uint64_t last_ts = prev_last_ts_;
  const bool clean = prev_clean_;
  std::vector<Event> boot;
  Event start = boot_stamp_;
  start.kind = EventKind::kDaemonStart;
  start.reason = std::string("twind ") + TWIN_VERSION;
  start.attrs = {{"version", TWIN_VERSION},
                 {"schema", std::to_string(kSchemaVersion)},
                 {"clock_offset_ns", std::to_string(clock_.wall_minus_boot_ns)},
                 {"clock_offset_uncertainty_ns", std::to_string(clock_.uncertainty_ns)},
                 {"tick_ns", std::to_string(dctx_.tick_ns)},
                 {"boot_id", boot_facts_.boot_id},
                 {"probe_mode", probes_->mode() == HookMode::kTpBtf ? "tp_btf" : "raw_tp"},
                 {"ringbuf_bytes", std::to_string(probes_->ringbuf_bytes())},
                 {"max_args", std::to_string(cfg_.max_args)},
                 {"pid", std::to_string(getpid())}};
  boot.push_back(start);
  const LossReport* loss = elog_->LossFoundAtOpen();
  if (loss) {
    log_->error("the event log was damaged while twind was not running: {}",
                LogEscape(loss->Describe()));
    boot.push_back(LossGap(*loss, start.ts_ns));
    ++ctr_.gaps;
    // The records after the damage are gone: the end of the log says nothing about how the
    // previous run ended, and the downtime starts where the anchor says the log ended.
    if (loss->anchor && loss->anchor->head.key.ts_ns > last_ts) {
      last_ts = std::min(loss->anchor->head.key.ts_ns, start.ts_ns);
    }
  }
  if (last_ts != 0) {
    Event g = boot_stamp_;
    g.kind = EventKind::kGap;
    g.gap_start_ns = last_ts;
    g.gap_end_ns = start.ts_ns;
    if (loss && loss->vouched_lost()) {
      g.reason = "daemon was not running (whether it stopped cleanly is not known: the log's "
                 "last records were lost)";
    } else {
      g.reason = clean ? "daemon was stopped" : "daemon was not running (no clean stop recorded)";
    }
    // Nothing was captured in the window: how many events happened in it is not known.
    g.reason += "; events in this window were not captured, their count is unknown";
    g.attrs = {{"lost_count", "unknown"}};
    boot.push_back(std::move(g));
    ++ctr_.gaps;
  }
  Event hf = boot_stamp_;
  hf.kind = EventKind::kHostFacts;
  hf.host = std::move(boot_facts_);
  boot.push_back(std::move(hf));
  if (!Write(boot)) {
    if (ready_) ready_(false);
    return 1;
  }
  last_drop_check_wall_ = WallNs();
  // What the hooks captured since they attached happened before the /proc scan: it goes in
  // first, so that the scan's records (stamped when it starts) follow what preceded them and
  // the log stays in time order across the start. (The reader thread does not run yet.)
  while (probes_->Poll(0) > 0) {
  }
  for (std::vector<Decoded> in; queue_.size() > 0; in.clear()) {
    std::vector<Event> early;
    queue_.PopBatch(&in, cfg_.batch_max, std::chrono::milliseconds(0));
    ToRecords(in, &early);
    Write(early);
  }
  Reconcile(0, true, "start-up");
  if (Status ss = elog_->Sync(); !ss.ok()) log_->warn("sync: {}", ss.ToString());
  if (hooks_.on_open) hooks_.on_open(*elog_);

  std::thread reader([this] { ReaderLoop(); });
  std::thread writer([this] { WriterLoop(); });
  log_->info("twind ready: data dir {}, {} processes, {} listeners, {} units, {} packages, {} "
             "config files ({} directories watched), WAL checksums: {}",
             cfg_.data_dir, live_.processes.size(), live_.listeners.size(), live_.units.size(),
             live_.packages.size(), live_.config_files.size(), hc_watch_.watches(),
             RocksDbHardwareCrc32c() ? "SSE4.2 CRC32C" : "librocksdb's CRC32C");
  NotifyManager("READY=1\nSTATUS=capturing");
  if (ready_) ready_(true);

  uint64_t wd_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (!g_stop) {
    timespec ts{1, 0};
    if (watchdog) NotifyManager("WATCHDOG=1");
    siginfo_t info;
    sig = sigtimedwait(&set, &info, &ts);
    if (sig == SIGTERM || sig == SIGINT) g_stop = true;
    if (sig == SIGHUP) log_->info("SIGHUP ignored (restart twind to reload the config)");
  }
  NotifyManager("STOPPING=1");
  // Capture ends here, before the reader drains the ring buffer: every record the hooks made is
  // then written before daemon_stop, and what happens after it is in the next start's gap (it
  // starts at daemon_stop). A hook still attached during the drain would fill the ring buffer
  // with records nobody reads and nothing counts.
  // Detaching takes a while (an RCU grace period per hook) and the hooks go one by one: from
  // this stamp on, capture is partial.
  const uint64_t capture_stopped_ns = Stamp(Event{}).ts_ns;
  probes_->Detach();
  capture_stopped_ = true;
  log_->info("stopping ({}): flushing", sig == SIGINT ? "SIGINT" : "SIGTERM");
  queue_.Wake();
  bus_watch_.Stop();
  reader.join();
  writer.join();
  // The stop record is written whenever the log can take it: an outage is ended first if the
  // disk has room again (its gap goes in before the stop).
  if (outage_.active) TryEndOutage("stop", /*at_stop=*/true);
  if (hasher_) {
    // Hashes finished since the writer's last pass; jobs still queued stay "pending".
    std::vector<Event> done;
    hasher_->TakeResults(&done);
    Write(done);
  }
  std::vector<Event> stop{Stamp(Event{})};
  stop[0].kind = EventKind::kDaemonStop;
  stop[0].reason = sig == SIGINT ? "SIGINT" : "SIGTERM";
  // Records written while draining are later than the end of capture: the next start's gap
  // starts here, not at this record.
  stop[0].attrs = {{"capture_stopped_ns", std::to_string(capture_stopped_ns)}};
  if (!Write(stop)) {
    log_->error("daemon_stop not written: the log takes no writes ({}); {} events of the outage "
                "since {} ns are not in the log (the next start records the downtime as a gap)",
                outage_.cause, outage_.unwritten, outage_.since_ns);
  }
  if (!outage_.active) {
    if (Status ss = elog_->Sync(); !ss.ok()) log_->warn("sync: {}", ss.ToString());
  }
  Compact();
  if (hooks_.on_close) hooks_.on_close();
  metrics_.Stop();
  log_->info("stopped cleanly");
  return 0;
}

std::string Daemon::RenderMetrics() {
  DropTable drops;
  {
    std::lock_guard<std::mutex> l(drops_mu_);
    drops = drops_snapshot_;
  }
  std::string o = RenderDaemonMetrics(ctr_, drops);
  if (hasher_) {
    const ExeHashCounters h = hasher_->counters();
    o += "# HELP twind_exe_hash_total Executables by how their SHA-256 was found.\n"
         "# TYPE twind_exe_hash_total counter\n";
    for (auto [name, v] : {std::pair<const char*, uint64_t>{"cache_hit", h.hits},
                           {"queued", h.queued}, {"queue_full", h.queue_full},
                           {"too_large", h.too_large}, {"hashed", h.hashed},
                           {"unavailable", h.unavailable}})
      o += fmt::format("twind_exe_hash_total{{result=\"{}\"}} {}\n", name, v);
    o += fmt::format("# TYPE twind_exe_hash_bytes_total counter\ntwind_exe_hash_bytes_total {}\n",
                     h.bytes_hashed);
  }
  if (hooks_.metrics) o += hooks_.metrics();
  return o;
}

}  // namespace

int RunDaemon(const DaemonConfig& cfg, std::shared_ptr<spdlog::logger> log, DaemonHooks hooks,
              ReadyFn ready) {
  // Signals are taken synchronously by the main loop; every thread inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_stop = false;
  Daemon d(cfg, std::move(log), std::move(hooks), std::move(ready));
  return d.Run();
}

}  // namespace twin::capture
