// An independent reference fold for the property tests: decoded events into State, written
// plainly from the fold's documented rules (eventlog/state.h, eventlog/event.h, docs/
// ARCHITECTURE.md) and sharing no code with eventlog/fold_core.h. StateAt, StateFolder and the
// compactor all fold through fold_core.h; comparing them with each other cannot catch a change
// of the rules themselves, comparing them with this can.
#pragma once

#include <algorithm>
#include <iterator>
#include <map>
#include <string>

#include "eventlog/state.h"

namespace twin::testing {

// package / config_file / user / group / unit_config (eventlog/event.h): the entity whole in attrs; op=remove
// erases it by its key, anything else replaces it; since_ns = the event's time.
inline void HostConfigRef(State& s, const Event& e) {
  std::map<std::string, std::string> a(e.attrs.begin(), e.attrs.end());
  const bool remove = a["op"] == "remove";
  auto num = [&](const char* k, int base = 10) -> uint64_t {
    return a[k].empty() ? 0 : std::stoull(a[k], nullptr, base);
  };
  if (e.kind == EventKind::kPackage) {
    const std::string key = a["name"] + ":" + a["arch"];
    if (remove) {
      s.packages.erase(key);
      return;
    }
    s.packages[key] = Package{a["name"], a["arch"], a["version"], a["status"], e.ts_ns};
  } else if (e.kind == EventKind::kConfigFile) {
    if (remove) {
      s.config_files.erase(a["path"]);
      return;
    }
    ConfigFile f;
    f.path = a["path"];
    f.type = a["type"];
    f.mode = static_cast<uint32_t>(num("mode", 8));
    f.uid = static_cast<uint32_t>(num("uid"));
    f.gid = static_cast<uint32_t>(num("gid"));
    f.size = num("size");
    f.sha256 = a["sha256"];
    f.content = a["content"];
    f.package = a["package"];
    f.differs = a["differs"];
    f.target = a["target"];
    f.since_ns = e.ts_ns;
    s.config_files[f.path] = f;
  } else if (e.kind == EventKind::kUser) {
    if (remove) {
      s.users.erase(a["name"]);
      return;
    }
    s.users[a["name"]] = User{a["name"], static_cast<uint32_t>(num("uid")),
                              static_cast<uint32_t>(num("gid")), a["gecos"], a["home"], a["shell"],
                              e.ts_ns};
  } else if (e.kind == EventKind::kGroup) {
    if (remove) {
      s.groups.erase(a["name"]);
      return;
    }
    Group g{a["name"], static_cast<uint32_t>(num("gid")), {}, e.ts_ns};
    std::string m;
    for (char c : a["members"] + ",") {
      if (c != ',') {
        m += c;
      } else if (!m.empty()) {
        g.members.push_back(m);
        m.clear();
      }
    }
    s.groups[g.name] = g;
  } else if (e.kind == EventKind::kUnitConfig) {
    if (remove) {
      s.unit_config.erase(a["path"]);
      return;
    }
    UnitConfig u;
    u.path = a["path"];
    u.dir = a["dir"];
    u.unit = a["unit"];
    u.role = a["role"];
    u.by = a["by"];
    u.type = a["type"];
    u.mode = static_cast<uint32_t>(num("mode", 8));
    u.uid = static_cast<uint32_t>(num("uid"));
    u.gid = static_cast<uint32_t>(num("gid"));
    u.size = num("size");
    u.sha256 = a["sha256"];
    u.content = a["content"];
    u.package = a["package"];
    u.version = a["version"];
    u.differs = a["differs"];
    u.target = a["target"];
    u.since_ns = e.ts_ns;
    s.unit_config[u.path] = u;
  }
}

// The fields an exec (or a process resync) carries: the process's image.
inline void CopyImage(Process& p, const Event& e) {
  p.uid = e.uid;
  p.gid = e.gid;
  p.comm = e.comm;
  p.exe = e.exe;
  p.cwd = e.cwd;
  p.argv = e.argv;
  p.argv_truncated = e.argv_truncated;
  p.exe_truncated = e.exe_truncated;
  p.cwd_truncated = e.cwd_truncated;
  p.cgroup = e.cgroup;
  p.unit = e.unit;
  p.container_id = e.container_id;
}

// A pid names one live process: every entry of `pid` except (pid, keep_start) is a process
// whose exit went unseen.
inline void ForgetOtherLives(State& s, int32_t pid, uint64_t keep_start) {
  std::erase_if(s.processes, [&](const auto& kv) {
    return kv.first.pid == pid && kv.first.start_ns != keep_start;
  });
}

// exec / resync upsert: (pid, start) takes the event's image; the parent link only when the
// event names one; `since` is the event's time unless keep_since and the process was known.
inline void ReplaceImage(State& s, const Event& e, bool keep_since) {
  ForgetOtherLives(s, e.pid, e.start_ns);
  const ProcKey key{e.pid, e.start_ns};
  const bool known = s.processes.count(key) != 0;
  Process& p = s.processes[key];
  const uint64_t old_since = p.since_ns;
  p.pid = e.pid;
  p.start_ns = e.start_ns;
  if (e.ppid != 0) {
    p.ppid = e.ppid;
    p.parent_start_ns = e.parent_start_ns;
  }
  CopyImage(p, e);
  p.since_ns = keep_since && known && old_since != 0 ? old_since : e.ts_ns;
}

inline void ForkChild(State& s, const Event& e) {
  ForgetOtherLives(s, e.pid, e.start_ns);
  Process child;
  const auto parent = s.processes.find(ProcKey{e.ppid, e.parent_start_ns});
  if (parent != s.processes.end()) {
    child = parent->second;  // the child runs its parent's image until it execs
  } else {
    CopyImage(child, e);
  }
  child.pid = e.pid;
  child.start_ns = e.start_ns;
  child.ppid = e.ppid;
  child.parent_start_ns = e.parent_start_ns;
  child.since_ns = e.ts_ns;
  s.processes[ProcKey{e.pid, e.start_ns}] = child;
}

inline void ListenerUp(State& s, const Event& e) {
  const ListenerKey key{e.proto, e.family, e.addr, e.port};
  const auto it = s.listeners.find(key);
  // The same listener announced again (same owner, still listening) keeps its age.
  const bool again = it != s.listeners.end() && it->second.since_ns != 0 &&
                     it->second.listening && it->second.pid == e.pid &&
                     it->second.start_ns == e.start_ns;
  Listener l;
  l.proto = e.proto;
  l.family = e.family;
  l.addr = e.addr;
  l.port = e.port;
  l.listening = true;
  l.pid = e.pid;
  l.start_ns = e.start_ns;
  l.comm = e.comm;
  l.unit = e.unit;
  l.sock_inode = e.sock_inode;
  l.since_ns = again ? it->second.since_ns : e.ts_ns;
  s.listeners[key] = l;
}

inline void UnitUp(State& s, const Event& e) {
  const auto it = s.units.find(e.unit);
  Unit u;
  if (it != s.units.end()) u = it->second;
  const bool first_seen = it == s.units.end() || it->second.name.empty();
  u.name = e.unit;
  u.file_path = e.unit_file_path;
  u.file_sha256 = e.unit_file_sha256;
  u.file_content = e.unit_file_content;
  if (!e.cgroup.empty()) u.cgroup = e.cgroup;  // a resync may not know the cgroup
  if (first_seen) u.since_ns = e.ts_ns;
  s.units[e.unit] = u;
}

inline void BecomeUncertain(State& s, uint64_t since) {
  if (s.uncertain) return;  // uncertain since the first of several gaps
  s.uncertain = true;
  s.uncertain_since_ns = since;
}

inline void ReferenceFold(State& s, const Event& e, const EventKey& key) {
  s.ts_ns = e.ts_ns;
  s.last_key = key;
  s.events_folded += 1;
  const ListenerKey lkey{e.proto, e.family, e.addr, e.port};
  if (e.kind == EventKind::kProcessExec) {
    ReplaceImage(s, e, /*keep_since=*/false);
  } else if (e.kind == EventKind::kProcessFork) {
    ForkChild(s, e);
  } else if (e.kind == EventKind::kProcessExit) {
    if (e.start_ns == 0) {
      // The exit did not say which incarnation: no process of that pid is alive any more.
      std::erase_if(s.processes, [&](const auto& kv) { return kv.first.pid == e.pid; });
    } else {
      s.processes.erase(ProcKey{e.pid, e.start_ns});
    }
  } else if (e.kind == EventKind::kSocketBind) {
    // Only a successfully bound UDP port is reachable before listen().
    if (e.result == 0 && e.proto == kProtoUdp && e.port != 0) ListenerUp(s, e);
  } else if (e.kind == EventKind::kSocketListen) {
    ListenerUp(s, e);
  } else if (e.kind == EventKind::kListenerClose) {
    s.listeners.erase(lkey);
  } else if (e.kind == EventKind::kUnitStart) {
    UnitUp(s, e);
  } else if (e.kind == EventKind::kUnitStop) {
    s.units.erase(e.unit);
  } else if (e.kind == EventKind::kUnitFileChanged) {
    if (auto it = s.units.find(e.unit); it != s.units.end()) {
      it->second.file_path = e.unit_file_path;
      it->second.file_sha256 = e.unit_file_sha256;
      it->second.file_content = e.unit_file_content;
    }
  } else if (e.kind == EventKind::kHostFacts) {
    s.host = e.host;
  } else if (IsHostConfigKind(e.kind)) {
    HostConfigRef(s, e);
  } else if (e.kind == EventKind::kGap) {
    BecomeUncertain(s, e.gap_start_ns != 0 ? e.gap_start_ns : e.ts_ns);
  } else if (e.kind == EventKind::kDaemonStop) {
    BecomeUncertain(s, e.ts_ns);
  } else if (e.kind == EventKind::kResync) {
    const bool upsert = e.resync_op == ResyncOp::kUpsert;
    const bool remove = e.resync_op == ResyncOp::kRemove;
    if (e.resync_entity == ResyncEntity::kProcess) {
      if (upsert) ReplaceImage(s, e, /*keep_since=*/true);
      if (remove) s.processes.erase(ProcKey{e.pid, e.start_ns});
    } else if (e.resync_entity == ResyncEntity::kListener) {
      if (upsert) ListenerUp(s, e);
      if (remove) s.listeners.erase(lkey);
    } else if (e.resync_entity == ResyncEntity::kUnit) {
      if (upsert) UnitUp(s, e);
      if (remove) s.units.erase(e.unit);
    }
    if (e.resync_op == ResyncOp::kComplete) {
      s.uncertain = false;
      s.uncertain_since_ns = 0;
    }
  }
  // Daemon start, twin actions, audits, retention records and unknown kinds change nothing.
}

}  // namespace twin::testing
