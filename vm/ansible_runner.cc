#include "vm/ansible_runner.h"

#include "vm/dirs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm/process.h"

#ifndef TWIN_ANSIBLE_SOURCE_DIR
#define TWIN_ANSIBLE_SOURCE_DIR ""
#endif
#ifndef TWIN_ANSIBLE_INSTALL_DIR
#define TWIN_ANSIBLE_INSTALL_DIR "/usr/local/share/safetytwin/ansible"
#endif

namespace twin::vm {
namespace fs = std::filesystem;

std::string DefaultAnsibleDir() {
  std::error_code ec;
  if (std::string(TWIN_ANSIBLE_SOURCE_DIR).size() &&
      fs::exists(std::string(TWIN_ANSIBLE_SOURCE_DIR) + "/delta.yml", ec)) {
    return TWIN_ANSIBLE_SOURCE_DIR;
  }
  return TWIN_ANSIBLE_INSTALL_DIR;
}

namespace {

Status WriteFile(const std::string& path, const std::string& content, mode_t mode = 0600) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::IOError("cannot write " + path);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  f.close();
  if (!f) return Status::IOError("cannot write " + path);
  chmod(path.c_str(), mode);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Result<RunResult> RunPlaybook(const DeltaPlan& plan, const PlanOptions& plan_options,
                              const AnsibleTarget& target, const RunnerOptions& options) {
  std::error_code ec;
  if (Status s = MakePrivateDir(options.work_dir); !s.ok()) return s;
  std::string tmpl = options.work_dir + "/twin-run-XXXXXX";
  if (!mkdtemp(tmpl.data())) return Status::IOError("mkdtemp in " + options.work_dir);
  const std::string dir = tmpl;
  fs::create_directories(dir + "/files", ec);
  fs::create_directories(dir + "/tmp", ec);

  // The static playbook and the placeholder program are copied, never generated.
  auto playbook = ReadFile(options.ansible_dir + "/delta.yml");
  if (!playbook.ok()) return playbook.status();
  auto placeholder = ReadFile(options.ansible_dir + "/files/placeholder-listen.py");
  if (!placeholder.ok()) return placeholder.status();
  if (auto s = WriteFile(dir + "/delta.yml", *playbook); !s.ok()) return s;
  if (auto s = WriteFile(dir + "/files/placeholder-listen.py", *placeholder, 0644); !s.ok()) {
    return s;
  }
  for (const auto& f : plan.files) {
    if (auto s = WriteFile(dir + "/files/" + f.name, f.content, 0644); !s.ok()) return s;
  }
  if (auto s = WriteFile(dir + "/vars.yml", RenderVarsYaml(plan, *placeholder, plan_options));
      !s.ok()) {
    return s;
  }
  std::string inv = "all:\n  hosts:\n    twin:\n";
  inv += "      ansible_connection: " + YamlUnsafeString(target.connection) + "\n";
  inv += "      ansible_python_interpreter: " + YamlUnsafeString(target.python) + "\n";
  if (target.connection == "safetytwin_qga") {
    inv += "      ansible_host: " + YamlUnsafeString(target.domain) + "\n";
    inv += "      safetytwin_uri: " + YamlUnsafeString(target.uri) + "\n";
  }
  if (auto s = WriteFile(dir + "/inventory.yml", inv); !s.ok()) return s;
  std::string cfg = fmt::format(
      "[defaults]\n"
      "connection_plugins = {0}/connection_plugins\n"
      "callback_plugins = {0}/callback_plugins\n"
      "callbacks_enabled = safetytwin_results\n"
      "library = {0}/library\n"
      "action_plugins = {0}/action_plugins\n"
      "retry_files_enabled = False\n"
      "host_key_checking = False\n"
      "deprecation_warnings = False\n"
      "interpreter_python = {2}\n"
      "forks = 1\n"
      "gathering = explicit\n"
      "local_tmp = {1}/tmp\n"
      "remote_tmp = /tmp/.ansible-safetytwin\n"
      "nocows = 1\n"
      "[connection]\n"
      "pipelining = True\n",
      options.ansible_dir, dir, target.python);
  if (auto s = WriteFile(dir + "/ansible.cfg", cfg); !s.ok()) return s;

  RunResult res;
  res.bundle_dir = dir;
  res.log_path = dir + "/ansible.log";
  std::vector<std::string> argv = {"ansible-playbook", "-i", dir + "/inventory.yml",
                                   dir + "/delta.yml"};
  if (options.syntax_check_only) argv.push_back("--syntax-check");
  ProcessOptions po;
  po.env = {"ANSIBLE_CONFIG=" + dir + "/ansible.cfg", "SAFETYTWIN_RESULTS=" + dir + "/results.jsonl",
            "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "HOME=" + dir,
            // ansible-playbook's own python must see python3-libvirt: use the system one.
            "PYTHONNOUSERSITE=1"};
  po.stdout_file = res.log_path;
  po.timeout_ms = options.timeout_ms;
  po.cwd = dir;
  po.cancel = options.cancel;
  auto pr = RunProcess(argv, po);
  if (!pr.ok()) return pr.status();
  res.exit_code = pr->exit_code;
  res.elapsed_ms = pr->elapsed_ms;
  if (auto lines = ReadFile(dir + "/results.jsonl"); lines.ok()) {
    std::istringstream in(*lines);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      TaskResult t;
      t.task = j.value("task", "");
      t.item = j.value("item", "");
      t.status = j.value("status", "");
      t.ignored = j.value("ignored", false);
      t.msg = j.value("msg", "");
      t.ms = j.value("ms", 0.0);
      if (t.status == "ok") ++res.ok;
      else if (t.status == "changed") ++res.changed;
      else if (t.status == "skipped") ++res.skipped;
      // An ignored failure still means the twin is not in line, except stopping a unit that
      // is already gone (placeholders removed twice, units the twin never had).
      else if (!(t.ignored && t.task.rfind("stop and disable", 0) == 0)) ++res.failed;
      res.tasks.push_back(std::move(t));
    }
  }
  if (!options.keep_bundle) fs::remove_all(dir, ec);
  return res;
}

}  // namespace twin::vm
