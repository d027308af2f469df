#include "vm/twin.h"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "vm/debs.h"
#include "vm/dirs.h"
#include "vm/domain_xml.h"
#include "vm/process.h"
#include "vm/twin_internal.h"

namespace twin::vm {
namespace fs = std::filesystem;
using internal::Clock;
using internal::CompactTime;
using internal::MsSince;
using internal::NowNs;
using internal::ReadAll;
using internal::WriteAtomic;

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

TwinVm::TwinVm(TwinOptions options, Catalogue* catalogue, EventSink sink)
    : options_(std::move(options)), catalogue_(catalogue), sink_(std::move(sink)) {}

Result<std::unique_ptr<TwinVm>> TwinVm::Open(TwinOptions options, Catalogue* catalogue,
                                             EventSink sink) {
  if (!ValidDomainName(options.domain)) {
    return Status::InvalidArgument("invalid twin domain name '" + options.domain + "'");
  }
  auto v = Virt::Open(options.uri);
  if (!v.ok()) return v.status();
  std::unique_ptr<TwinVm> t(new TwinVm(std::move(options), catalogue, std::move(sink)));
  t->virt_ = std::move(v.value());
  if (t->virt_->IsTestDriver()) t->options_.drive_guest = false;
  t->accel_ = DetectAccel(t->options_.accel);
  if (!t->options_.package_for_path) t->options_.package_for_path = DpkgPackageForPath;
  if (t->options_.ansible_dir.empty()) t->options_.ansible_dir = DefaultAnsibleDir();
  return t;
}

std::string TwinVm::ImageDir() const {
  if (!options_.image_dir.empty()) return options_.image_dir;
  std::error_code ec;
  auto p = fs::canonical(std::string(kDefaultImageRoot) + "/current", ec);
  return ec ? std::string(kDefaultImageRoot) + "/current" : p.string();
}

std::string TwinVm::DomainDir(const std::string& domain) const {
  return options_.overlay_root + "/" + domain;
}

Result<DomainRecord> TwinVm::LoadDomainRecord(const std::string& domain) const {
  auto text = ReadAll(DomainDir(domain) + "/domain.json");
  if (!text.ok()) return text.status();
  auto d = DomainFromJson(*text);
  if (!d) return Status::Corruption(DomainDir(domain) + "/domain.json is not valid");
  return *d;
}

Status TwinVm::SaveDomainRecord(const DomainRecord& d) const {
  if (Status s = MakeDomainDir(d.domain); !s.ok()) return s;
  return WriteAtomic(DomainDir(d.domain) + "/domain.json", DomainToJson(d));
}

void TwinVm::Record(const std::vector<std::pair<std::string, std::string>>& attrs,
                    const std::string& summary) {
  if (!sink_) return;
  Event e;
  e.kind = EventKind::kTwinAction;
  e.ts_ns = NowNs();
  e.reason = summary;
  e.attrs = attrs;
  sink_(e);
}

Status TwinVm::MakeDomainDir(const std::string& domain) const {
  // qemu runs as its own user and must traverse both the overlay root and the domain's dir.
  if (Status s = MakeHypervisorDir(options_.overlay_root); !s.ok()) return s;
  return MakeHypervisorDir(DomainDir(domain));
}

Status TwinVm::CreateOverlay(const std::string& backing, const std::string& path) {
  std::error_code ec;
  if (Status s = MakeHypervisorDir(fs::path(path).parent_path().string()); !s.ok()) return s;
  if (virt_->IsTestDriver()) return Status::Ok();  // the test driver never opens disks
  if (!fs::exists(backing, ec)) return Status::NotFound("backing image missing: " + backing);
  ProcessOptions po;
  po.timeout_ms = 60000;
  auto r = RunProcess({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing,
                       path},
                      po);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::IOError("qemu-img create " + path + ": " + r->err);
  // qemu-img's mode follows our umask; libvirt's DAC driver chowns the file to qemu's user when
  // the domain starts, so owner-only is what it needs, whoever started us.
  if (chmod(path.c_str(), 0600) != 0) {
    return Status::IOError("cannot set mode 0600 on " + path + ": " + strerror(errno));
  }
  return Status::Ok();
}

Result<double> TwinVm::StartDomain(const std::string& name, const std::string& disk) {
  DomainSpec spec;
  spec.name = name;
  spec.accel = accel_.accel;
  spec.memory_mib = options_.memory_mib;
  spec.vcpus = options_.vcpus;
  spec.disk = disk;
  spec.user_net = options_.user_net;
  if (options_.user_net) spec.cmdline += " systemd.wants=systemd-networkd.service";
  if (virt_->IsTestDriver()) {
    spec.domain_type_override = "test";
  } else {
    std::string img = ImageDir();
    spec.kernel = img + "/vmlinuz";
    spec.initrd = img + "/initrd.img";
    spec.console_log = DomainDir(name) + "/console.log";
    std::error_code ec;
    if (!fs::exists(spec.kernel, ec)) {
      return Status::NotFound("twin kernel missing: " + spec.kernel +
                              " (run scripts/build-twin-image.sh)");
    }
  }
  // Redefining a name needs the old UUID; we own these domains, so start from a clean slate.
  if (auto s = virt_->Undefine(name); !s.ok()) return s;
  if (auto s = virt_->Define(DomainXml(spec)); !s.ok()) return s;
  auto t0 = Clock::now();
  if (auto s = virt_->Start(name); !s.ok()) return s;
  if (!options_.drive_guest) return 0.0;
  if (auto s = virt_->WaitAgent(name, options_.boot_timeout_ms, &cancel_); !s.ok()) return s;
  double ms = MsSince(t0);
  Record({{"action", "boot"}, {"domain", name}, {"accel", AccelName(accel_.accel)},
          {"accel_reason", accel_.reason}, {"agent_ready_ms", fmt::format("{:.0f}", ms)}},
         fmt::format("twin {} booted ({}), guest agent ready after {:.1f} s", name,
                     AccelName(accel_.accel), ms / 1000));
  return ms;
}

Result<double> TwinVm::EnsureRunning() {
  const std::string& name = options_.domain;
  auto exists = virt_->Exists(name);
  if (!exists.ok()) return exists.status();
  auto rec = LoadDomainRecord(name);
  if (!*exists || !rec.ok()) {
    if (*exists) {
      // Defined but our bookkeeping is gone: start over on a fresh overlay (state unknown).
      virt_->Undefine(name).IgnoreError();
    }
    std::string base = ImageDir() + "/base.qcow2";
    std::error_code ec;
    if (!virt_->IsTestDriver() && !fs::exists(base, ec)) {
      return Status::NotFound("twin image missing: " + base +
                              " (run scripts/build-twin-image.sh)");
    }
    DomainRecord d;
    d.domain = name;
    d.base_image = base;
    d.active_overlay = DomainDir(name) + fmt::format("/disk-{}.qcow2", NowNs());
    d.chain = {d.active_overlay};
    if (auto s = CreateOverlay(base, d.active_overlay); !s.ok()) return s;
    if (auto s = SaveDomainRecord(d); !s.ok()) return s;
    return StartDomain(name, d.active_overlay);
  }
  auto active = virt_->IsActive(name);
  if (!active.ok()) return active.status();
  if (*active) {
    if (options_.drive_guest) {
      if (auto s = virt_->WaitAgent(name, options_.boot_timeout_ms, &cancel_); !s.ok()) return s;
    }
    return 0.0;
  }
  // Stopped: start it again on its active overlay (redefined, so image/accel changes apply).
  return StartDomain(name, rec->active_overlay);
}

Result<SnapshotRecord> TwinVm::TakeSnapshot(uint64_t state_ts_ns, const EventKey& key,
                                            bool consistent, const std::string& note) {
  if (!catalogue_) return Status::InvalidArgument("no catalogue: snapshots need the log writer");
  auto rec = LoadDomainRecord(options_.domain);
  if (!rec.ok()) return rec.status();
  auto t0 = Clock::now();
  uint64_t created = NowNs();
  SnapshotRequest req;
  req.domain = options_.domain;
  req.name = fmt::format("st-{}", created);
  req.new_overlay = DomainDir(options_.domain) + fmt::format("/disk-{}.qcow2", created);
  req.quiesce = options_.quiesce && options_.drive_guest;
  req.keep_metadata = options_.libvirt_metadata;
  std::string snap_note = note;
  auto ms = virt_->SnapshotDiskOnly(req);
  if (!ms.ok() && req.quiesce) {
    req.quiesce = false;
    snap_note += (snap_note.empty() ? "" : "; ") + std::string("not quiesced");
    ms = virt_->SnapshotDiskOnly(req);
  }
  if (!ms.ok()) {
    Record({{"action", "snapshot"}, {"domain", options_.domain}, {"status", "failed"},
            {"error", ms.status().message()}},
           "twin snapshot failed: " + ms.status().message());
    return ms.status();
  }
  SnapshotRecord r;
  r.id = fmt::format("{}@{}", options_.domain, created);
  r.domain = options_.domain;
  r.state_ts_ns = state_ts_ns;
  r.state_key = key;
  r.image = rec->active_overlay;
  r.parent_id = rec->last_snapshot_id;
  r.base_image = rec->base_image;
  r.created_ns = created;
  r.snapshot_ms = *ms;
  r.consistent = consistent;
  r.note = snap_note;
  rec->chain.push_back(req.new_overlay);
  rec->active_overlay = req.new_overlay;
  rec->last_snapshot_id = r.id;
  rec->last_snapshot_state_ts_ns = state_ts_ns;
  r.chain_depth = static_cast<uint32_t>(rec->chain.size() - 1);
  if (auto s = SaveDomainRecord(*rec); !s.ok()) return s;
  r.total_ms = MsSince(t0);  // bookkeeping so far; the catalogue write is added below
  if (auto s = catalogue_->Put(r); !s.ok()) return s;
  r.total_ms = MsSince(t0);
  catalogue_->Put(r).IgnoreError();  // same key: only refreshes total_ms
  Record({{"action", "snapshot"}, {"domain", options_.domain}, {"status", "ok"}, {"id", r.id},
          {"image", r.image}, {"state_ts_ns", std::to_string(state_ts_ns)},
          {"snapshot_ms", fmt::format("{:.1f}", r.snapshot_ms)},
          {"total_ms", fmt::format("{:.1f}", r.total_ms)},
          {"chain_depth", std::to_string(r.chain_depth)}},
         fmt::format("twin snapshot {} in {:.1f} ms", r.id, r.total_ms));
  return r;
}

Result<TwinFacts> TwinVm::ProbeFacts(const std::string& domain, const StateDiff& diff) {
  TwinFacts facts;
  bool any_missing = false;
  for (const auto& p : ProgramsReferenced(diff)) {
    auto r = virt_->GuestExec(domain, "/usr/bin/test", {"-e", p}, "", 30000);
    if (!r.ok()) return r.status();
    if (r->exit_code == 0) {
      facts.existing_programs.insert(p);
    } else {
      any_missing = true;
    }
  }
  if (options_.host_config) {
    // What the twin has installed, for the package closure (host_config only).
    auto r = virt_->GuestExec(domain, "/usr/bin/dpkg-query",
                              {"-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n"}, "",
                              60000);
    if (!r.ok()) return r.status();
    std::istringstream in(r->out);
    for (std::string line; std::getline(in, line);) {
      const size_t a = line.find('\t'), b = line.find('\t', a == std::string::npos ? a : a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      if (line.substr(b + 1) != "installed") continue;
      facts.installed_packages[line.substr(0, a)] = line.substr(a + 1, b - a - 1);
    }
  }
  if (any_missing && options_.user_net) {
    auto r = virt_->GuestExec(
        domain, "/usr/bin/python3",
        // The archive the twin's apt would use: the host's own sources, copied into the image.
        {"-c",
         "import socket, urllib.parse\n"
         "u = [l.split()[1] for l in open('/etc/apt/sources.list.d/host.list') if l.startswith('deb ')][0]\n"
         "p = urllib.parse.urlsplit(u)\n"
         "socket.create_connection((p.hostname, p.port or (443 if p.scheme == 'https' else 80)), timeout=5)\n"},
        "",
        30000);
    facts.mirror_reachable = r.ok() && r->exit_code == 0;
  }
  return facts;
}

Result<ApplyOutcome> TwinVm::ApplyTo(const std::string& domain, const StateDiff& diff,
                                     const State& target) {
  auto t0 = Clock::now();
  ApplyOutcome out;
  TwinFacts facts;
  if (options_.drive_guest) {
    auto f = ProbeFacts(domain, diff);
    if (!f.ok()) return f.status();
    facts = *f;
  }
  out.probe_ms = MsSince(t0);
  PlanOptions po;
  po.package_for_path = options_.package_for_path;
  po.host_config = options_.host_config;
  po.config_content = options_.config_content;
  if (options_.host_config) {
    const std::string deb_dir = options_.work_dir + "/debs";
    po.resolve_debs = [deb_dir](const std::vector<std::string>& roots,
                                const std::map<std::string, std::string>& twin) {
      DebResolution res;
      auto host = ReadHostPackages();
      if (!host.ok()) {
        res.unresolved.push_back("cannot read the host's packages: " + host.status().message());
        return res;
      }
      std::vector<std::string> names = PackagesToInstall(roots, *host, twin, &res.unresolved);
      for (const auto& n : names) res.debs.push_back(FindDeb(host->at(n), deb_dir));
      return res;
    };
  }
  out.plan = PlanDelta(diff, target, facts, po);
  for (const auto& a : out.plan.actions) {
    Record({{"action", "plan"}, {"domain", domain}, {"kind", a.kind}, {"target", a.target},
            {"detail", a.detail}},
           a.kind + " " + a.target);
  }
  if (out.plan.empty() || !options_.drive_guest) {
    out.run.exit_code = 0;
    out.total_ms = MsSince(t0);
    return out;
  }
  RunnerOptions ro;
  ro.ansible_dir = options_.ansible_dir;
  ro.work_dir = options_.work_dir;
  ro.cancel = &cancel_;
  AnsibleTarget target_host;
  target_host.domain = domain;
  target_host.uri = options_.uri;
  auto run = RunPlaybook(out.plan, po, target_host, ro);
  if (!run.ok()) {
    Record({{"action", "delta_run"}, {"domain", domain}, {"status", "failed"},
            {"error", run.status().message()}},
           "delta run could not start: " + run.status().message());
    return run.status();
  }
  out.run = *run;
  // Flush the guest so that the next (unquiesced) snapshot holds what this run wrote.
  if (auto s = virt_->GuestExec(domain, "/bin/sync", {}, "", 120000); !s.ok()) {
    Record({{"action", "sync_disk"}, {"domain", domain}, {"status", "failed"},
            {"error", s.status().message()}},
           "guest sync failed: " + s.status().message());
  }
  for (const auto& t : out.run.tasks) {
    if (t.status == "skipped") continue;
    Record({{"action", "task"}, {"domain", domain}, {"task", t.task}, {"item", t.item},
            {"status", t.status}, {"ignored", t.ignored ? "true" : "false"},
            {"ms", fmt::format("{:.0f}", t.ms)}, {"msg", t.msg}},
           t.status + ": " + t.task);
  }
  out.total_ms = MsSince(t0);
  Record({{"action", "delta_run"}, {"domain", domain},
          {"status", out.run.success() ? "ok" : "failed"},
          {"ok", std::to_string(out.run.ok)}, {"changed", std::to_string(out.run.changed)},
          {"failed", std::to_string(out.run.failed)},
          {"ansible_ms", fmt::format("{:.0f}", out.run.elapsed_ms)},
          {"total_ms", fmt::format("{:.0f}", out.total_ms)}, {"bundle", out.run.bundle_dir}},
         fmt::format("delta run {}: {} changed, {} failed in {:.1f} s",
                     out.run.success() ? "ok" : "failed", out.run.changed, out.run.failed,
                     out.total_ms / 1000));
  return out;
}

Result<ApplyOutcome> TwinVm::Apply(const StateDiff& diff, const State& target) {
  return ApplyTo(options_.domain, diff, target);
}

Result<ApplyOutcome> TwinVm::Sync(const State& applied, const State& target) {
  auto up = EnsureRunning();
  if (!up.ok()) return up.status();
  auto rec = LoadDomainRecord(options_.domain);
  if (!rec.ok()) return rec.status();
  StateDiff diff = Diff(applied, target);
  // Freeze the twin as it is (reflecting `applied`) before changing it, once per applied state.
  if (catalogue_ && rec->applied_state_ts_ns != 0 &&
      rec->last_snapshot_state_ts_ns != rec->applied_state_ts_ns) {
    auto snap = TakeSnapshot(rec->applied_state_ts_ns, rec->applied_state_key, rec->applied_ok);
    if (!snap.ok()) return snap.status();
    rec = LoadDomainRecord(options_.domain);
    if (!rec.ok()) return rec.status();
  }
  auto out = ApplyTo(options_.domain, diff, target);
  if (!out.ok()) return out;
  if (out->success()) {
    rec->applied_state_ts_ns = target.ts_ns;
    rec->applied_state_key = target.last_key;
    rec->applied_ok = true;
  } else {
    rec->applied_ok = false;
  }
  if (auto s = SaveDomainRecord(*rec); !s.ok()) return s;
  if (rec->chain.size() > options_.max_chain + 1) {
    if (auto s = Prune(); !s.ok()) {
      Record({{"action", "prune"}, {"domain", options_.domain}, {"status", "failed"},
              {"error", s.message()}},
             "twin chain prune failed: " + s.message());
    }
  }
  return out;
}

Status TwinVm::Prune() {
  if (!catalogue_) return Status::InvalidArgument("no catalogue");
  auto rec = LoadDomainRecord(options_.domain);
  if (!rec.ok()) return rec.status();
  // Layers another domain (a `vm --at` copy) builds on must not change under it.
  std::set<std::string> in_use;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.overlay_root, ec)) {
    if (entry.path().filename() == options_.domain) continue;
    auto other = LoadDomainRecord(entry.path().filename().string());
    if (!other.ok()) continue;
    in_use.insert(other->base_image);
    for (const auto& l : other->chain) in_use.insert(l);
  }
  while (rec->chain.size() > options_.max_chain + 1 && rec->chain.size() >= 3) {
    std::string lower = rec->chain[0], top = rec->chain[1];
    if (in_use.count(lower) || in_use.count(top)) {
      return Status::Busy("oldest twin layers are in use by a `vm --at` domain; not pruning");
    }
    auto t0 = Clock::now();
    auto active = virt_->IsActive(options_.domain);
    if (virt_->IsTestDriver()) {
      // no disks behind the test driver: only the bookkeeping below is exercised
    } else if (active.ok() && *active) {
      if (auto s = virt_->BlockCommit(options_.domain, "vda", lower, top, 10 * 60 * 1000);
          !s.ok()) {
        return s;
      }
    } else {
      auto c = RunProcess({"qemu-img", "commit", "-q", "-f", "qcow2", top});
      if (!c.ok() || c->exit_code != 0) return Status::IOError("qemu-img commit " + top);
      auto r = RunProcess({"qemu-img", "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", lower,
                           rec->chain[2]});
      if (!r.ok() || r->exit_code != 0) return Status::IOError("qemu-img rebase " + rec->chain[2]);
    }
    // The lower layer now holds the later point: its own point is gone.
    auto all = catalogue_->List(options_.domain);
    if (!all.ok()) return all.status();
    for (auto r : *all) {
      if (r.pruned) continue;
      if (r.image == lower) {
        r.pruned = true;
        r.note += (r.note.empty() ? "" : "; ") + std::string("merged away by block commit");
        if (auto s = catalogue_->Put(r); !s.ok()) return s;
      } else if (r.image == top) {
        r.image = lower;
        if (auto s = catalogue_->Put(r); !s.ok()) return s;
      }
    }
    if (!virt_->IsTestDriver()) fs::remove(top, ec);
    rec->chain.erase(rec->chain.begin() + 1);
    if (auto s = SaveDomainRecord(*rec); !s.ok()) return s;
    Record({{"action", "prune"}, {"domain", options_.domain}, {"status", "ok"},
            {"committed", top}, {"into", lower}, {"ms", fmt::format("{:.0f}", MsSince(t0))}},
           "twin chain pruned: " + top + " committed into " + lower);
  }
  return Status::Ok();
}

Result<bool> TwinVm::UnitActive(const std::string& domain, const std::string& unit) {
  auto r = virt_->GuestExec(domain, "/bin/systemctl", {"is-active", unit}, "", 60000);
  if (!r.ok()) return r.status();
  return Trim(r->out) == "active";
}

Result<bool> TwinVm::Listening(const std::string& domain, uint8_t proto, uint16_t port) {
  auto r = virt_->GuestExec(domain, "/bin/ss", {proto == kProtoUdp ? "-Hlun" : "-Hltn"}, "",
                            60000);
  if (!r.ok()) return r.status();
  std::istringstream in(r->out);
  std::string line;
  std::string suffix = ":" + std::to_string(port);
  while (std::getline(in, line)) {
    std::istringstream cols(line);
    std::string c0, c1, c2, local;
    cols >> c0 >> c1 >> c2 >> local;
    if (local.size() >= suffix.size() &&
        local.compare(local.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace twin::vm
