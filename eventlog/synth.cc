#include "eventlog/synth.h"

#include "eventlog/state.h"

namespace twin {

SynthGenerator::SynthGenerator(const SynthOptions& o) : o_(o), rng_(o.seed), now_(o.start_ns) {}

std::string SynthGenerator::Word() {
  static const char* kWords[] = {"nginx", "sshd", "python3", "bash", "cron", "postgres",
                                 "--config", "/etc/app.conf", "-v", "worker", "true", "ls"};
  static const char* kHostile[] = {"{{ lookup('pipe','id') }}", "a\nb", "\"quoted\" 'x'",
                                   "$(reboot);", "=cmd|' /C calc'!A0", "!!python/object", "\xff\xfe\x80",
                                   "{% raw %}", "tab\there"};
  if (o_.hostile_strings && rng_() % 4 == 0) return kHostile[rng_() % std::size(kHostile)];
  return kWords[rng_() % std::size(kWords)];
}

Event SynthGenerator::Base(EventKind k) {
  now_ += 1 + rng_() % (2 * o_.mean_step_ns);
  Event e;
  e.kind = k;
  e.ts_ns = now_;
  e.boottime_ns = now_ - o_.start_ns + 5'000'000'000ull;
  return e;
}

Event SynthGenerator::HostConfig() {
  const int which = static_cast<int>(rng_() % 5);
  const bool reuse = !hc_names_.empty() && rng_() % 2 == 0;
  std::string name = reuse ? hc_names_[rng_() % hc_names_.size()] : Word();
  if (!reuse) hc_names_.push_back(name);
  const char* op = !reuse ? "add" : rng_() % 3 == 0 ? "remove" : "change";
  Event e;
  if (which == 0) {
    Package p{name, rng_() % 2 ? "amd64" : "all", std::to_string(rng_() % 5) + ".0-" + Word(),
              "install ok installed", 0};
    e = PackageEvent(op, p);
  } else if (which == 1) {
    ConfigFile f;
    f.path = "/etc/" + name;
    f.type = rng_() % 5 == 0 ? "symlink" : "file";
    f.mode = static_cast<uint32_t>(rng_() % 07777);
    f.uid = static_cast<uint32_t>(rng_() % 3);
    f.size = rng_() % 100000;
    f.sha256 = std::string(64, "0123456789abcdef"[rng_() % 16]);
    f.content = rng_() % 4 == 0 ? "withheld" : "stored";
    if (f.type == "symlink") f.target = "/usr/share/" + Word();
    if (rng_() % 2) {
      f.package = Word();
      f.differs = rng_() % 2 ? "yes" : "no";
    }
    e = ConfigFileEvent(op, f);
  } else if (which == 2) {
    e = UserEvent(op, User{name, static_cast<uint32_t>(1000 + rng_() % 100), 100, Word(),
                           "/home/" + name, "/bin/sh", 0});
  } else if (which == 3) {
    Group g{name, static_cast<uint32_t>(rng_() % 2000), {}, 0};
    for (uint64_t i = rng_() % 3; i > 0; --i) g.members.push_back(Word());
    e = GroupEvent(op, g);
  } else {
    static const char* kRoles[] = {"unit", "dropin", "wants", "link", "mask"};
    UnitConfig u;
    u.role = kRoles[rng_() % std::size(kRoles)];
    u.dir = rng_() % 2 ? "/etc/systemd/system" : "/lib/systemd/system";
    u.unit = name + (rng_() % 2 ? ".timer" : ".service");
    u.path = u.dir + "/" + u.unit;
    u.type = u.role == "unit" || u.role == "dropin" ? "file" : "symlink";
    u.mode = 0644;
    u.size = rng_() % 5000;
    u.sha256 = std::string(64, "0123456789abcdef"[rng_() % 16]);
    if (u.role == "wants") u.by = "timers.target";
    if (u.type == "symlink") u.target = u.role == "mask" ? "/dev/null" : "/lib/systemd/system/" + u.unit;
    else if (rng_() % 2) {
      u.content = "package";
      u.package = Word();
      u.version = "1.0-" + Word();
      u.differs = "no";
    } else {
      u.content = "stored";
    }
    e = UnitConfigEvent(op, u);
  }
  e.attrs.emplace_back("via", "watch");
  Event b = Base(e.kind);
  e.ts_ns = b.ts_ns;
  e.boottime_ns = b.boottime_ns;
  return e;
}

Event SynthGenerator::Next() {
  if (o_.host_config && rng_() % 20 == 0) return HostConfig();
  const uint64_t r = rng_() % 1000;
  if (procs_.empty() || r < 300) {  // exec of a new or existing process
    bool fresh = procs_.empty() || rng_() % 2 == 0;
    Event e = Base(EventKind::kProcessExec);
    if (fresh) {
      P p{next_pid_++, e.boottime_ns - rng_() % 1000 * 10'000'000ull / 1000, procs_.empty() ? 1 : procs_[rng_() % procs_.size()].pid};
      if (next_pid_ > 32768) next_pid_ = 1000;  // exercise pid reuse
      procs_.push_back(p);
    }
    const P& p = procs_[fresh ? procs_.size() - 1 : rng_() % procs_.size()];
    e.pid = p.pid;
    e.start_ns = p.start;
    e.ppid = p.ppid;
    e.uid = rng_() % 3 == 0 ? 0 : 1000;
    e.gid = e.uid;
    e.comm = Word();
    e.exe = "/usr/bin/" + e.comm;
    e.cwd = "/home/user";
    size_t bytes = 0;
    while (bytes < o_.argv_bytes) {
      e.argv.push_back(Word());
      bytes += e.argv.back().size() + 1;
    }
    e.argv_truncated = e.pid % 7 == 0;  // derived, so the random stream stays as it was
    e.exe_truncated = e.pid % 11 == 0;
    e.cwd_truncated = e.pid % 13 == 0;
    e.cgroup = "/system.slice/app.service";
    e.unit = rng_() % 2 ? "app.service" : "";
    if (e.pid % 5 == 0) e.container_id = "c0ffee" + std::to_string(e.pid);
    return e;
  }
  if (r < 450) {
    Event e = Base(EventKind::kProcessFork);
    const P parent = procs_[rng_() % procs_.size()];
    P child{next_pid_++, e.boottime_ns, parent.pid};
    if (next_pid_ > 32768) next_pid_ = 1000;
    procs_.push_back(child);
    e.pid = child.pid;
    e.start_ns = child.start;
    e.ppid = parent.pid;
    e.parent_start_ns = parent.start;
    e.comm = Word();
    return e;
  }
  if (r < 750) {
    Event e = Base(EventKind::kProcessExit);
    size_t i = rng_() % procs_.size();
    e.pid = procs_[i].pid;
    e.start_ns = procs_[i].start;
    e.exit_code = static_cast<int32_t>(rng_() % 3);
    e.signal = rng_() % 10 == 0 ? 9 : 0;
    e.duration_ns = rng_() % 1'000'000'000;
    procs_[i] = procs_.back();
    procs_.pop_back();
    return e;
  }
  if (r < 830) {
    Event e = Base(rng_() % 3 == 0 ? EventKind::kSocketBind : EventKind::kSocketListen);
    const P& p = procs_[rng_() % procs_.size()];
    e.pid = p.pid;
    e.start_ns = p.start;
    e.comm = Word();
    e.proto = e.kind == EventKind::kSocketBind ? kProtoUdp : kProtoTcp;
    e.family = rng_() % 2 ? kFamilyInet : kFamilyInet6;
    e.addr = e.family == kFamilyInet ? "127.0.0.1" : "::1";
    e.port = static_cast<uint16_t>(1024 + rng_() % 2000);
    e.sock_inode = rng_() % 1'000'000;
    listeners_.push_back(e);
    return e;
  }
  if (r < 880 && !listeners_.empty()) {
    Event e = Base(EventKind::kListenerClose);
    size_t i = rng_() % listeners_.size();
    e.proto = listeners_[i].proto;
    e.family = listeners_[i].family;
    e.addr = listeners_[i].addr;
    e.port = listeners_[i].port;
    e.pid = listeners_[i].pid;
    listeners_[i] = listeners_.back();
    listeners_.pop_back();
    return e;
  }
  if (r < 930) {
    if (!units_.empty() && rng_() % 3 == 0) {
      Event e = Base(rng_() % 2 ? EventKind::kUnitStop : EventKind::kUnitFileChanged);
      size_t i = rng_() % units_.size();
      e.unit = units_[i];
      if (e.kind == EventKind::kUnitStop) {
        units_[i] = units_.back();
        units_.pop_back();
      } else {
        e.unit_file_path = "/etc/systemd/system/" + e.unit;
        e.unit_file_content = "[Service]\nExecStart=/usr/bin/" + Word() + "\n";
        e.unit_file_sha256 = std::string(64, "0123456789abcdef"[rng_() % 16]);
      }
      return e;
    }
    Event e = Base(EventKind::kUnitStart);
    e.unit = "svc-" + std::to_string(units_made_++ % 50) + ".service";
    e.cgroup = "/system.slice/" + e.unit;
    e.unit_file_path = "/etc/systemd/system/" + e.unit;
    e.unit_file_content = "[Service]\nExecStart=/usr/bin/" + Word() + "\n";
    e.unit_file_sha256 = std::string(64, "0123456789abcdef"[rng_() % 16]);
    units_.push_back(e.unit);
    return e;
  }
  if (r < 940) {
    Event e = Base(EventKind::kHostFacts);
    e.host.hostname = "host-" + std::to_string(rng_() % 3);
    e.host.kernel = "6.18.0";
    e.host.cpus = 2;
    e.host.mem_bytes = 24ull << 30;
    e.host.disks = {{"vda", 252ull << 30, "/"}};
    return e;
  }
  if (r < 945) {
    Event e = Base(EventKind::kGap);
    e.gap_start_ns = now_ - 1000;
    e.gap_end_ns = now_;
    e.lost = rng_() % 100;
    e.reason = "ring buffer overflow";
    return e;
  }
  if (r < 990) {
    Event e = Base(EventKind::kResync);
    const uint64_t what = rng_() % 4;
    if (what == 0) {
      e.resync_op = ResyncOp::kComplete;
    } else if (what == 1 && !procs_.empty()) {
      const P& p = procs_[rng_() % procs_.size()];
      e.resync_entity = ResyncEntity::kProcess;
      e.resync_op = rng_() % 4 ? ResyncOp::kUpsert : ResyncOp::kRemove;
      e.pid = p.pid;
      e.start_ns = p.start;
      e.comm = Word();
      e.argv = {e.comm};
    } else if (what == 2 && !listeners_.empty()) {
      e = listeners_[rng_() % listeners_.size()];
      e.kind = EventKind::kResync;
      e.ts_ns = now_;
      e.resync_entity = ResyncEntity::kListener;
      e.resync_op = rng_() % 3 ? ResyncOp::kUpsert : ResyncOp::kRemove;
    } else {
      e.resync_entity = ResyncEntity::kUnit;
      e.resync_op = ResyncOp::kUpsert;
      e.unit = "svc-" + std::to_string(rng_() % 50) + ".service";
    }
    return e;
  }
  Event e = Base(rng_() % 2 ? EventKind::kDaemonStart : EventKind::kTwinAction);
  e.reason = Word();
  e.attrs = {{"k", Word()}};
  return e;
}

void SynthGenerator::Fill(std::vector<Event>& out, size_t n) {
  out.clear();
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(Next());
}

}  // namespace twin
