// The fold's semantics, written once for every event representation and process record.
// Internal to eventlog/: state.cc instantiates it for decoded Events into State (the reference
// path, also used by the daemon's live view), folder.cc for verified FlatBuffers records into a
// lazy process map (the replay/compaction fast path). Both must give identical states; the
// property tests compare them.
//
// V (event view) provides: kind(), ts_ns(), pid(), ppid(), start_ns(), parent_start_ns(),
// uid(), gid(), proto(), family(), port(), sock_inode(), result(), gap_start_ns(),
// resync_op(), resync_entity(), the string fields as std::string_view (comm(), addr(), unit(),
// cgroup(), unit_file_path(), unit_file_sha256(), unit_file_content()), host() and
// attr(key) (the value of an attr, "" when absent: the host-configuration kinds use attrs only).
// P (process record) has the identity members of Process (pid, start_ns, ppid,
// parent_start_ns, since_ns) and two overloads found by ADL:
//   SetImageFrom(P&, const V&)  — uid, gid, comm, exe, cwd, argv, the truncation flags, cgroup, unit,
//                                 container_id and the integrity attrs from the event (the
//                                 "image" of the process).
//   SetIntegrityFrom(P&, const V&) — exe_hash, exe_sha256, exe_flags from the event's attrs.
//   ExeOf(const P&), ExeHashOf(const P&) — the image's exe and integrity status.
#pragma once

#include <string>
#include <string_view>

#include "eventlog/state.h"

