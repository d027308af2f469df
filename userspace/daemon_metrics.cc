#include "userspace/daemon_metrics.h"

#include <fmt/format.h>

namespace twin::capture {

std::string RenderDaemonMetrics(const DaemonCounters& c, const DropTable& ringbuf_drops) {
  std::string o;
  o += "# HELP twind_events_received_total Records read from the BPF ring buffer, by kind.\n";
  o += "# TYPE twind_events_received_total counter\n";
  for (int k = 1; k < TWIN_EV_KIND_MAX; ++k)
    o += fmt::format("twind_events_received_total{{kind=\"{}\"}} {}\n", KindLabel(k), c.received[k].load());
  o += "# HELP twind_events_written_total Events appended to the log, by event kind.\n";
  o += "# TYPE twind_events_written_total counter\n";
  for (int k = 1; k <= kEventKindMax; ++k)
    o += fmt::format("twind_events_written_total{{kind=\"{}\"}} {}\n", KindName(static_cast<EventKind>(k)), c.written[k].load());
  o += "# HELP twind_ringbuf_drops_total Failed ring-buffer reservations, by kind and CPU.\n";
  o += "# TYPE twind_ringbuf_drops_total counter\n";
  for (size_t cpu = 0; cpu < ringbuf_drops.size(); ++cpu)
    for (int k = 1; k < TWIN_EV_KIND_MAX; ++k)
      o += fmt::format("twind_ringbuf_drops_total{{kind=\"{}\",cpu=\"{}\"}} {}\n", KindLabel(k), cpu, ringbuf_drops[cpu][k]);
  o += "# HELP twind_queue_drops_total Records dropped because the writer queue was full.\n";
  o += "# TYPE twind_queue_drops_total counter\n";
  for (int k = 1; k < TWIN_EV_KIND_MAX; ++k)
    o += fmt::format("twind_queue_drops_total{{kind=\"{}\"}} {}\n", KindLabel(k), c.queue_drops[k].load());
  o += fmt::format("# TYPE twind_queue_depth gauge\ntwind_queue_depth {}\n", c.queue_depth.load());
  o += fmt::format("# TYPE twind_decode_errors_total counter\ntwind_decode_errors_total {}\n", c.decode_errors.load());
  o += fmt::format("# TYPE twind_batch_latency_seconds summary\ntwind_batch_latency_seconds_sum {:.9f}\ntwind_batch_latency_seconds_count {}\n",
                   c.batch_ns_sum.load() / 1e9, c.batches.load());
  o += fmt::format("# TYPE twind_batch_latency_last_seconds gauge\ntwind_batch_latency_last_seconds {:.9f}\n", c.batch_ns_last.load() / 1e9);
  o += fmt::format("# TYPE twind_compactions_total counter\ntwind_compactions_total {}\n", c.compactions.load());
  o += fmt::format("# TYPE twind_compaction_last_seconds gauge\ntwind_compaction_last_seconds {:.9f}\n", c.compaction_ns_last.load() / 1e9);
  o += fmt::format("# TYPE twind_reconcile_last_seconds gauge\ntwind_reconcile_last_seconds {:.9f}\n", c.reconcile_ns_last.load() / 1e9);
  o += fmt::format("# TYPE twind_gaps_total counter\ntwind_gaps_total {}\n", c.gaps.load());
  o += fmt::format("# TYPE twind_resync_corrections_total counter\ntwind_resync_corrections_total {}\n", c.resync_corrections.load());
  o += fmt::format("# TYPE twind_append_errors_total counter\ntwind_append_errors_total {}\n", c.append_errors.load());
  o += fmt::format("# TYPE twind_db_size_bytes gauge\ntwind_db_size_bytes {}\n", c.db_bytes.load());
  return o;
}

}  // namespace twin::capture
