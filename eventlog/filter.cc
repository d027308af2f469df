#include "eventlog/filter.h"

#include <algorithm>

namespace twin {

namespace {
template <typename E>
bool FilterMatches(const EventFilter& f, const E& e) {
  if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), e.kind) == f.kinds.end()) {
    return false;
  }
  if (f.pid && e.pid != *f.pid) return false;
  if (f.unit && std::string_view(e.unit) != *f.unit) return false;
  if (f.port) {
    const bool sock = IsSocketKind(e.kind) ||
                      (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kListener);
    if (!sock || e.port != *f.port) return false;
  }
  return true;
}
}  // namespace

bool EventFilter::Matches(const Event& e) const { return FilterMatches(*this, e); }
bool EventFilter::Matches(const EventView& e) const { return FilterMatches(*this, e); }

Status ParseKinds(const std::vector<std::string>& names, std::vector<EventKind>* out) {
  for (const auto& item : names) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t comma = item.find(',', start);
      std::string name = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? item.size() + 1 : comma + 1;
      if (name.empty()) continue;
      auto k = KindFromName(name);
      if (!k) {
        std::string valid;
        for (int i = 1; i <= kEventKindMax; ++i) {
          valid += (i > 1 ? ", " : "") + std::string(KindName(static_cast<EventKind>(i)));
        }
        return Status::InvalidArgument("unknown event kind '" + name + "'; valid kinds: " + valid);
      }
      out->push_back(*k);
    }
  }
  return Status::Ok();
}

Status ForEachFiltered(const EventLog& log, const EventFilter& f,
                       const std::function<bool(const EventKey&, const Event&)>& fn) {
  return log.Scan({f.since_ns, 0}, {f.until_ns, UINT64_MAX},
                  [&](const EventKey& k, const Event& e) { return !f.Matches(e) || fn(k, e); });
}

Status ForEachFilteredView(const EventLog& log, const EventFilter& f,
                           const std::function<bool(const EventKey&, const EventView&)>& fn) {
  return log.ScanViews({f.since_ns, 0}, {f.until_ns, UINT64_MAX},
                       [&](const EventKey& k, const EventView& e) { return !f.Matches(e) || fn(k, e); });
}

}  // namespace twin
