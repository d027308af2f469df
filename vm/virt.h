// A thin RAII wrapper over the libvirt C API for the twin: domains, the guest agent (readiness
// from VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, commands through virDomainQemuAgentCommand), external
// disk-only snapshots and block commit. libvirt's -1 returns become Status at this border.
//
// Thread safety: a Virt may be used from several threads (libvirt connections are thread safe);
// the libvirt default event loop runs on one process-wide thread started on first Open.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eventlog/status.h"

namespace twin::vm {

struct GuestExecResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double elapsed_ms = 0;
};

struct SnapshotRequest {
  std::string domain;
  std::string name;
  std::string disk = "vda";
  std::string new_overlay;     // file that becomes the active layer
  bool quiesce = false;        // freeze guest filesystems through the agent
  bool keep_metadata = false;  // libvirt-side snapshot metadata (we keep our own catalogue)
};

class Virt {
 public:
  static Result<std::unique_ptr<Virt>> Open(const std::string& uri);
  ~Virt();
  Virt(const Virt&) = delete;
  Virt& operator=(const Virt&) = delete;

  const std::string& uri() const { return uri_; }
  bool IsTestDriver() const { return uri_.rfind("test:", 0) == 0; }

  Status Define(const std::string& xml);
  Status Start(const std::string& name);
  Status Destroy(const std::string& name);    // hard stop; ok if not running
  Status Undefine(const std::string& name);   // ok if not defined; stops it first
  Result<bool> Exists(const std::string& name);
  Result<bool> IsActive(const std::string& name);
  Result<std::string> XmlDesc(const std::string& name, bool inactive = false);
  Result<std::vector<std::string>> ListDomains();

  // Waits for the guest agent: returns when the agent-lifecycle event says "connected" and a
  // guest-ping answers (pings every 2 s as well, in case the event fired before we listened).
  Status WaitAgent(const std::string& name, int timeout_ms,
                   const std::atomic<bool>* cancel = nullptr);
  Result<nlohmann::json> AgentCommand(const std::string& name, const nlohmann::json& cmd,
                                      int timeout_s = 10);
  // Runs path with argv (no shell) in the guest, feeding input on stdin; waits for the exit.
  Result<GuestExecResult> GuestExec(const std::string& name, const std::string& path,
                                    const std::vector<std::string>& args,
                                    const std::string& input = "", int timeout_ms = 60000);
  // External disk-only snapshot (DISK_ONLY|ATOMIC[|QUIESCE][|NO_METADATA]); returns its ms.
  Result<double> SnapshotDiskOnly(const SnapshotRequest& req);
  // Live commit of a non-active layer top into base (both files in the chain); waits for it.
  Status BlockCommit(const std::string& name, const std::string& disk, const std::string& base,
                     const std::string& top, int timeout_ms);
  Result<std::vector<std::string>> SnapshotNames(const std::string& name);  // libvirt metadata

 private:
  Virt(std::string uri, void* conn);
  friend struct VirtCallbacks;
  void OnAgentEvent(const std::string& domain, bool connected);
  std::string uri_;
  void* conn_ = nullptr;  // virConnectPtr (kept opaque so users need not include libvirt)
  int agent_cb_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, bool> agent_connected_;
};

}  // namespace twin::vm
