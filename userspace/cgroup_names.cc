#include "userspace/cgroup_names.h"

#include <cctype>
#include <vector>

namespace twin::capture {
namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}
}  // namespace

bool IsUnitName(std::string_view name) {
  return EndsWith(name, ".service") || EndsWith(name, ".scope");
}

std::string UnitFromCgroup(std::string_view cgroup_path) {
  auto parts = Split(cgroup_path);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (IsUnitName(*it)) return std::string(*it);
  }
  return "";
}

std::string ContainerIdFromCgroup(std::string_view cgroup_path) {
  // Scan for a run of exactly 64 hex digits bounded by non-hex characters.
  const size_t n = cgroup_path.size();
  size_t i = 0;
  while (i < n) {
    if (!std::isxdigit(static_cast<unsigned char>(cgroup_path[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && std::isxdigit(static_cast<unsigned char>(cgroup_path[j]))) ++j;
    if (j - i == 64) return std::string(cgroup_path.substr(i, 64));
    i = j;
  }
  return "";
}

std::string_view Basename(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t k = path.rfind('/');
  return k == std::string_view::npos ? path : path.substr(k + 1);
}

}  // namespace twin::capture
