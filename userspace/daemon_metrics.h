// twind's counters and their Prometheus text rendering (served by MetricsServer, metrics.h).
// Counters are bumped by the reader and writer threads and read by the metrics thread: atomics,
// relaxed; a scrape sees each counter as of some moment, not all of them at one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "bpf/events.h"
#include "eventlog/event.h"
#include "userspace/probes.h"

namespace twin::capture {

struct DaemonCounters {
  std::array<std::atomic<uint64_t>, TWIN_EV_KIND_MAX> received{};
  std::array<std::atomic<uint64_t>, TWIN_EV_KIND_MAX> queue_drops{};
  std::atomic<uint64_t> decode_errors{0};
  std::array<std::atomic<uint64_t>, kEventKindMax + 1> written{};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> batch_ns_sum{0};
  std::atomic<uint64_t> batch_ns_last{0};
  std::atomic<uint64_t> compactions{0};
  std::atomic<uint64_t> compaction_ns_last{0};
  std::atomic<uint64_t> reconcile_ns_last{0};
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> resync_corrections{0};
  std::atomic<uint64_t> append_errors{0};
  std::atomic<uint64_t> db_bytes{0};
  std::atomic<uint64_t> queue_depth{0};
};

// The Prometheus text exposition of the counters and of the ring buffer's per-CPU drop table.
std::string RenderDaemonMetrics(const DaemonCounters& c, const DropTable& ringbuf_drops);

}  // namespace twin::capture
