// Process trees and lineage from the log alone (never /proc): the tree of a folded state, and one
// process's ancestors (as the folded state had them when it started) and descendants (from the
// fork/exec/exit events of its lifetime). Processes are named by their stable id
// (eventlog/process_id.h). Used by `twin-replay tree` and `twin-replay lineage`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eventlog/log.h"
#include "eventlog/process_id.h"
#include "eventlog/state.h"

namespace twin {

// The parent of p in s: the process (ppid, parent_start_ns), or the live incarnation of ppid when
// the parent's start is not recorded (0). nullptr when it is not in s (it exited: the kernel has
// reparented p, which the log learns at p's next exec or its exit) or p has none (ppid 0).
const Process* ParentIn(const State& s, const Process& p);

// Children by parent; roots are processes without a parent in the state (and one member of each
// parent cycle a hostile log may hold, so that every process is reached exactly once).
struct ProcTree {
  std::map<ProcKey, std::vector<ProcKey>> children;  // each list in (pid, start_ns) order
  std::vector<ProcKey> roots;
};
ProcTree BuildProcTree(const State& s);

// Walks the subtree under root depth first (children by pid), iteratively: a hostile log may
// hold a chain of millions. enter(key, last) is called on the way down, where last[i] says
// whether the node's ancestor at depth i+1 (the node itself, for the final entry) is the last of
// its siblings (last.size() is the depth); leave(key) after its subtree. Each process once.
template <typename Enter, typename Leave>
void WalkTree(const ProcTree& t, const ProcKey& root, Enter enter, Leave leave) {
  struct Frame {
    ProcKey key;
    size_t next;
  };
  std::vector<Frame> stack{{root, 0}};
  std::vector<bool> last;
  std::set<ProcKey> seen{root};
  enter(root, last);
  while (!stack.empty()) {
    const ProcKey key = stack.back().key;
    auto it = t.children.find(key);
    if (it == t.children.end() || stack.back().next >= it->second.size()) {
      stack.pop_back();
      if (!last.empty()) last.pop_back();
      leave(key);
      continue;
    }
    const std::vector<ProcKey>& kids = it->second;
    const ProcKey child = kids[stack.back().next++];
    if (!seen.insert(child).second) continue;
    last.push_back(stack.back().next == kids.size());
    enter(child, last);
    stack.push_back({child, 0});
  }
}

// One fork, exec or exit of the process or a descendant during its lifetime.
struct LineageEvent {
  EventKey key;
  Event event;
};

struct Lineage {
  ProcessId id;
  std::string boot_id;              // the boot id the log recorded (id.boot is its tag)
  KeyedEvent start;                 // the fork, exec or resync that first named the process
  Process self;                     // as the state had it right after start
  std::vector<Process> ancestors;   // parent first, as the state had them at start
  bool ancestry_complete = false;   // the chain ends at a process without a parent (pid 1, kthreadd)
  std::optional<KeyedEvent> exit;   // its exit, if the log has it
  std::set<ProcKey> descendants;    // every process forked (transitively) from it in its lifetime
  std::vector<LineageEvent> events; // fork/exec/exit of it and its descendants, start .. exit
  bool uncertain = false;           // the state at start was uncertain (events were lost)
};

// kNotFound (naming the id) when no fork, exec or resync in the log names the process.
Result<Lineage> FindLineage(const EventLog& log, const ProcessId& id);

}  // namespace twin
