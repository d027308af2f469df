// Drift across hosts: within each group (hosts sharing a label's value, or all of them), every
// item (package version, unit-file hash, unit, listener, config-file hash) on which a host
// differs from the majority of its group. Pure: tests feed it digests directly.
#pragma once

#include <string>
#include <vector>

#include "fleet/digest.h"

namespace twin::fleet {

struct DriftItem {
  std::string host_id;
  std::string category;  // packages, units, listeners, config_files
  std::string item;      // package / unit name, listener, path
  bool present = false;  // the host has the item
  std::string value;     // its value there (version, hash, owner)
  bool majority_present = false;
  std::string majority;  // the group's majority value ("" when majority_present is false)
  size_t agree = 0;      // hosts of the group that hold the majority value
  bool split = false;    // no value is held by more than half the group: every host is listed
};

struct DriftGroup {
  std::string label_value;  // the group_by label's value ("" = all hosts, or hosts without it)
  std::vector<std::string> hosts;
  std::vector<DriftItem> items;  // sorted by category, item, host
};

// group_by: a label key ("" = one group). Digests are taken as given (filter them first).
std::vector<DriftGroup> ComputeDrift(const std::vector<Digest>& digests, const std::string& group_by);

// True when the digest carries every label of the filter (key=value pairs).
bool MatchesLabels(const Digest& d, const Labels& filter);

}  // namespace twin::fleet
