#include "eventlog/state.h"

#include <array>

namespace twin {
namespace {

constexpr std::array<std::string_view, kEventKindMax + 1> kKindNames = {
    "unknown",     "exec",       "exit",         "fork",       "bind",   "listen",
    "close",       "unit_start", "unit_stop",    "unit_file",  "host",   "gap",
    "resync",      "daemon_start", "daemon_stop", "twin",      "audit",  "retention"};

// A pid has at most one live process: any other (pid, start) is an older process whose exit
// we did not see (pid reuse).
void DropOtherIncarnations(State& s, int32_t pid, uint64_t start_ns) {
  auto it = s.processes.lower_bound(ProcKey{pid, 0});
  while (it != s.processes.end() && it->first.pid == pid) {
    if (it->first.start_ns != start_ns) {
      it = s.processes.erase(it);
    } else {
      ++it;
    }
  }
}

void SetImage(Process& p, const Event& e) {
  p.pid = e.pid;
  p.start_ns = e.start_ns;
  if (e.ppid != 0) {
    p.ppid = e.ppid;
    p.parent_start_ns = e.parent_start_ns;
  }
  p.uid = e.uid;
  p.gid = e.gid;
  p.comm = e.comm;
  p.exe = e.exe;
  p.cwd = e.cwd;
  p.argv = e.argv;
  p.argv_truncated = e.argv_truncated;
  p.cgroup = e.cgroup;
  p.unit = e.unit;
  p.container_id = e.container_id;
  p.since_ns = e.ts_ns;
}

void UpsertListener(State& s, const Event& e, bool listening) {
  Listener l;
  l.proto = e.proto;
  l.family = e.family;
  l.addr = e.addr;
  l.port = e.port;
  l.listening = listening;
  l.pid = e.pid;
  l.start_ns = e.start_ns;
  l.comm = e.comm;
  l.unit = e.unit;
  l.sock_inode = e.sock_inode;
  l.since_ns = e.ts_ns;
  ListenerKey k = l.key();
  auto it = s.listeners.find(k);
  if (it != s.listeners.end() && it->second.since_ns != 0 && it->second.pid == l.pid &&
      it->second.start_ns == l.start_ns && it->second.listening == l.listening) {
    l.since_ns = it->second.since_ns;  // re-announcement of the same listener keeps its age
  }
  s.listeners.insert_or_assign(std::move(k), std::move(l));
}

void UpsertUnit(State& s, const Event& e) {
  Unit& u = s.units[e.unit];
  const bool fresh = u.name.empty();
  u.name = e.unit;
  u.file_path = e.unit_file_path;
  u.file_sha256 = e.unit_file_sha256;
  u.file_content = e.unit_file_content;
  if (!e.cgroup.empty()) u.cgroup = e.cgroup;
  if (fresh) u.since_ns = e.ts_ns;
}

ListenerKey KeyOf(const Event& e) { return {e.proto, e.family, e.addr, e.port}; }

template <typename K, typename V>
void DiffMaps(const std::map<K, V>& a, const std::map<K, V>& b, MapDiff<K, V>& out) {
  auto ia = a.begin();
  auto ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      out.removed.push_back(ia->second);
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      out.added.push_back(ib->second);
      ++ib;
    } else {
      if (!(ia->second == ib->second)) out.changed.emplace_back(ia->second, ib->second);
      ++ia;
      ++ib;
    }
  }
}

}  // namespace

std::string_view KindName(EventKind k) {
  auto i = static_cast<size_t>(k);
  return i < kKindNames.size() ? kKindNames[i] : "unknown";
}

