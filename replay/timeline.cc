#include "replay/timeline.h"

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "eventlog/codec.h"
#include "eventlog/event_view.h"
#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "vm/catalogue.h"

namespace twin {
namespace {

constexpr uint64_t kSec = 1'000'000'000ull;
struct Width {
  uint64_t ns;
  const char* name;
};
constexpr uint64_t kMs = 1'000'000ull;
// From 1 ms: a busy host writes thousands of events a second, more than one list shows, and a
// user narrowing the range by zooming must reach buckets that hold fewer.
constexpr Width kWidths[] = {
    {kMs, "1ms"},           {2 * kMs, "2ms"},         {5 * kMs, "5ms"},
    {10 * kMs, "10ms"},     {20 * kMs, "20ms"},       {50 * kMs, "50ms"},
    {100 * kMs, "100ms"},   {250 * kMs, "250ms"},     {500 * kMs, "500ms"},
    {kSec, "1s"},           {2 * kSec, "2s"},         {5 * kSec, "5s"},
    {10 * kSec, "10s"},     {30 * kSec, "30s"},       {60 * kSec, "1m"},
    {120 * kSec, "2m"},     {300 * kSec, "5m"},       {600 * kSec, "10m"},
    {1800 * kSec, "30m"},   {3600 * kSec, "1h"},      {7200 * kSec, "2h"},
    {21600 * kSec, "6h"},   {43200 * kSec, "12h"},    {86400 * kSec, "1d"},
    {7 * 86400 * kSec, "7d"}, {30 * 86400 * kSec, "30d"},
};

}  // namespace

uint64_t TimelineBucketNs(uint64_t span_ns, uint32_t max_buckets) {
  if (max_buckets == 0) max_buckets = 1;
  for (const Width& w : kWidths) {
    if (span_ns / w.ns + (span_ns % w.ns != 0) <= max_buckets) return w.ns;
  }
  return kWidths[std::size(kWidths) - 1].ns;  // beyond max_buckets months: more buckets
}

std::string_view TimelineBucketName(uint64_t bucket_ns) {
  for (const Width& w : kWidths) {
    if (w.ns == bucket_ns) return w.name;
  }
  return "?";
}

Status TimelineDocument(const EventLog& log, const TimelineOptions& o, std::string* out) {
  if (o.until_ns <= o.since_ns) {
    return Status::InvalidArgument("the range is empty: since " + FormatRfc3339Ns(o.since_ns) +
                                   " is not before until " + FormatRfc3339Ns(o.until_ns));
  }
  const uint64_t width = TimelineBucketNs(o.until_ns - o.since_ns, o.max_buckets);
  const uint64_t origin = o.since_ns / width * width;  // buckets aligned on the epoch (UTC)
  const uint64_t nbuckets = (o.until_ns - origin + width - 1) / width;
  constexpr size_t kKinds = kEventKindMax + 1;
  std::vector<std::array<uint64_t, kKinds>> counts(nbuckets, std::array<uint64_t, kKinds>{});
  std::array<uint64_t, kKinds> totals{};

  // The range is cut into slices scanned by one thread each (the scan is the cost: a day of a
  // busy host is a million records); each slice keeps its own counts, markers and daemon
  // stops/starts, merged in time order below.
  struct Slice {
    uint64_t from = 0, to = 0;  // [from, to)
    std::vector<std::array<uint64_t, kKinds>> counts;
    std::vector<std::string> twin_actions;  // EventToJson of the first max_markers
    uint64_t twin_action_total = 0;
    std::vector<std::pair<uint64_t, bool>> daemon;  // (ts, is_stop)
    Status status;
  };
  const uint64_t span = o.until_ns - o.since_ns;
  unsigned threads = o.threads ? o.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  if (span < 4 * width || span < 1'000'000'000ull) threads = 1;  // small ranges: not worth it
  std::vector<Slice> slices(threads);
  for (unsigned i = 0; i < threads; ++i) {
    slices[i].from = o.since_ns + span / threads * i;
    slices[i].to = i + 1 == threads ? o.until_ns : o.since_ns + span / threads * (i + 1);
  }
  auto scan = [&](Slice& sl) {
    sl.counts.assign(nbuckets, std::array<uint64_t, kKinds>{});
    EventView v;
    Status bad;
    // Records are verified (as every reader does) but decoded only as far as the kind, except
    // the rare ones shown as markers.
    Status s = log.ScanRecords(
        {sl.from, 0}, {sl.to - 1, UINT64_MAX},
        [&](const EventKey& k, std::string_view record) {
          EventKind kind;
          if (Status d = DecodeEventKind(record, &kind); !d.ok()) {
            bad = RecordCorruption(k, d);
            return false;
          }
          const size_t ki = static_cast<size_t>(kind) < kKinds ? static_cast<size_t>(kind) : 0;
          ++sl.counts[(k.ts_ns - origin) / width][ki];
          if (kind == EventKind::kTwinAction) {
            if (sl.twin_action_total++ < o.max_markers) {
              if (Status d = DecodeEventView(record, &v); !d.ok()) {
                bad = RecordCorruption(k, d);
                return false;
              }
              std::string one;
              JsonWriter w(one);
              EventToJson(k, v, w);
              sl.twin_actions.push_back(std::move(one));
            }
          } else if (kind == EventKind::kDaemonStop || kind == EventKind::kDaemonStart) {
            sl.daemon.emplace_back(k.ts_ns, kind == EventKind::kDaemonStop);
          }
          return true;
        });
    sl.status = s.ok() ? bad : s;
  };
  {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back(scan, std::ref(slices[i]));
    scan(slices[0]);
    for (auto& t : pool) t.join();
  }
  std::string twin_actions, down;
  uint64_t twin_action_total = 0, down_total = 0, shown_actions = 0;
  JsonWriter ta(twin_actions), dw(down);
  ta.BeginArray();
  dw.BeginArray();
  std::optional<uint64_t> stopped_at;  // a daemon stop not yet followed by a start
  for (Slice& sl : slices) {
    if (!sl.status.ok()) return sl.status;  // the first slice's problem is the earliest
    for (size_t b = 0; b < nbuckets; ++b) {
      for (size_t k = 0; k < kKinds; ++k) {
        counts[b][k] += sl.counts[b][k];
        totals[k] += sl.counts[b][k];
      }
    }
    twin_action_total += sl.twin_action_total;
    for (auto& a : sl.twin_actions) {
      if (shown_actions++ < o.max_markers) ta.Raw(a);
    }
    for (const auto& [ts, is_stop] : sl.daemon) {
      if (is_stop) {
        if (!stopped_at) stopped_at = ts;
      } else if (stopped_at) {
        if (down_total++ < o.max_markers) {
          dw.BeginObject().FieldU("start_ns", *stopped_at).FieldU("end_ns", ts).EndObject();
        }
        stopped_at.reset();
      }
    }
  }
  if (stopped_at && down_total++ < o.max_markers) {  // still stopped at the end of the range
    dw.BeginObject().FieldU("start_ns", *stopped_at).FieldU("end_ns", o.until_ns).EndObject();
  }
  ta.EndArray();
  dw.EndArray();

  auto gaps = log.Gaps();
  if (!gaps.ok()) return gaps.status();
  auto snaps = log.SnapshotKeys();
  if (!snaps.ok()) return snaps.status();
  vm::EventLogTwinStore store(const_cast<EventLog*>(&log));  // Scan only
  vm::Catalogue cat(&store);
  auto twin_snaps = cat.List();
  if (!twin_snaps.ok()) return twin_snaps.status();
  auto first = log.First();
  if (!first.ok()) return first.status();
  auto last = log.Last();
  if (!last.ok()) return last.status();

  JsonWriter w(*out);
  w.BeginObject()
      .Field("since", FormatRfc3339Ns(o.since_ns)).FieldU("since_ns", o.since_ns)
      .Field("until", FormatRfc3339Ns(o.until_ns)).FieldU("until_ns", o.until_ns)
      .FieldU("bucket_ns", width).Field("bucket", TimelineBucketName(width))
      .FieldU("origin_ns", origin).FieldU("buckets", nbuckets)
      .FieldU("log_first_ns", first.value() ? first.value()->key.ts_ns : 0)
      .FieldU("log_last_ns", last.value() ? last.value()->key.ts_ns : 0);
  uint64_t total = 0;
  std::vector<size_t> shown;  // the kinds with events in the range, in kind order
  for (size_t k = 0; k < kKinds; ++k) {
    total += totals[k];
    if (totals[k] != 0) shown.push_back(k);
  }
  w.FieldU("total", total).Key("kinds").BeginArray();
  for (size_t k : shown) w.String(KindName(static_cast<EventKind>(k)));
  w.EndArray().Key("kind_totals").BeginArray();
  for (size_t k : shown) w.Uint(totals[k]);
  // counts[i][j]: events of kinds[j] in [origin + i*bucket, origin + (i+1)*bucket).
  w.EndArray().Key("counts").BeginArray();
  for (const auto& b : counts) {
    w.BeginArray();
    for (size_t k : shown) w.Uint(b[k]);
    w.EndArray();
  }
  w.EndArray().Key("gaps").BeginArray();
  for (const auto& g : gaps.value()) {
    const bool open = g.end_ns == UINT64_MAX;
    if (g.start_ns >= o.until_ns || (!open && g.end_ns < o.since_ns)) continue;
    w.BeginObject().FieldU("start_ns", g.start_ns).FieldU("end_ns", open ? o.until_ns : g.end_ns)
        .FieldB("open", open).Field("recorded", KeyToString(g.recorded)).EndObject();
  }
  w.EndArray().FieldU("daemon_down_total", down_total).Key("daemon_down").Raw(down);
  uint64_t snap_total = 0;
  w.Key("snapshots").BeginArray();
  for (const EventKey& k : snaps.value()) {
    if (k.ts_ns < o.since_ns || k.ts_ns >= o.until_ns) continue;
    if (snap_total++ < o.max_markers) w.Uint(k.ts_ns);
  }
  w.EndArray().FieldU("snapshots_total", snap_total);
  uint64_t twin_total = 0;
  w.Key("twin_snapshots").BeginArray();
  for (const auto& r : twin_snaps.value()) {
    if (r.created_ns < o.since_ns || r.created_ns >= o.until_ns) continue;
    if (twin_total++ < o.max_markers) w.Raw(vm::SnapshotToJson(r));
  }
  w.EndArray().FieldU("twin_snapshots_total", twin_total)
      .Key("twin_actions").Raw(twin_actions).FieldU("twin_actions_total", twin_action_total)
      .EndObject();
  out->push_back('\n');
  return Status::Ok();
}

}  // namespace twin
