// Deterministic synthetic event streams: random but realistic logs for property tests,
// benchmarks and the demo. Tracks the processes, listeners and units it created so that
// exits, closes and stops refer to live things (with a few deliberately stale references).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "eventlog/event.h"

namespace twin {

struct SynthOptions {
  uint64_t seed = 1;
  uint64_t start_ns = 1'700'000'000'000'000'000ull;
  uint64_t mean_step_ns = 100'000;  // average time between events
  uint32_t argv_bytes = 64;         // rough size of argv per exec
  bool hostile_strings = false;     // mix in newlines, quotes, {{ }}, non-UTF-8 bytes
  // Mix in package / config_file / user / group events (1 in 20), adds, changes and removes.
  bool host_config = false;
};

class SynthGenerator {
 public:
  explicit SynthGenerator(const SynthOptions& o);
  Event Next();
  void Fill(std::vector<Event>& out, size_t n);
  uint64_t now_ns() const { return now_; }

 private:
  std::string Word();
  Event HostConfig();
  Event Base(EventKind k);
  SynthOptions o_;
  std::mt19937_64 rng_;
  uint64_t now_;
  int32_t next_pid_ = 1000;
  struct P { int32_t pid; uint64_t start; int32_t ppid; };
  std::vector<P> procs_;
  std::vector<Event> listeners_;
  std::vector<std::string> units_;
  uint64_t units_made_ = 0;
  std::vector<std::string> hc_names_;  // names of packages/files/users/groups made so far
};

}  // namespace twin
