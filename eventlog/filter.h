// Which events a reader wants: the filters of `events`, the exporters and bundles.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eventlog/log.h"

namespace twin {

// Event filters shared by `events` and the exporters.
struct EventFilter {
  uint64_t since_ns = 0;
  uint64_t until_ns = UINT64_MAX;
  std::vector<EventKind> kinds;  // empty = all
  std::optional<int32_t> pid;
  std::optional<std::string> unit;
  std::optional<uint16_t> port;
  bool Matches(const Event& e) const;
  bool Matches(const EventView& e) const;
};

// Parses "exec,exit" / repeated --kind values into kinds; error names the valid kinds.
Status ParseKinds(const std::vector<std::string>& names, std::vector<EventKind>* out);

// Streams events matching the filter in key order.
Status ForEachFiltered(const EventLog& log, const EventFilter& f,
                       const std::function<bool(const EventKey&, const Event&)>& fn);
// The same with each event read in place (EventLog::ScanViews).
Status ForEachFilteredView(const EventLog& log, const EventFilter& f,
                           const std::function<bool(const EventKey&, const EventView&)>& fn);

}  // namespace twin
