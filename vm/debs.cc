#include "vm/debs.h"

#include <sys/stat.h>

#include <filesystem>
#include <cstring>
#include <functional>
#include <regex>
#include <sstream>

#include "eventlog/deb_version.h"
#include "vm/process.h"

namespace twin::vm {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

// "perl:any (>= 5.36)" -> {perl, >=, 5.36}
Dependency ParseDep(const std::string& d) {
  Dependency out;
  std::string n = Trim(d);
  const size_t paren = n.find('(');
  if (paren != std::string::npos) {
    std::string c = n.substr(paren + 1);
    c = Trim(c.substr(0, c.find(')')));
    size_t i = 0;
    while (i < c.size() && (c[i] == '<' || c[i] == '>' || c[i] == '=')) ++i;
    out.op = c.substr(0, i);
    out.version = Trim(c.substr(i));
  }
  n = n.substr(0, n.find_first_of(" ("));
  if (auto colon = n.find(':'); colon != std::string::npos) n = n.substr(0, colon);
  out.name = n;
  return out;
}

std::vector<std::vector<Dependency>> ParseDeps(const std::string& field) {
  std::vector<std::vector<Dependency>> out;
  if (Trim(field).empty()) return out;
  for (const std::string& group : Split(field, ',')) {
    std::vector<Dependency> alts;
    for (const std::string& a : Split(group, '|')) {
      Dependency d = ParseDep(a);
      if (!d.name.empty()) alts.push_back(d);
    }
    if (!alts.empty()) out.push_back(alts);
  }
  return out;
}

bool Exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::map<std::string, HostPackage> ParseHostPackages(const std::string& text) {
  std::map<std::string, HostPackage> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto f = Split(line, '\t');
    if (f.size() < 7 || f[3] != "installed") continue;
    HostPackage p{f[0], f[1], f[2], ParseDeps(f[4]), {}};
    for (auto& d : ParseDeps(f[5])) p.depends.push_back(d);
    for (auto& g : ParseDeps(f[6]))
      for (auto& d : g) p.provides.push_back(d.name);
    out[p.name] = std::move(p);  // a second architecture of the same name: the last one
  }
  return out;
}

Result<std::map<std::string, HostPackage>> ReadHostPackages() {
  auto r = RunProcess({"/usr/bin/dpkg-query", "-W", "-f",
                       "${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\t"
                       "${Pre-Depends}\t${Depends}\t${Provides}\n"});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::IOError("dpkg-query failed: " + r->err);
  return ParseHostPackages(r->out);
}

std::vector<std::string> PackagesToInstall(const std::vector<std::string>& roots,
                                           const std::map<std::string, HostPackage>& host,
                                           const std::map<std::string, std::string>& twin_installed,
                                           std::vector<std::string>* unresolved) {
  auto twin_ok = [&](const Dependency& d) {
    auto it = twin_installed.find(d.name);
    if (it == twin_installed.end()) return false;
    return d.op.empty() || SatisfiesDebianConstraint(it->second, d.op, d.version);
  };
  std::map<std::string, std::string> provider;  // virtual name -> host package
  for (const auto& [n, p] : host)
    for (const auto& v : p.provides) provider.emplace(v, n);
  auto resolve = [&](const std::string& n) -> std::string {
    if (host.count(n)) return n;
    if (auto it = provider.find(n); it != provider.end()) return it->second;
    return "";
  };
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (!seen.insert(name).second) return;
    const HostPackage& p = host.at(name);
    for (const auto& alts : p.depends) {
      bool satisfied = false;
      for (const auto& a : alts) {
        if (twin_ok(a) || seen.count(a.name)) satisfied = true;
      }
      if (satisfied) continue;
      std::string pick;
      for (const auto& a : alts) {
        if (!(pick = resolve(a.name)).empty()) break;
      }
      if (pick.empty()) {
        if (unresolved) unresolved->push_back(name + " needs " + alts.front().name);
        continue;
      }
      visit(pick);
    }
    order.push_back(name);
  };
  for (const auto& r : roots) {
    if (host.count(r)) visit(r);
    else if (unresolved) unresolved->push_back(r + " is not installed on the host");
  }
  return order;
}

DebChoice FindDeb(const HostPackage& p, const std::string& work_dir, const std::string& archives) {
  DebChoice c{p.name, p.version, p.arch, "", "unavailable", ""};
  std::string v = p.version;
  for (size_t i = v.find(':'); i != std::string::npos; i = v.find(':', i)) v.replace(i, 1, "%3a");
  const std::string cached = archives + "/" + p.name + "_" + v + "_" + p.arch + ".deb";
  if (Exists(cached)) {
    c.path = cached;
    c.how = "exact";
    c.why = "the host's apt cache";
    return c;
  }
  std::error_code ec;
  const std::string dir = work_dir + "/repack-" + p.name;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  ProcessOptions po;
  po.cwd = dir;
  po.timeout_ms = 10 * 60 * 1000;
  auto r = RunProcess({"/usr/bin/dpkg-repack", "--", p.name}, po);
  if (!r.ok() || r->exit_code != 0) {
    c.why = "not in the apt cache; dpkg-repack failed: " +
            (r.ok() ? r->err.substr(0, 300) : r.status().ToString());
    return c;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".deb") {
      c.path = e.path().string();
      c.how = "repacked";
      c.why = "not in the apt cache; rebuilt from the installed files with dpkg-repack";
      return c;
    }
  }
  c.why = "dpkg-repack made no .deb";
  return c;
}

// The host-side "which Debian package ships this path" behind TwinOptions::package_for_path.
std::optional<std::string> DpkgPackageForPath(const std::string& path) {
  std::vector<std::string> candidates = {path};
  // merged /usr: dpkg knows a file under the path its package shipped it at.
  for (auto [a, b] : {std::pair{"/usr/bin/", "/bin/"}, {"/usr/sbin/", "/sbin/"},
                      {"/bin/", "/usr/bin/"}, {"/sbin/", "/usr/sbin/"}}) {
    if (path.rfind(a, 0) == 0) candidates.push_back(b + path.substr(strlen(a)));
  }
  static const std::regex pkg_re("^[a-z0-9][a-z0-9+.-]+$");
  for (const auto& c : candidates) {
    ProcessOptions po;
    po.timeout_ms = 10000;
    auto r = RunProcess({"dpkg-query", "-S", c}, po);
    if (!r.ok() || r->exit_code != 0) continue;
    std::istringstream in(r->out);
    std::string line;
    while (std::getline(in, line)) {
      auto sep = line.rfind(": ");
      if (sep == std::string::npos || line.substr(sep + 2) != c) continue;  // exact path only
      std::string pkg = line.substr(0, line.find_first_of(",:"));
      if (std::regex_match(pkg, pkg_re)) return pkg;
    }
  }
  return std::nullopt;
}

}  // namespace twin::vm
