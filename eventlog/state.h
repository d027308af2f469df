// Host state and the pure fold that builds it from events, plus the diff of two states.
// Fold(state, event) is deterministic and has no side effects: replay relies on that.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "eventlog/event.h"

namespace twin {

struct ProcKey {
  int32_t pid = 0;
  uint64_t start_ns = 0;
  auto operator<=>(const ProcKey&) const = default;
};

struct Process {
  int32_t pid = 0;
  uint64_t start_ns = 0;
  int32_t ppid = 0;
  uint64_t parent_start_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string comm;
  std::string exe;
  std::string cwd;
  std::vector<std::string> argv;
  bool argv_truncated = false;
  bool exe_truncated = false;  // see Event
  bool cwd_truncated = false;
  std::string cgroup;
  std::string unit;
  std::string container_id;
  uint64_t since_ns = 0;  // wall ns of the event that last set the image (exec/fork/resync)
  bool operator==(const Process&) const = default;
};

struct ListenerKey {
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string addr;
  uint16_t port = 0;
  auto operator<=>(const ListenerKey&) const = default;
};

struct Listener {
  uint8_t proto = 0;
  uint8_t family = 0;
  std::string addr;
  uint16_t port = 0;
  bool listening = false;  // TCP: listen() succeeded; UDP: bound (UDP has no listen)
  int32_t pid = 0;
  uint64_t start_ns = 0;
  std::string comm;
  std::string unit;
  uint64_t sock_inode = 0;
  uint64_t since_ns = 0;
  bool operator==(const Listener&) const = default;
  ListenerKey key() const { return {proto, family, addr, port}; }
};

struct Unit {
  std::string name;
  std::string file_path;
  std::string file_sha256;
  std::string file_content;
  std::string cgroup;
  uint64_t since_ns = 0;
  bool operator==(const Unit&) const = default;
};

// The host's state. P is the process record: Process everywhere outside the fold engine,
// which folds with a lazy stand-in (see eventlog/folder.h) and materialises Process at the end.
template <typename P>
struct BasicState {
  uint64_t ts_ns = 0;        // wall ns of the last event folded in
  EventKey last_key;         // key of the last event folded in (0,0 for none)
  uint64_t events_folded = 0;
  std::map<ProcKey, P> processes;
  std::map<std::string, Unit> units;
  std::map<ListenerKey, Listener> listeners;
  HostFacts host;
  // A gap makes the state uncertain until a resync completes.
  bool uncertain = false;
  uint64_t uncertain_since_ns = 0;
  bool operator==(const BasicState&) const = default;
};
using State = BasicState<Process>;

// Applies one event. REQUIRES: events are applied in key order.
void Fold(State& state, const Event& event, const EventKey& key);

template <typename K, typename V>
struct MapDiff {
  std::vector<V> added;
  std::vector<V> removed;
  std::vector<std::pair<V, V>> changed;  // (before, after)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  size_t size() const { return added.size() + removed.size() + changed.size(); }
};

struct StateDiff {
  MapDiff<ProcKey, Process> processes;
  MapDiff<std::string, Unit> units;
  MapDiff<ListenerKey, Listener> listeners;
  bool host_changed = false;
  HostFacts host_before, host_after;
  bool empty() const {
    return processes.empty() && units.empty() && listeners.empty() && !host_changed;
  }
  // Unit, unit-file or listener changes: what the twin VM must follow. Process churn is not.
  bool Significant() const { return !units.empty() || !listeners.empty(); }
};

StateDiff Diff(const State& before, const State& after);

// The inverse of the fold for one entity: the event that carries a process, listener or unit
// whole (a resync upsert/remove, a unit file change). ts_ns and mono_ns are the caller's.
// Folding a resync upsert of ProcessEvent(p) gives back p (Fold.ResyncEventsCarryTheWholeEntity).
Event ProcessEvent(EventKind kind, const Process& p);
Event ListenerEvent(EventKind kind, const Listener& l);
Event UnitEvent(EventKind kind, const Unit& u);

}  // namespace twin