std::optional<EventKind> KindFromName(std::string_view name) {
  for (size_t i = 1; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

void Fold(State& s, const Event& e, const EventKey& key) {
  s.ts_ns = e.ts_ns;
  s.last_key = key;
  ++s.events_folded;
  switch (e.kind) {
    case EventKind::kProcessExec: {
      DropOtherIncarnations(s, e.pid, e.start_ns);
      Process& p = s.processes[ProcKey{e.pid, e.start_ns}];
      SetImage(p, e);
      break;
    }
    case EventKind::kProcessFork: {
      DropOtherIncarnations(s, e.pid, e.start_ns);
      Process child;
      auto parent = s.processes.find(ProcKey{e.ppid, e.parent_start_ns});
      if (parent != s.processes.end()) {
        child = parent->second;  // a fork runs the parent's image until it execs
      } else {
        child.comm = e.comm;
        child.exe = e.exe;
        child.cwd = e.cwd;
        child.argv = e.argv;
        child.argv_truncated = e.argv_truncated;
        child.cgroup = e.cgroup;
        child.unit = e.unit;
        child.container_id = e.container_id;
        child.uid = e.uid;
        child.gid = e.gid;
      }
      child.pid = e.pid;
      child.start_ns = e.start_ns;
      child.ppid = e.ppid;
      child.parent_start_ns = e.parent_start_ns;
      child.since_ns = e.ts_ns;
      s.processes.insert_or_assign(ProcKey{e.pid, e.start_ns}, std::move(child));
      break;
    }
    case EventKind::kProcessExit:
      if (e.start_ns != 0) {
        s.processes.erase(ProcKey{e.pid, e.start_ns});
      } else {
        DropOtherIncarnations(s, e.pid, /*start_ns=*/~0ull);
      }
      break;
    case EventKind::kSocketBind:
      // A bound UDP socket receives datagrams: it is part of the network surface. A bound TCP
      // socket is not, until listen().
      if (e.result == 0 && e.proto == kProtoUdp && e.port != 0) UpsertListener(s, e, true);
      break;
    case EventKind::kSocketListen:
      UpsertListener(s, e, true);
      break;
    case EventKind::kListenerClose:
      s.listeners.erase(KeyOf(e));
      break;
    case EventKind::kUnitStart:
      UpsertUnit(s, e);
      break;
    case EventKind::kUnitStop:
      s.units.erase(e.unit);
      break;
    case EventKind::kUnitFileChanged: {
      auto it = s.units.find(e.unit);
      if (it != s.units.end()) {
        it->second.file_path = e.unit_file_path;
        it->second.file_sha256 = e.unit_file_sha256;
        it->second.file_content = e.unit_file_content;
      }
      break;
    }
    case EventKind::kHostFacts:
      s.host = e.host;
      break;
    case EventKind::kGap:
      if (!s.uncertain) {
        s.uncertain = true;
        s.uncertain_since_ns = e.gap_start_ns != 0 ? e.gap_start_ns : e.ts_ns;
      }
      break;
    case EventKind::kDaemonStop:
      // Nothing is observed after a stop until the next start's resync completes.
      if (!s.uncertain) {
        s.uncertain = true;
        s.uncertain_since_ns = e.ts_ns;
      }
      break;
    case EventKind::kResync:
      switch (e.resync_entity) {
        case ResyncEntity::kProcess:
          if (e.resync_op == ResyncOp::kUpsert) {
            DropOtherIncarnations(s, e.pid, e.start_ns);
            Process& p = s.processes[ProcKey{e.pid, e.start_ns}];
            const uint64_t since = p.since_ns;
            SetImage(p, e);
            if (since != 0) p.since_ns = since;
          } else if (e.resync_op == ResyncOp::kRemove) {
            s.processes.erase(ProcKey{e.pid, e.start_ns});
          }
          break;
        case ResyncEntity::kListener:
          if (e.resync_op == ResyncOp::kUpsert) {
            UpsertListener(s, e, true);
          } else if (e.resync_op == ResyncOp::kRemove) {
            s.listeners.erase(KeyOf(e));
          }
          break;
        case ResyncEntity::kUnit:
          if (e.resync_op == ResyncOp::kUpsert) {
            UpsertUnit(s, e);
          } else if (e.resync_op == ResyncOp::kRemove) {
            s.units.erase(e.unit);
          }
          break;
        case ResyncEntity::kNone:
          break;
      }
      if (e.resync_op == ResyncOp::kComplete) {
        s.uncertain = false;
        s.uncertain_since_ns = 0;
      }
      break;
    case EventKind::kDaemonStart:
    case EventKind::kTwinAction:
    case EventKind::kAudit:
    case EventKind::kRetention:
    case EventKind::kUnknown:
      break;
  }
}

StateDiff Diff(const State& before, const State& after) {
  StateDiff d;
  DiffMaps(before.processes, after.processes, d.processes);
  DiffMaps(before.units, after.units, d.units);
  DiffMaps(before.listeners, after.listeners, d.listeners);
  if (!(before.host == after.host)) {
    d.host_changed = true;
    d.host_before = before.host;
    d.host_after = after.host;
  }
  return d;
}

}  // namespace twin
