// twind's [host_config] settings: what host configuration to capture and where (docs/OPERATIONS.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace twin::capture {

// The documented default denylist (docs/OPERATIONS.md, "Secrets"): recorded as present with
// their hash, content withheld.
inline std::vector<std::string> DefaultSecretPaths() {
  return {"/etc/shadow*",
          "/etc/gshadow*",
          "/etc/ssh/ssh_host_*_key",
          "/etc/ssl/private/**",
          "/etc/security/opasswd",
          "/etc/safetytwin/*.key",
          "/etc/krb5.keytab",
          "/etc/NetworkManager/system-connections/**",
          "/etc/wireguard/**",
          "/etc/ppp/*-secrets"};
}

struct HostConfigOptions {
  bool enabled = true;
  std::vector<std::string> roots = {"/etc", "/usr/local/etc"};
  // The systemd unit directories (eventlog/state.h UnitConfig): unit files of every type,
  // drop-ins and the enablement links. A directory reached under two names (/lib -> usr/lib on
  // a merged-/usr system) is walked once, under the first.
  std::vector<std::string> unit_dirs = {"/etc/systemd/system", "/usr/local/lib/systemd/system",
                                        "/lib/systemd/system", "/usr/lib/systemd/system"};
  std::string dpkg_dir = "/var/lib/dpkg";
  std::string passwd_file = "/etc/passwd";
  std::string group_file = "/etc/group";
  uint64_t max_content_bytes = 1u << 20;  // bigger files: hash only, content "too_large"
  // Secrets: globs as fnmatch(3) with FNM_PATHNAME ('*' stops at '/'); a trailing "/**" matches
  // everything below a directory. Files whose content holds a PEM private key block are withheld
  // whatever their path.
  std::vector<std::string> secret_paths = DefaultSecretPaths();
  // A change is scanned once the watched paths were quiet this long (dpkg rewrites its status
  // file many times per run), or after debounce_max_ms of continuous changes.
  uint32_t debounce_ms = 100;
  uint32_t debounce_max_ms = 1000;
  // While inotify runs, the periodic reconcile walks the roots this often (the dpkg status file
  // is checked at every reconcile; without inotify the roots are walked at every reconcile).
  uint32_t rescan_interval_s = 60;
  // The twin also reproduces groups, users and config files (vm/playbook.h). Off by default
  // until a real-VM test proves it.
  bool twin = false;
};

}  // namespace twin::capture
