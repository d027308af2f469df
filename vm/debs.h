// The host side of package fidelity: which Debian packages the twin needs (the packages a
// reproduced unit or config file comes from, and every dependency the twin lacks), and a .deb
// of each at the host's exact version: the host's apt cache first, else a .deb rebuilt from the
// installed files with dpkg-repack. No mirror is assumed (the twin has no NIC by default).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace twin::vm {

struct Dependency {
  std::string name;
  std::string op, version;  // "" when unversioned; else = >= <= >> <<
};

struct HostPackage {
  std::string name, version, arch;
  std::vector<std::vector<Dependency>> depends;  // Pre-Depends + Depends: alternatives groups
  std::vector<std::string> provides;
};

// The host's installed packages (dpkg-query, argv only).
Result<std::map<std::string, HostPackage>> ReadHostPackages();
// Parses `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\t
// ${Pre-Depends}\t${Depends}\t${Provides}\n'` output; only installed ones are kept.
std::map<std::string, HostPackage> ParseHostPackages(const std::string& text);

// roots plus, recursively, every dependency the twin does not have (twin_installed: name ->
// version), dependencies before dependents. An alternative group is satisfied by its first
// member the twin has, else the first the host has; a virtual name by a host package that
// provides it. A versioned dependency the twin's version does not satisfy is installed at the
// host's (perl needs perl-base at exactly its own version). Dependencies the host does not have
// either are reported in *unresolved.
std::vector<std::string> PackagesToInstall(const std::vector<std::string>& roots,
                                           const std::map<std::string, HostPackage>& host,
                                           const std::map<std::string, std::string>& twin_installed,
                                           std::vector<std::string>* unresolved);

struct DebChoice {
  std::string name, version, arch;
  std::string path;  // on the host; "" when unavailable
  std::string how;   // "exact" (the apt cache's .deb), "repacked" (dpkg-repack), "unavailable"
  std::string why;
};
// The .deb for the host's package at its exact version; repacked ones go under work_dir.
DebChoice FindDeb(const HostPackage& p, const std::string& work_dir,
                  const std::string& archives = "/var/cache/apt/archives");

// dpkg-query -S on the host, exact path match (merged /usr tried both ways), package name
// validated (no shell).
std::optional<std::string> DpkgPackageForPath(const std::string& path);

}  // namespace twin::vm
