// Writes a delta plan as a run bundle (static playbook + !unsafe vars + staged files + inventory +
// ansible.cfg) and runs ansible-playbook on it with an explicit argv. The twin is reached only
// through the guest agent (connection plugin safetytwin_qga) — or, for tests, `local`.
#pragma once

#include "vm/twin_settings.h"

#include <atomic>
#include <string>
#include <vector>

#include "eventlog/status.h"
#include "vm/playbook.h"

namespace twin::vm {

struct AnsibleTarget {
  std::string connection = "safetytwin_qga";  // or "local"
  std::string domain;                          // libvirt domain (safetytwin_qga)
  std::string uri = "qemu:///system";
  std::string python = "/usr/bin/python3";
};

struct TaskResult {
  std::string task;
  std::string item;
  std::string status;  // ok, changed, failed, skipped, unreachable
  bool ignored = false;
  std::string msg;
  double ms = 0;
};

struct RunResult {
  int exit_code = -1;
  double elapsed_ms = 0;
  std::vector<TaskResult> tasks;
  std::string bundle_dir;
  std::string log_path;
  int ok = 0, changed = 0, failed = 0, skipped = 0;
  bool success() const { return exit_code == 0 && failed == 0; }
};

// kDefaultWorkDir (vm/twin_settings.h) is not under /tmp or /var/tmp: a local user could create
// the directory first and plant files in root's Ansible runs. Under systemd the unit's
// CacheDirectory= is /var/cache/safetytwin.

struct RunnerOptions {
  std::string ansible_dir;  // vm/ansible (delta.yml, plugins, files)
  std::string work_dir = kDefaultWorkDir;  // must be ours alone (MakePrivateDir)
  bool syntax_check_only = false;
  bool keep_bundle = true;
  int timeout_ms = 15 * 60 * 1000;
  const std::atomic<bool>* cancel = nullptr;
};

// The directory holding delta.yml and the plugins (TwinSettings::ansible_dir overrides it, from
// $SAFETYTWIN_ANSIBLE_DIR): the build-time
// source path, else the installed share dir.
std::string DefaultAnsibleDir();

Result<RunResult> RunPlaybook(const DeltaPlan& plan, const PlanOptions& plan_options,
                              const AnsibleTarget& target, const RunnerOptions& options);

}  // namespace twin::vm
