#include "vm/virt.h"

#include <signal.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "vm/domain_xml.h"
#include "format/codec.h"

namespace twin::vm {
namespace {

using Clock = std::chrono::steady_clock;

std::string LastError(const std::string& what) {
  const char* m = virGetLastErrorMessage();
  return what + ": " + (m ? m : "unknown libvirt error");
}

void SilentErrors(void*, virErrorPtr) {}

// libvirt's remote driver writes to a socket that libvirtd may have closed (a restart, a crash):
// the write raises SIGPIPE, whose default action kills the whole process -- twind included.
// libvirt asks its users to ignore SIGPIPE (virsh does); done here, once, unless the program
// installed a handler of its own. Children get the default back (vm/process.cc).
void IgnoreSigpipe() {
  struct sigaction old{};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction ign{};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, nullptr);
  }
}

// One process-wide libvirt event loop (needed for domain events such as agent lifecycle).
void EnsureEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    IgnoreSigpipe();
    virSetErrorFunc(nullptr, SilentErrors);
    if (virEventRegisterDefaultImpl() < 0) return;
    std::thread([] {
      while (true) {
        if (virEventRunDefaultImpl() < 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }).detach();
  });
}

struct DomainRef {
  virDomainPtr d = nullptr;
  ~DomainRef() {
    if (d) virDomainFree(d);
  }
};

Status Lookup(virConnectPtr c, const std::string& name, DomainRef* out) {
  out->d = virDomainLookupByName(c, name.c_str());
  if (!out->d) return Status::NotFound(LastError("domain " + name));
  return Status::Ok();
}


}  // namespace

struct VirtCallbacks {
  static void AgentLifecycle(virConnectPtr, virDomainPtr dom, int state, int /*reason*/,
                             void* opaque) {
    const char* name = virDomainGetName(dom);
    static_cast<Virt*>(opaque)->OnAgentEvent(
        name ? name : "", state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED);
  }
};

Result<std::unique_ptr<Virt>> Virt::Open(const std::string& uri) {
  EnsureEventLoop();
  virConnectPtr c = virConnectOpen(uri.c_str());
  if (!c) {
    return Status::Unavailable(LastError("cannot connect to " + uri) +
                               " (is libvirtd running? scripts/start-libvirt.sh starts it)");
  }
  std::unique_ptr<Virt> v(new Virt(uri, c));
  v->agent_cb_ = virConnectDomainEventRegisterAny(
      c, nullptr, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(&VirtCallbacks::AgentLifecycle), v.get(),
      nullptr);
  return v;
}

Virt::Virt(std::string uri, void* conn) : uri_(std::move(uri)), conn_(conn) {}

Virt::~Virt() {
  auto c = static_cast<virConnectPtr>(conn_);
  if (agent_cb_ >= 0) virConnectDomainEventDeregisterAny(c, agent_cb_);
  virConnectClose(c);
}

void Virt::OnAgentEvent(const std::string& domain, bool connected) {
  std::lock_guard<std::mutex> lock(mu_);
  agent_connected_[domain] = connected;
  cv_.notify_all();
}

Status Virt::Define(const std::string& xml) {
  virDomainPtr d = virDomainDefineXML(static_cast<virConnectPtr>(conn_), xml.c_str());
  if (!d) return Status::IOError(LastError("define domain"));
  virDomainFree(d);
  return Status::Ok();
}

Status Virt::Start(const std::string& name) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agent_connected_[name] = false;
  }
  if (virDomainCreate(d.d) < 0) return Status::IOError(LastError("start " + name));
  return Status::Ok();
}

Status Virt::Destroy(const std::string& name) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return Status::Ok();
  if (virDomainIsActive(d.d) == 1 && virDomainDestroy(d.d) < 0) {
    return Status::IOError(LastError("destroy " + name));
  }
  return Status::Ok();
}

Status Virt::Undefine(const std::string& name) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return Status::Ok();
  if (virDomainIsActive(d.d) == 1) virDomainDestroy(d.d);
  if (virDomainUndefineFlags(d.d, VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0 &&
      virDomainUndefine(d.d) < 0) {
    return Status::IOError(LastError("undefine " + name));
  }
  return Status::Ok();
}

Result<bool> Virt::Exists(const std::string& name) {
  DomainRef d;
  d.d = virDomainLookupByName(static_cast<virConnectPtr>(conn_), name.c_str());
  return d.d != nullptr;
}

Result<bool> Virt::IsActive(const std::string& name) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  int r = virDomainIsActive(d.d);
  if (r < 0) return Status::IOError(LastError("state of " + name));
  return r == 1;
}

Result<std::string> Virt::XmlDesc(const std::string& name, bool inactive) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  char* x = virDomainGetXMLDesc(d.d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
  if (!x) return Status::IOError(LastError("xml of " + name));
  std::string out(x);
  free(x);
  return out;
}

Result<std::vector<std::string>> Virt::ListDomains() {
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(static_cast<virConnectPtr>(conn_), &doms, 0);
  if (n < 0) return Status::IOError(LastError("list domains"));
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const char* nm = virDomainGetName(doms[i]);
    if (nm) out.emplace_back(nm);
    virDomainFree(doms[i]);
  }
  free(doms);
  return out;
}

