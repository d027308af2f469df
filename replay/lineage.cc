#include "replay/lineage.h"

#include "replay/cli.h"

namespace twin {

const Process* ParentIn(const State& s, const Process& p) {
  if (p.ppid == 0) return nullptr;
  if (p.parent_start_ns != 0) {
    auto it = s.processes.find(ProcKey{p.ppid, p.parent_start_ns});
    return it == s.processes.end() ? nullptr : &it->second;
  }
  auto it = s.processes.lower_bound(ProcKey{p.ppid, 0});
  return it != s.processes.end() && it->first.pid == p.ppid ? &it->second : nullptr;
}

ProcTree BuildProcTree(const State& s) {
  ProcTree t;
  for (const auto& [k, p] : s.processes) {
    const Process* parent = ParentIn(s, p);
    if (parent && !(parent->pid == p.pid && parent->start_ns == p.start_ns)) {
      t.children[ProcKey{parent->pid, parent->start_ns}].push_back(k);  // map order: by pid
    } else {
      t.roots.push_back(k);
    }
  }
  // A parent cycle (only a hostile or damaged log has one) has no root: its smallest unreached
  // member becomes one.
  std::set<ProcKey> reached;
  auto mark = [&](const ProcKey& root) {
    WalkTree(t, root, [&](const ProcKey& k, const std::vector<bool>&) { reached.insert(k); },
             [](const ProcKey&) {});
  };
  for (const ProcKey& r : t.roots) mark(r);
  for (const auto& [k, p] : s.processes) {
    if (!reached.count(k)) {
      t.roots.push_back(k);
      mark(k);
    }
  }
  return t;
}

namespace {

bool Names(const Event& e, const ProcessId& id) { return e.pid == id.pid && e.start_ns == id.start_ns; }

bool IsCreation(const Event& e) {
  return e.kind == EventKind::kProcessFork || e.kind == EventKind::kProcessExec ||
         (e.kind == EventKind::kResync && e.resync_entity == ResyncEntity::kProcess &&
          e.resync_op == ResyncOp::kUpsert);
}

}  // namespace

Result<Lineage> FindLineage(const EventLog& log, const ProcessId& id) {
  Lineage out;
  out.id = id;
  // 1. The record that first names the process in its boot (the boot in effect is the last host
  // facts' boot id).
  std::string boot;
  bool found = false;
  Status s = log.Scan({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    if (e.kind == EventKind::kHostFacts) boot = e.host.boot_id;
    if (IsCreation(e) && Names(e, id) && BootTag(boot) == id.boot) {
      out.start = {k, e};
      found = true;
      return false;
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!found) {
    return Status::NotFound("no fork, exec or resync in the log names process " +
                            FormatProcessId(id.boot, id.pid, id.start_ns));
  }
  out.boot_id = boot;
  // 2. Its ancestors as the folded state had them when it started.
  auto st = StateAt(log, out.start.key.ts_ns);
  if (!st.ok()) return st.status();
  const State& at = st.value();
  out.uncertain = at.uncertain;
  auto self = at.processes.find(ProcKey{id.pid, id.start_ns});
  if (self != at.processes.end()) {
    out.self = self->second;
    std::set<ProcKey> seen{self->first};
    const Process* p = &self->second;
    while (true) {
      const Process* parent = ParentIn(at, *p);
      if (!parent) {
        out.ancestry_complete = p->ppid == 0;
        break;
      }
      if (!seen.insert(ProcKey{parent->pid, parent->start_ns}).second) break;  // a cycle
      out.ancestors.push_back(*parent);
      p = parent;
    }
  } else {
    // Folded and gone again by the end of its start's instant (it exited at once).
    out.self.pid = id.pid;
    out.self.start_ns = id.start_ns;
    out.self.ppid = out.start.event.ppid;
    out.self.parent_start_ns = out.start.event.parent_start_ns;
    out.self.comm = out.start.event.comm;
  }
  // 3. Its descendants during its lifetime: forks whose parent is it or one of them (and execs
  // whose recorded parent is, when the fork was not captured), up to its exit or the end of its
  // boot.
  const ProcKey self_key{id.pid, id.start_ns};
  std::set<ProcKey> family{self_key};
  std::string cur = boot;
  s = log.Scan(out.start.key, {UINT64_MAX, UINT64_MAX}, [&](const EventKey& k, const Event& e) {
    if (e.kind == EventKind::kHostFacts) {
      cur = e.host.boot_id;
      if (BootTag(cur) != id.boot) return false;  // a new boot: it cannot have lived on
    }
    const ProcKey key{e.pid, e.start_ns};
    const ProcKey parent{e.ppid, e.parent_start_ns};
    switch (e.kind) {
      case EventKind::kProcessFork:
        if (family.count(parent) && !family.count(key)) {
          family.insert(key);
          out.descendants.insert(key);
          out.events.push_back({k, e});
        } else if (key == self_key && k == out.start.key) {
          out.events.push_back({k, e});
        }
        break;
      case EventKind::kProcessExec:
        if (!family.count(key) && e.parent_start_ns != 0 && family.count(parent)) {
          family.insert(key);
          out.descendants.insert(key);
        }
        if (family.count(key)) out.events.push_back({k, e});
        break;
      case EventKind::kProcessExit:
        if (family.count(key)) {
          out.events.push_back({k, e});
          if (key == self_key) {
            out.exit = KeyedEvent{k, e};
            return false;
          }
        }
        break;
      default:
        break;
    }
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace twin
