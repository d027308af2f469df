// The timeline's aggregate: events per time bucket and kind over [since, until), counted in the
// reader (the web UI asks for this instead of the events themselves), with the gaps the log
// recorded, the daemon's down times, the compactor's snapshots and the twin's snapshots and
// runs as markers. Used by `twin-replay ui` (/api/timeline) and `twin-replay report`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/log.h"
#include "eventlog/status.h"

namespace twin {

// The bucket width for a range: the smallest of 1 s, 2 s, 5 s, 10 s, 30 s, 1 min, 2, 5, 10,
// 30 min, 1 h, 2, 6, 12 h, 1 d, 7 d and 30 d ("month") that cuts the range into at most
// max_buckets buckets.
uint64_t TimelineBucketNs(uint64_t span_ns, uint32_t max_buckets);
std::string_view TimelineBucketName(uint64_t bucket_ns);  // "1s", "5m", "1d", "30d"

struct TimelineOptions {
  uint64_t since_ns = 0;  // inclusive
  uint64_t until_ns = 0;  // exclusive; REQUIRES: since_ns < until_ns
  uint32_t max_buckets = 240;
  uint32_t max_markers = 500;  // per marker list; the totals are always given
  unsigned threads = 0;        // slices scanned at once; 0: one per core, at most 4
};

// One JSON object (documented in docs/UI.md): range, bucket, kinds, counts[bucket][kind],
// gaps, daemon_down, snapshots, twin_snapshots, twin_actions, totals.
Status TimelineDocument(const EventLog& log, const TimelineOptions& o, std::string* out);

}  // namespace twin
