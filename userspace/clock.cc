#include "userspace/clock.h"

#include <time.h>
#include <unistd.h>

namespace twin::capture {
namespace {
uint64_t Read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

uint64_t TickNs() {
  static const uint64_t tick = [] {
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
  }();
  return tick;
}

uint64_t ProcStartNs(uint64_t boottime_ns) { return ProcStartNs(boottime_ns, TickNs()); }
uint64_t BoottimeNs() { return Read(CLOCK_BOOTTIME); }
uint64_t WallNs() { return Read(CLOCK_REALTIME); }

ClockOffset ClockOffset::Measure() {
  ClockOffset best;
  best.uncertainty_ns = UINT64_MAX;
  for (int i = 0; i < 16; ++i) {
    uint64_t b1 = BoottimeNs();
    uint64_t w = WallNs();
    uint64_t b2 = BoottimeNs();
    if (b2 - b1 < best.uncertainty_ns) {
      best.uncertainty_ns = b2 - b1;
      best.wall_minus_boot_ns = static_cast<int64_t>(w) - static_cast<int64_t>(b1 + (b2 - b1) / 2);
    }
  }
  return best;
}

}  // namespace twin::capture