namespace twin::fold {

// A pid has at most one live process: any other (pid, start) is an older process whose exit
// we did not see (pid reuse).
template <typename P>
void DropOtherIncarnations(BasicState<P>& s, int32_t pid, uint64_t start_ns) {
  auto it = s.processes.lower_bound(ProcKey{pid, 0});
  while (it != s.processes.end() && it->first.pid == pid) {
    if (it->first.start_ns != start_ns) {
      it = s.processes.erase(it);
    } else {
      ++it;
    }
  }
}

// The process (pid, start_ns), created empty if new, after dropping every other incarnation
// of the pid: one pass over the pid's entries.
template <typename P>
P& Incarnation(BasicState<P>& s, int32_t pid, uint64_t start_ns) {
  auto it = s.processes.lower_bound(ProcKey{pid, 0});
  auto found = s.processes.end();
  while (it != s.processes.end() && it->first.pid == pid) {
    if (it->first.start_ns != start_ns) {
      it = s.processes.erase(it);
    } else {
      found = it++;
    }
  }
  if (found == s.processes.end()) found = s.processes.emplace_hint(it, ProcKey{pid, start_ns}, P{});
  return found->second;
}

// exec (and a resync upsert): the event replaces the image of (pid, start).
template <typename P, typename V>
void SetImage(P& p, const V& e) {
  p.pid = e.pid();
  p.start_ns = e.start_ns();
  if (e.ppid() != 0) {
    p.ppid = e.ppid();
    p.parent_start_ns = e.parent_start_ns();
  }
  SetImageFrom(p, e);
  p.since_ns = e.ts_ns();
}

template <typename P, typename V>
void UpsertListener(BasicState<P>& s, const V& e, bool listening) {
  ListenerKey k{e.proto(), e.family(), std::string(e.addr()), e.port()};
  auto it = s.listeners.lower_bound(k);
  if (it == s.listeners.end() || it->first != k) {
    it = s.listeners.emplace_hint(it, k, Listener{});
    Listener& l = it->second;
    l.proto = k.proto;
    l.family = k.family;
    l.addr = std::move(k.addr);
    l.port = k.port;
  }
  Listener& l = it->second;
  // A re-announcement of the same listener keeps its age.
  const bool same = l.since_ns != 0 && l.pid == e.pid() && l.start_ns == e.start_ns() &&
                    l.listening == listening;
  l.listening = listening;
  l.pid = e.pid();
  l.start_ns = e.start_ns();
  l.comm = e.comm();
  l.unit = e.unit();
  l.sock_inode = e.sock_inode();
  if (!same) l.since_ns = e.ts_ns();
}

template <typename P, typename V>
void EraseListener(BasicState<P>& s, const V& e) {
  s.listeners.erase(ListenerKey{e.proto(), e.family(), std::string(e.addr()), e.port()});
}

template <typename P, typename V>
void UpsertUnit(BasicState<P>& s, const V& e) {
  Unit& u = s.units[std::string(e.unit())];
  const bool fresh = u.name.empty();
  u.name = e.unit();
  u.file_path = e.unit_file_path();
  u.file_sha256 = e.unit_file_sha256();
  u.file_content = e.unit_file_content();
  if (!e.cgroup().empty()) u.cgroup = e.cgroup();
  if (fresh) u.since_ns = e.ts_ns();
}

// Numbers in attrs are written by our own code (state.cc); a malformed one folds as 0.
inline uint64_t AttrNumber(std::string_view v, int base = 10) {
  uint64_t n = 0;
  for (char c : v) {
    const int d = c >= '0' && c <= '9' ? c - '0' : -1;
    if (d < 0 || d >= base) return 0;
    n = n * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return n;
}

// package / config_file / user / group / unit_config: op=add|change upserts the entity carried in attrs,
// op=remove erases it. since_ns = the time of the last add or change.
template <typename P, typename V>
void FoldHostConfig(BasicState<P>& s, const V& e) {
  const bool remove = e.attr("op") == "remove";
  auto upsert = [&](auto& map, std::string key, auto set) {
    if (remove) {
      map.erase(key);
      return;
    }
    auto& x = map[std::move(key)];
    set(x);
    x.since_ns = e.ts_ns();
  };
  switch (e.kind()) {
    case EventKind::kPackage: {
      std::string key = std::string(e.attr("name")) + ":" + std::string(e.attr("arch"));
      upsert(s.packages, std::move(key), [&](Package& p) {
        p.name = e.attr("name");
        p.arch = e.attr("arch");
        p.version = e.attr("version");
        p.status = e.attr("status");
      });
      break;
    }
    case EventKind::kConfigFile:
      upsert(s.config_files, std::string(e.attr("path")), [&](ConfigFile& f) {
        f.path = e.attr("path");
        f.type = e.attr("type");
        f.mode = static_cast<uint32_t>(AttrNumber(e.attr("mode"), 8));
        f.uid = static_cast<uint32_t>(AttrNumber(e.attr("uid")));
        f.gid = static_cast<uint32_t>(AttrNumber(e.attr("gid")));
        f.size = AttrNumber(e.attr("size"));
        f.sha256 = e.attr("sha256");
        f.content = e.attr("content");
        f.package = e.attr("package");
        f.differs = e.attr("differs");
        f.target = e.attr("target");
      });
      break;
    case EventKind::kUser:
      upsert(s.users, std::string(e.attr("name")), [&](User& u) {
        u.name = e.attr("name");
        u.uid = static_cast<uint32_t>(AttrNumber(e.attr("uid")));
        u.gid = static_cast<uint32_t>(AttrNumber(e.attr("gid")));
        u.gecos = e.attr("gecos");
        u.home = e.attr("home");
        u.shell = e.attr("shell");
      });
      break;
    case EventKind::kGroup:
      upsert(s.groups, std::string(e.attr("name")), [&](Group& g) {
        g.name = e.attr("name");
        g.gid = static_cast<uint32_t>(AttrNumber(e.attr("gid")));
        g.members.clear();
        const std::string_view m = e.attr("members");
        size_t i = 0;
        while (i < m.size()) {
          size_t j = m.find(',', i);
          if (j == std::string_view::npos) j = m.size();
          if (j > i) g.members.emplace_back(m.substr(i, j - i));
          i = j + 1;
        }
      });
      break;
    case EventKind::kUnitConfig:
      upsert(s.unit_config, std::string(e.attr("path")), [&](UnitConfig& u) {
        u.path = e.attr("path");
        u.dir = e.attr("dir");
        u.unit = e.attr("unit");
        u.role = e.attr("role");
        u.by = e.attr("by");
        u.type = e.attr("type");
        u.mode = static_cast<uint32_t>(AttrNumber(e.attr("mode"), 8));
        u.uid = static_cast<uint32_t>(AttrNumber(e.attr("uid")));
        u.gid = static_cast<uint32_t>(AttrNumber(e.attr("gid")));
        u.size = AttrNumber(e.attr("size"));
        u.sha256 = e.attr("sha256");
        u.content = e.attr("content");
        u.package = e.attr("package");
        u.version = e.attr("version");
        u.differs = e.attr("differs");
        u.target = e.attr("target");
      });
      break;
    default:
      break;
  }
}

template <typename P>
void MarkUncertain(BasicState<P>& s, uint64_t since_ns) {
  if (!s.uncertain) {
    s.uncertain = true;
    s.uncertain_since_ns = since_ns;
  }
}

template <typename P, typename V>
void Apply(BasicState<P>& s, const V& e, const EventKey& key) {
  s.ts_ns = e.ts_ns();
  s.last_key = key;
  ++s.events_folded;
  switch (e.kind()) {
    case EventKind::kProcessExec:
      SetImage(Incarnation(s, e.pid(), e.start_ns()), e);
      break;
    case EventKind::kProcessFork: {
      DropOtherIncarnations(s, e.pid(), e.start_ns());
      P child;
      auto parent = s.processes.find(ProcKey{e.ppid(), e.parent_start_ns()});
      if (parent != s.processes.end()) {
        child = parent->second;  // a fork runs the parent's image until it execs
      } else {
        SetImageFrom(child, e);
      }
      child.pid = e.pid();
      child.start_ns = e.start_ns();
      child.ppid = e.ppid();
      child.parent_start_ns = e.parent_start_ns();
      child.since_ns = e.ts_ns();
      s.processes.insert_or_assign(ProcKey{e.pid(), e.start_ns()}, std::move(child));
      break;
    }
    case EventKind::kProcessExit:
      if (e.start_ns() != 0) {
        s.processes.erase(ProcKey{e.pid(), e.start_ns()});
      } else {
        DropOtherIncarnations(s, e.pid(), /*start_ns=*/~0ull);
      }
      break;
    case EventKind::kSocketBind:
      // A bound UDP socket receives datagrams: it is part of the network surface. A bound TCP
      // socket is not, until listen().
      if (e.result() == 0 && e.proto() == kProtoUdp && e.port() != 0) UpsertListener(s, e, true);
      break;
    case EventKind::kSocketListen:
      UpsertListener(s, e, true);
      break;
    case EventKind::kListenerClose:
      EraseListener(s, e);
      break;
    case EventKind::kUnitStart:
      UpsertUnit(s, e);
      break;
    case EventKind::kUnitStop:
      s.units.erase(std::string(e.unit()));
      break;
    case EventKind::kUnitFileChanged: {
      auto it = s.units.find(std::string(e.unit()));
      if (it != s.units.end()) {
        it->second.file_path = e.unit_file_path();
        it->second.file_sha256 = e.unit_file_sha256();
        it->second.file_content = e.unit_file_content();
      }
      break;
    }
    case EventKind::kHostFacts:
      s.host = e.host();
      break;
    case EventKind::kGap:
      MarkUncertain(s, e.gap_start_ns() != 0 ? e.gap_start_ns() : e.ts_ns());
      break;
    case EventKind::kDaemonStop:
      // Nothing is observed after a stop until the next start's resync completes.
      MarkUncertain(s, e.ts_ns());
      break;
    case EventKind::kResync:
      switch (e.resync_entity()) {
        case ResyncEntity::kProcess:
          if (e.resync_op() == ResyncOp::kUpsert) {
            P& p = Incarnation(s, e.pid(), e.start_ns());
            const uint64_t since = p.since_ns;
            SetImage(p, e);
            if (since != 0) p.since_ns = since;
          } else if (e.resync_op() == ResyncOp::kRemove) {
            s.processes.erase(ProcKey{e.pid(), e.start_ns()});
          }
          break;
        case ResyncEntity::kListener:
          if (e.resync_op() == ResyncOp::kUpsert) {
            UpsertListener(s, e, true);
          } else if (e.resync_op() == ResyncOp::kRemove) {
            EraseListener(s, e);
          }
          break;
        case ResyncEntity::kUnit:
          if (e.resync_op() == ResyncOp::kUpsert) {
            UpsertUnit(s, e);
          } else if (e.resync_op() == ResyncOp::kRemove) {
            s.units.erase(std::string(e.unit()));
          }
          break;
        case ResyncEntity::kNone:
          break;
      }
      if (e.resync_op() == ResyncOp::kComplete) {
        s.uncertain = false;
        s.uncertain_since_ns = 0;
      }
      break;
    case EventKind::kPackage:
    case EventKind::kConfigFile:
    case EventKind::kUser:
    case EventKind::kGroup:
    case EventKind::kUnitConfig:
      FoldHostConfig(s, e);
      break;
    case EventKind::kExeHash: {
      // Completes the exec it names; a later exec of the same process (or a resync that set a
      // new image) is another image, which this hash does not describe.
      const uint64_t exec_ts = AttrNumber(e.attr(kAttrExecTs));
      auto it = s.processes.find(ProcKey{e.pid(), e.start_ns()});
      if (it == s.processes.end() || it->second.since_ns != exec_ts) break;
      SetIntegrityFrom(it->second, e);
      // Children forked from that image while its hash was pending run the same file.
      const std::string_view exe = ExeOf(it->second);
      for (auto& [k, c] : s.processes) {
        if (c.ppid == e.pid() && c.parent_start_ns == e.start_ns() && c.since_ns >= exec_ts &&
            ExeHashOf(c) == "pending" && ExeOf(c) == exe)
          SetIntegrityFrom(c, e);
      }
      break;
    }
    case EventKind::kDaemonStart:
    case EventKind::kTwinAction:
    case EventKind::kAudit:
    case EventKind::kRetention:
    case EventKind::kFleet:
    case EventKind::kUnknown:
      break;
  }
}

}  // namespace twin::fold
