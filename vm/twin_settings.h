// The twin's settings a user chooses: the [twin] table of twind.toml (userspace/config.cc), the
// same file `twin-replay vm` reads, then the two environment overrides, read once by each main.
// Plain data: no libvirt, so the config library and its fuzzer do not link it.
#pragma once

#include <cstdint>
#include <string>

#include "eventlog/status.h"

namespace twin::vm {

inline constexpr const char* kDefaultImageRoot = "/var/lib/safetytwin-images";
inline constexpr const char* kDefaultOverlayRoot = "/var/lib/libvirt/images/safetytwin";
inline constexpr const char* kDefaultWorkDir = "/var/cache/safetytwin/ansible";

struct TwinSettings {
  std::string uri = "qemu:///system";
  std::string domain = "safetytwin";
  std::string image_dir;  // base.qcow2 + vmlinuz + initrd.img; "" = <image root>/current
  std::string overlay_root = kDefaultOverlayRoot;  // <root>/<domain>/ holds overlays + domain.json
  std::string work_dir = kDefaultWorkDir;           // Ansible run bundles (root-only)
  std::string ansible_dir;                          // "" = DefaultAnsibleDir()
  std::string accel = "auto";                       // auto | kvm | tcg
  int memory_mib = 1024;
  int vcpus = 2;  // a second vCPU keeps the guest agent responsive while systemd works
  int boot_timeout_ms = 10 * 60 * 1000;
  uint32_t max_chain = 8;      // frozen overlays kept above the base before pruning
  bool user_net = false;       // outbound user-mode NIC (reach a Debian mirror); never a bridge
  // fsfreeze through the agent during snapshots. Off by default: every delta run ends with a
  // guest `sync`, so the twin's changes are on disk before the next snapshot, and a freeze on
  // a busy TCG guest costs 200-400 ms instead of ~50 ms.
  bool quiesce = false;
  // Reproduce the host's groups, users and config files (vm/playbook.h PlanOptions::host_config):
  // twind.toml's [host_config] twin = true (with capture enabled).
  bool host_config = false;
};

// A libvirt domain name the twin may use: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
bool ValidDomainName(const std::string& name);
// "auto", "kvm" or "tcg"; the error names the key.
Status CheckAccelName(const std::string& key, const std::string& value);

// The environment's overrides, for the mains to call once: SAFETYTWIN_TWIN_ACCEL (auto|kvm|tcg)
// and SAFETYTWIN_ANSIBLE_DIR (an absolute path). A bad value is an error naming the variable.
Status ApplyTwinEnvironment(TwinSettings* s);

}  // namespace twin::vm
