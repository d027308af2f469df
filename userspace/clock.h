// Time conversions shared by the probes' decoder and the /proc scanner. One place decides how a
// kernel boot-time stamp becomes a process identity and a wall-clock time.
#pragma once

#include <cstdint>

namespace twin::capture {

// Length of one clock tick (sysconf(_SC_CLK_TCK)) in ns; /proc reports start times in ticks.
uint64_t TickNs();

// Process identity start time: CLOCK_BOOTTIME ns rounded DOWN to clock ticks, so that BPF's
// task->start_boottime and /proc/<pid>/stat starttime (ticks) give the same value.
inline uint64_t ProcStartNs(uint64_t boottime_ns, uint64_t tick_ns) {
  return tick_ns == 0 ? boottime_ns : boottime_ns / tick_ns * tick_ns;
}
uint64_t ProcStartNs(uint64_t boottime_ns);
inline uint64_t ProcStartNsFromTicks(uint64_t ticks, uint64_t tick_ns) { return ticks * tick_ns; }

uint64_t BoottimeNs();  // clock_gettime(CLOCK_BOOTTIME)
uint64_t WallNs();      // clock_gettime(CLOCK_REALTIME)

// wall = boot + offset. Measured once at start (bracketing reads, best of several) and recorded
// in the daemon-start event, so every converted stamp in one run uses the same offset.
struct ClockOffset {
  int64_t wall_minus_boot_ns = 0;
  uint64_t uncertainty_ns = 0;  // width of the best bracketing window
  static ClockOffset Measure();
  uint64_t ToWall(uint64_t boot_ns) const {
    return static_cast<uint64_t>(static_cast<int64_t>(boot_ns) + wall_minus_boot_ns);
  }
};

}  // namespace twin::capture
