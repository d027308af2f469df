#include "fleet/drift.h"

#include <algorithm>
#include <map>
#include <set>

namespace twin::fleet {
namespace {

std::string LabelOf(const Digest& d, const std::string& key) {
  for (const auto& [k, v] : d.labels) {
    if (k == key) return v;
  }
  return "";
}

void GroupDrift(const std::vector<const Digest*>& hosts, DriftGroup& g) {
  const size_t n = hosts.size();
  for (const char* cat : kCategories) {
    std::set<std::string> keys;
    for (const Digest* d : hosts) {
      for (const auto& [k, v] : Category(*d, cat)) keys.insert(k);
    }
    for (const std::string& key : keys) {
      // nullopt = absent.
      std::map<std::optional<std::string>, size_t> tally;
      std::vector<std::optional<std::string>> vals(n);
      for (size_t i = 0; i < n; ++i) {
        const Items& items = Category(*hosts[i], cat);
        auto it = items.find(key);
        if (it != items.end()) vals[i] = it->second;
        ++tally[vals[i]];
      }
      if (tally.size() == 1) continue;  // every host agrees
      auto top = std::max_element(tally.begin(), tally.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
      const bool majority = top->second * 2 > n;
      for (size_t i = 0; i < n; ++i) {
        if (majority && vals[i] == top->first) continue;
        DriftItem item;
        item.host_id = hosts[i]->host_id;
        item.category = cat;
        item.item = key;
        item.present = vals[i].has_value();
        item.value = vals[i].value_or("");
        item.split = !majority;
        if (majority) {
          item.majority_present = top->first.has_value();
          item.majority = top->first.value_or("");
          item.agree = top->second;
        }
        g.items.push_back(std::move(item));
      }
    }
  }
}

}  // namespace

bool MatchesLabels(const Digest& d, const Labels& filter) {
  for (const auto& [k, v] : filter) {
    bool found = false;
    for (const auto& [dk, dv] : d.labels) found = found || (dk == k && dv == v);
    if (!found) return false;
  }
  return true;
}

std::vector<DriftGroup> ComputeDrift(const std::vector<Digest>& digests, const std::string& group_by) {
  std::map<std::string, std::vector<const Digest*>> groups;
  for (const Digest& d : digests) groups[group_by.empty() ? "" : LabelOf(d, group_by)].push_back(&d);
  std::vector<DriftGroup> out;
  for (auto& [value, hosts] : groups) {
    std::sort(hosts.begin(), hosts.end(), [](const Digest* a, const Digest* b) { return a->host_id < b->host_id; });
    DriftGroup g;
    g.label_value = value;
    for (const Digest* d : hosts) g.hosts.push_back(d->host_id);
    GroupDrift(hosts, g);
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace twin::fleet
