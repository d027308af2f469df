// `twind --check`: what capture needs, each item tested for real (probes are loaded and attached,
// then released), with a non-zero exit when capture cannot work.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fleet/digest.h"
#include "fleet/etcd.h"
#include "fleet/keys.h"
#include "userspace/daemon.h"
#include "userspace/disk_guard.h"
#include "userspace/probes.h"
#include "userspace/proc_read.h"
#include "userspace/unit_scan.h"

namespace twin::capture {
namespace {

struct Item {
  std::string name, status, detail;  // status: ok | warn | fail | info
};

// The fleet publisher's view of etcd, asked the way it will ask: each member's status, then a
// read of this host's own keys with the configured credentials. A fleet that cannot be reached
// is a warning: capture never waits for it.
void CheckFleet(const fleet::FleetOptions& o, std::vector<Item>* items) {
  if (!o.enabled()) {
    items->push_back({"fleet", "info", "off (no [fleet] endpoints)"});
    return;
  }
  if (Status s = fleet::ValidateFleetOptions(o); !s.ok()) {
    items->push_back({"fleet", "fail", s.message()});
    return;
  }
  auto pw = fleet::ReadPassword(o);
  if (!pw.ok()) {
    items->push_back({"fleet", "fail", pw.status().message()});
    return;
  }
  const fleet::HostIdentity id = fleet::ReadLocalIdentity(o.host_id);
  if (Status s = fleet::CheckHostId(id.host_id); !s.ok()) {
    items->push_back({"fleet", "fail", "host id: " + s.message()});
    return;
  }
  fleet::EtcdClient client(o, *pw);
  size_t reachable = 0;
  for (const auto& ep : o.endpoints) {
    auto st = client.MemberStatus(ep);
    if (!st.ok()) {
      items->push_back({"fleet " + ep, "warn", LogEscape(st.status().message())});
      continue;
    }
    ++reachable;
    std::string detail = "etcd member answers";
    auto j = nlohmann::json::parse(*st, nullptr, false);
    if (j.is_object()) {
      if (j.contains("version") && j["version"].is_string()) {
        detail = "etcd " + LogEscape(j["version"].get<std::string>());
      }
      if (j.contains("leader") && j.contains("header") && j["header"].is_object() &&
          j["header"].contains("member_id")) {
        detail += j["leader"] == j["header"]["member_id"] ? ", the leader" : ", a follower";
      }
    }
    items->push_back({"fleet " + ep, "ok", detail});
  }
  if (reachable == 0) {
    items->push_back({"fleet", "warn", "no etcd member answers: twind captures and publishes when one does"});
    return;
  }
  const std::string key = fleet::HostKey(o.prefix, fleet::KeyKind::kInfo, id.host_id);
  auto r = client.Range(key, "", 0, true);
  items->push_back({"fleet access", r.ok() ? "ok" : "warn",
                    r.ok() ? "host " + LogEscape(id.host_id) + " may read its keys under " + LogEscape(o.prefix) +
                                 (o.user.empty() ? "" : " as user " + LogEscape(o.user))
                           : LogEscape(r.status().message())});
}

}  // namespace

int RunCheck(const DaemonConfig& cfg) {
  std::vector<Item> items;
  auto add = [&](std::string n, std::string s, std::string d) {
    items.push_back({std::move(n), std::move(s), std::move(d)});
  };
  // The same validation the daemon runs (ValidateConfig via ParseCommandLine): a config the
  // daemon would refuse is never READY.
  add("config", cfg.config_error.empty() ? "ok" : "fail",
      cfg.config_error.empty() ? cfg.config_path : cfg.config_error);
  utsname u{};
  uname(&u);
  add("kernel", "info", std::string(u.release) + " " + u.machine);
  add("root", geteuid() == 0 ? "ok" : "fail", geteuid() == 0 ? "running as root" : "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)");
  struct stat st {};
  bool btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
  add("btf", btf ? "ok" : "fail", btf ? "/sys/kernel/btf/vmlinux" : "kernel BTF missing (CONFIG_DEBUG_INFO_BTF)");
  std::vector<std::string> actions;
  Status fs = EnsureKernelFilesystems(&actions);
  std::string acted;
  for (auto& a : actions) acted += (acted.empty() ? "" : "; ") + a;
  add("tracefs", IsMounted("/sys/kernel/tracing", kTracefsMagic) ? "ok" : "fail",
      fs.ok() ? (acted.empty() ? "mounted" : acted) : fs.message());
  add("bpffs", IsMounted("/sys/fs/bpf", kBpffsMagic) ? "ok" : "warn", "/sys/fs/bpf");
  std::string why;
  bool tp_btf = ProbeTpBtf(&why);
  add("tp_btf", tp_btf ? "ok" : "warn", tp_btf ? "BTF-typed tracepoints attach" : why + " (raw_tp fallback)");
  add("exit_group_dead", "info", ExitTracepointHasGroupDead() ? "sched_process_exit has group_dead" : "leader exits only");
  {
    Probes p;
    ProbeOptions po;
    po.ringbuf_bytes = cfg.ringbuf_bytes;
    po.max_args = cfg.max_args;
    po.force_raw_tp = cfg.force_raw_tp;
    Status s = p.Open();
    if (s.ok()) s = p.Configure(po);
    if (s.ok()) s = p.Load();
    if (!s.ok()) {
      add("probes", "fail", s.message());
    } else {
      (void)p.Attach().ok();  // per-hook results below carry the detail
      for (const HookStatus& h : p.hooks())
        add("hook " + h.name, h.attached ? "ok" : "fail", h.attached ? h.program : h.error);
      add("ringbuf", "ok", std::to_string(p.ringbuf_bytes()) + " bytes");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) {
    add("data dir", "fail", cfg.data_dir + ": " + ec.message());
  } else {
    chmod(cfg.data_dir.c_str(), 0700);
    stat(cfg.data_dir.c_str(), &st);
    bool w = access(cfg.data_dir.c_str(), W_OK) == 0;
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    add("data dir", w ? "ok" : "fail", cfg.data_dir + " mode " + mode);
    if (auto d = StatDisk(cfg.data_dir); d.ok()) {
      // The thresholds twind writes by (userspace/disk_guard.h), not the configured cap alone.
      const DiskThresholds th = ComputeDiskThresholds(d->size, cfg.min_free_bytes);
      const char* verdict = d->free < th.stop_below ? "fail" : d->free < th.warn_below ? "warn" : "ok";
      add("free disk", verdict,
          std::to_string(d->free >> 20) + " MiB free of " + std::to_string(d->size >> 20) +
              " MiB (writing stops below " + std::to_string(th.stop_below >> 10) + " KiB)");
    }
  }
  auto roots = FindCgroupRoots();
  add("cgroup", (!roots.v2.empty() || !roots.v1_systemd.empty()) ? "ok" : "warn",
      "v2: " + (roots.v2.empty() ? std::string("-") : roots.v2) +
          ", v1 name=systemd: " + (roots.v1_systemd.empty() ? std::string("-") : roots.v1_systemd));
  std::string pid1 = ReadFileLimited("/proc/1/comm", 64);
  while (!pid1.empty() && pid1.back() == '\n') pid1.pop_back();
  add("systemd", "info", pid1 == "systemd" ? "systemd is PID 1" : "PID 1 is " + LogEscape(pid1) + " (unit detection via cgroups only)");
  bool libvirt = stat("/var/run/libvirt/libvirt-sock", &st) == 0 || stat("/run/libvirt/libvirt-sock", &st) == 0;
  add("libvirt", cfg.no_twin ? "info" : (libvirt ? "ok" : "warn"),
      cfg.no_twin ? "twin disabled (--no-twin)" : (libvirt ? "libvirtd socket present" : "libvirtd not running (twin VM unavailable; capture unaffected)"));
  CheckFleet(cfg.fleet, &items);

  bool fail = false;
  for (auto& i : items) fail = fail || i.status == "fail";
  if (cfg.json) {
    nlohmann::json j;
    j["ready"] = !fail;
    for (auto& i : items) j["checks"].push_back({{"name", i.name}, {"status", i.status}, {"detail", i.detail}});
    printf("%s\n", j.dump(2).c_str());
  } else {
    for (auto& i : items) printf("%-4s  %-32s %s\n", i.status.c_str(), i.name.c_str(), i.detail.c_str());
    printf("\n%s\n", fail ? "NOT READY: capture cannot work (see 'fail' lines)" : "READY");
  }
  return fail ? 1 : 0;
}

}  // namespace twin::capture