Result<nlohmann::json> Virt::AgentCommand(const std::string& name, const nlohmann::json& cmd,
                                          int timeout_s) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  std::string text = cmd.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // A TCG guest under load can starve its agent past libvirt's 5 s guest-sync ("not available
  // for now"): transient, so retry for a while (the command was not delivered in that case).
  auto deadline = Clock::now() + std::chrono::seconds(std::max(timeout_s, 30));
  char* r = nullptr;
  while (true) {
    r = virDomainQemuAgentCommand(d.d, text.c_str(), timeout_s, 0);
    if (r) break;
    virErrorPtr e = virGetLastError();
    bool transient = e && e->code == VIR_ERR_AGENT_UNRESPONSIVE &&
                     cmd.value("execute", "") != "guest-ping";
    if (!transient || Clock::now() > deadline) {
      return Status::Unavailable(LastError("guest agent command on " + name));
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::string out(r);
  free(r);
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("guest agent returned non-JSON: " + out);
  if (j.contains("error")) return Status::IOError("guest agent error: " + j["error"].dump());
  return j.contains("return") ? j["return"] : j;
}

Status Virt::WaitAgent(const std::string& name, int timeout_ms,
                       const std::atomic<bool>* cancel) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto next_ping = Clock::now();
  while (Clock::now() < deadline) {
    if (cancel && cancel->load()) return Status::Unavailable("cancelled");
    bool connected = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, std::min({deadline, next_ping, Clock::now() + std::chrono::seconds(1)}),
                     [&] { return agent_connected_[name]; });
      connected = agent_connected_[name];
    }
    if (connected || Clock::now() >= next_ping) {
      auto r = AgentCommand(name, {{"execute", "guest-ping"}}, 3);
      if (r.ok()) return Status::Ok();
      next_ping = Clock::now() + std::chrono::seconds(2);
      if (connected) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto active = IsActive(name);
    if (active.ok() && !*active) return Status::Unavailable("domain " + name + " stopped");
  }
  return Status::Unavailable(fmt::format("guest agent of {} not ready after {} ms", name,
                                         timeout_ms));
}

Result<GuestExecResult> Virt::GuestExec(const std::string& name, const std::string& path,
                                        const std::vector<std::string>& args,
                                        const std::string& input, int timeout_ms) {
  auto start = Clock::now();
  nlohmann::json a = {{"path", path}, {"arg", args}, {"capture-output", true}};
  if (!input.empty()) a["input-data"] = Base64Encode(input);
  auto r = AgentCommand(name, {{"execute", "guest-exec"}, {"arguments", a}});
  if (!r.ok()) return r.status();
  if (!r->contains("pid")) return Status::Corruption("guest-exec: no pid");
  int64_t pid = (*r)["pid"].get<int64_t>();
  auto deadline = start + std::chrono::milliseconds(timeout_ms);
  int sleep_ms = 20;
  while (Clock::now() < deadline) {
    auto st = AgentCommand(name, {{"execute", "guest-exec-status"}, {"arguments", {{"pid", pid}}}});
    if (!st.ok()) return st.status();
    if (st->value("exited", false)) {
      GuestExecResult g;
      g.exit_code = st->contains("exitcode") ? (*st)["exitcode"].get<int>()
                                             : 128 + st->value("signal", 0);
      if (st->contains("out-data")) g.out = Base64Decode((*st)["out-data"].get<std::string>());
      if (st->contains("err-data")) g.err = Base64Decode((*st)["err-data"].get<std::string>());
      g.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      return g;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    sleep_ms = std::min(sleep_ms * 2, 200);
  }
  return Status::Unavailable(fmt::format("guest-exec {} timed out after {} ms", path, timeout_ms));
}

Result<double> Virt::SnapshotDiskOnly(const SnapshotRequest& req) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), req.domain, &d); !s.ok()) return s;
  std::string xml = fmt::format(
      "<domainsnapshot><name>{}</name><description>safetytwin</description><disks>"
      "<disk name='{}' snapshot='external'><driver type='qcow2'/><source file='{}'/></disk>"
      "</disks></domainsnapshot>",
      XmlEscape(req.name), XmlEscape(req.disk), XmlEscape(req.new_overlay));
  unsigned flags = VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
  if (req.quiesce) flags |= VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE;
  if (!req.keep_metadata) flags |= VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA;
  // The test driver knows no disk-only snapshots; it records the metadata of a plain one, which
  // is all control-flow tests can look at anyway.
  if (IsTestDriver()) {
    flags &= ~(VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE);
    xml = fmt::format("<domainsnapshot><name>{}</name></domainsnapshot>", XmlEscape(req.name));
  }
  auto start = Clock::now();
  virDomainSnapshotPtr s = virDomainSnapshotCreateXML(d.d, xml.c_str(), flags);
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!s) return Status::IOError(LastError("external snapshot of " + req.domain));
  virDomainSnapshotFree(s);
  return ms;
}

Status Virt::BlockCommit(const std::string& name, const std::string& disk,
                         const std::string& base, const std::string& top, int timeout_ms) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  if (virDomainBlockCommit(d.d, disk.c_str(), base.c_str(), top.c_str(), 0, 0) < 0) {
    return Status::IOError(LastError("block commit " + top + " into " + base));
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    virDomainBlockJobInfo info;
    int r = virDomainGetBlockJobInfo(d.d, disk.c_str(), &info, 0);
    if (r == 0) return Status::Ok();  // job gone: a non-active commit completes by itself
    if (r < 0) return Status::IOError(LastError("block job info"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  virDomainBlockJobAbort(d.d, disk.c_str(), 0);
  return Status::Unavailable("block commit timed out");
}

Result<std::vector<std::string>> Virt::SnapshotNames(const std::string& name) {
  DomainRef d;
  if (auto s = Lookup(static_cast<virConnectPtr>(conn_), name, &d); !s.ok()) return s;
  virDomainSnapshotPtr* snaps = nullptr;
  int n = virDomainListAllSnapshots(d.d, &snaps, 0);
  if (n < 0) return Status::IOError(LastError("list snapshots"));
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.emplace_back(virDomainSnapshotGetName(snaps[i]));
    virDomainSnapshotFree(snaps[i]);
  }
  free(snaps);
  return out;
}

}  // namespace twin::vm
