// The twin VM: one libvirt domain whose disk is a chain of external qcow2 overlays on a read-only
// base image. It follows the host by (1) an external disk-only snapshot that freezes the twin as
// of the state it last reflected, then (2) a targeted Ansible run of the diff to the new state.
// Any past point can be brought back: fresh overlay on the snapshot's frozen image (libvirt 9.0
// cannot revert external snapshots), then the delta from that snapshot's state to T.
//
// Thread safety: not thread safe; TwinSync drives one TwinVm from its worker thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/state.h"
#include "eventlog/status.h"
#include "vm/accel.h"
#include "vm/ansible_runner.h"
#include "vm/catalogue.h"
#include "vm/playbook.h"
#include "vm/twin_settings.h"
#include "vm/virt.h"

namespace twin::vm {

// What twind and `twin-replay vm` set up per run on top of the user's settings.
struct TwinOptions : TwinSettings {
  bool libvirt_metadata = false;
  bool drive_guest = true;     // false: no agent/Ansible (libvirt test driver)
  // Host-side "which Debian package ships this path" (default: dpkg-query -S, no shell).
  std::function<std::optional<std::string>(const std::string&)> package_for_path;
  // A stored config file's bytes by SHA-256 (TwinSync sets it from the log's content store).
  std::function<std::optional<std::string>(const std::string& sha256)> config_content;
};

// kTwinAction events (attrs) go here; twind appends them to the log. May be empty.
using EventSink = std::function<void(const Event&)>;

struct ApplyOutcome {
  DeltaPlan plan;
  RunResult run;
  double probe_ms = 0;
  double total_ms = 0;
  bool success() const { return run.success(); }
};

class TwinVm {
 public:
  // catalogue may be null (read-only use: no snapshots are recorded then).
  static Result<std::unique_ptr<TwinVm>> Open(TwinOptions options, Catalogue* catalogue,
                                              EventSink sink);

  const TwinOptions& options() const { return options_; }
  Virt& virt() { return *virt_; }
  const AccelChoice& accel() const { return accel_; }

  // Defines the domain on a fresh overlay if it does not exist, starts it if stopped, and waits
  // until the guest agent answers. Returns the boot-to-agent time in ms (0 if already running).
  Result<double> EnsureRunning();
  // External disk-only snapshot; the frozen layer is catalogued as reflecting (state_ts, key).
  Result<SnapshotRecord> TakeSnapshot(uint64_t state_ts_ns, const EventKey& key, bool consistent,
                                      const std::string& note = "");
  // Plans the diff against what the twin has (probed through the agent) and runs it.
  Result<ApplyOutcome> Apply(const StateDiff& diff, const State& target);
  // The twind step: snapshot (if the twin reflects anything yet), then the delta applied -> target.
  // On success the domain record says the twin reflects target.
  Result<ApplyOutcome> Sync(const State& applied, const State& target);
  // Brings up a domain reflecting the host at t_ns: the newest snapshot at or before t_ns (or the
  // base image) plus the delta to state_at(t_ns). Named "<domain>-at-<time>" unless replace.
  // Returns the domain name.
  Result<std::string> BringUpAt(uint64_t t_ns, bool replace,
                                const std::function<Result<State>(uint64_t)>& state_at);
  // Commits the oldest frozen layers while the chain is longer than max_chain.
  Status Prune();
  // The `vm --at` copies of this twin (records under the overlay root named "<domain>-at-..."),
  // by name.
  Result<std::vector<DomainRecord>> AtDomains() const;
  // Removes one `vm --at` copy: undefines it in libvirt (stopping it first) and deletes its
  // overlays and record. Refuses the live twin and any name that is not such a copy; the
  // snapshot layers it was built on belong to the live twin's chain and stay.
  Status RemoveAtDomain(const std::string& name);

  Result<DomainRecord> LoadDomainRecord(const std::string& domain) const;
  Status SaveDomainRecord(const DomainRecord& d) const;
  std::string DomainDir(const std::string& domain) const;
  std::string ImageDir() const;

  // Guest checks used by tests and `twin-replay vm`: through the agent, argv only.
  Result<bool> UnitActive(const std::string& domain, const std::string& unit);
  Result<bool> Listening(const std::string& domain, uint8_t proto, uint16_t port);

  // Makes in-flight waits (boot, Ansible) give up promptly; used by TwinSync::Stop.
  void RequestCancel() { cancel_.store(true); }

 private:
  TwinVm(TwinOptions options, Catalogue* catalogue, EventSink sink);
  Result<double> StartDomain(const std::string& name, const std::string& disk);
  Status MakeDomainDir(const std::string& domain) const;
  Status CreateOverlay(const std::string& backing, const std::string& path);
  Result<TwinFacts> ProbeFacts(const std::string& domain, const StateDiff& diff);
  Result<ApplyOutcome> ApplyTo(const std::string& domain, const StateDiff& diff,
                               const State& target);
  void Record(const std::vector<std::pair<std::string, std::string>>& attrs,
              const std::string& summary);

  TwinOptions options_;
  Catalogue* catalogue_;
  EventSink sink_;
  std::unique_ptr<Virt> virt_;
  AccelChoice accel_;
  std::atomic<bool> cancel_{false};
};

// (DpkgPackageForPath is in vm/debs.h, ValidDomainName in vm/twin_settings.h.)

}  // namespace twin::vm
