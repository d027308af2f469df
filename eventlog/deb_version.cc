#include "eventlog/deb_version.h"

#include <cctype>
#include <cstdint>

namespace twin {
namespace {

int Order(int c) {
  if (std::isdigit(c)) return 0;
  if (std::isalpha(c)) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

// dpkg's verrevcmp.
int VerRevCmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) -> int {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0;
  };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !std::isdigit(at(a, i))) || (j < b.size() && !std::isdigit(at(b, j)))) {
      const int ac = Order(at(a, i)), bc = Order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (at(a, i) == '0') ++i;
    while (at(b, j) == '0') ++j;
    while (std::isdigit(at(a, i)) && std::isdigit(at(b, j))) {
      if (!first_diff) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (std::isdigit(at(a, i))) return 1;
    if (std::isdigit(at(b, j))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct DebVersion {
  uint64_t epoch = 0;
  std::string_view upstream, revision;
};
DebVersion SplitVersion(std::string_view v) {
  DebVersion d;
  if (size_t c = v.find(':'); c != std::string_view::npos) {
    for (char ch : v.substr(0, c)) {
      if (ch >= '0' && ch <= '9') d.epoch = d.epoch * 10 + static_cast<uint64_t>(ch - '0');
    }
    v.remove_prefix(c + 1);
  }
  if (size_t h = v.rfind('-'); h != std::string_view::npos) {
    d.revision = v.substr(h + 1);
    v = v.substr(0, h);
  }
  d.upstream = v;
  return d;
}

}  // namespace

int CompareDebianVersions(std::string_view a, std::string_view b) {
  const DebVersion x = SplitVersion(a), y = SplitVersion(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  if (int r = VerRevCmp(x.upstream, y.upstream); r) return r < 0 ? -1 : 1;
  if (int r = VerRevCmp(x.revision, y.revision); r) return r < 0 ? -1 : 1;
  return 0;
}

bool SatisfiesDebianConstraint(std::string_view version, std::string_view op,
                               std::string_view wanted) {
  const int c = CompareDebianVersions(version, wanted);
  if (op == "=") return c == 0;
  if (op == ">=") return c >= 0;
  if (op == "<=") return c <= 0;
  if (op == ">>") return c > 0;
  if (op == "<<") return c < 0;
  return false;
}

}  // namespace twin
