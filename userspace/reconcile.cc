#include "userspace/reconcile.h"

#include <set>

namespace twin::capture {
namespace {

void AddResync(std::vector<Event>* out, Event e, ResyncOp op, ResyncEntity entity) {
  e.resync_op = op;
  e.resync_entity = entity;
  out->push_back(std::move(e));
}

}  // namespace

ReconcilePlan PlanReconcile(const State& believed, const HostScan& scan,
                            const ReconcileLookups& lookups, const ReconcileOptions& o) {
  ReconcilePlan plan;
  std::vector<Event>& out = plan.events;
  // Processes: full images only for the ones to correct.
  std::set<ProcKey> seen;
  for (const ProcessBrief& b : scan.processes) {
    seen.insert(ProcKey{b.pid, b.start_ns});
    auto it = believed.processes.find(ProcKey{b.pid, b.start_ns});
    // Identity and image count; comm changes without an exec (kworkers rename themselves per work
    // item, prctl(PR_SET_NAME)) and is not worth a correction.
    if (it != believed.processes.end() && it->second.exe == b.exe) continue;
    // A young process's exec/fork may still be in the queue; the periodic pass leaves it alone.
    if (o.grace_ns && b.start_ns + o.grace_ns > o.now_boot_ns) continue;
    auto info = lookups.read_process ? lookups.read_process(b.pid) : std::nullopt;
    if (!info || info->p.start_ns != b.start_ns || info->state == 'Z') continue;  // gone meanwhile
    AddResync(&out, ProcessEvent(EventKind::kResync, info->p), ResyncOp::kUpsert,
              ResyncEntity::kProcess);
  }
  for (const auto& [key, p] : believed.processes) {
    if (seen.count(key)) continue;
    AddResync(&out, ProcessEvent(EventKind::kResync, p), ResyncOp::kRemove, ResyncEntity::kProcess);
  }
  // Listeners (UDP has no close tracepoint: this is where closed UDP sockets leave the state).
  std::set<ListenerKey> lseen;
  for (const Listener& l : scan.listeners) {
    lseen.insert(l.key());
    auto it = believed.listeners.find(l.key());
    if (it != believed.listeners.end() && it->second.pid == l.pid) continue;
    if (it != believed.listeners.end() && l.pid == 0) continue;  // owner not visible to us
    AddResync(&out, ListenerEvent(EventKind::kResync, l), ResyncOp::kUpsert, ResyncEntity::kListener);
  }
  for (const auto& [key, l] : believed.listeners) {
    if (lseen.count(key)) continue;
    AddResync(&out, ListenerEvent(EventKind::kResync, l), ResyncOp::kRemove, ResyncEntity::kListener);
  }
  // Units: those with a cgroup run.
  for (const auto& [name, path] : scan.unit_cgroups) {
    Unit u;
    u.name = name;
    u.cgroup = path;
    if (auto f = lookups.find_unit_file ? lookups.find_unit_file(name) : std::nullopt) {
      u.file_path = f->path;
      u.file_sha256 = f->sha256;
      u.file_content = std::move(f->content);
    }
    auto it = believed.units.find(name);
    if (it == believed.units.end()) {
      AddResync(&out, UnitEvent(EventKind::kResync, u), ResyncOp::kUpsert, ResyncEntity::kUnit);
    } else if (it->second.file_sha256 != u.file_sha256 || it->second.file_path != u.file_path) {
      // The unit file was edited (or appeared/disappeared) while the unit runs.
      out.push_back(UnitEvent(EventKind::kUnitFileChanged, u));
    }
  }
  for (const auto& [name, u] : believed.units) {
    if (scan.unit_cgroups.count(name)) continue;
    if (o.systemd_answers_for_units) {
      plan.recheck_units.push_back(name);
      continue;
    }
    AddResync(&out, UnitEvent(EventKind::kResync, u), ResyncOp::kRemove, ResyncEntity::kUnit);
  }
  for (const Event& e : out)
    if (e.kind == EventKind::kResync) ++plan.corrections;
  if (plan.corrections || o.always_complete || believed.uncertain) {
    Event c;
    c.kind = EventKind::kResync;
    c.resync_op = ResyncOp::kComplete;
    c.reason = o.why;
    c.attrs = {{"corrections", std::to_string(plan.corrections)},
               {"processes", std::to_string(scan.processes.size())},
               {"listeners", std::to_string(scan.listeners.size())},
               {"units", std::to_string(scan.unit_cgroups.size())}};
    out.push_back(std::move(c));
  }
  return plan;
}

namespace {

template <typename V>
bool SameButSince(V a, V b) {
  a.since_ns = b.since_ns = 0;
  return a == b;
}

// Adds, changes and removes between a believed map and what was found, in key order.
template <typename V, typename Emit>
void DiffFound(const std::map<std::string, V>& believed, const std::map<std::string, V>& found,
               Emit emit) {
  for (const auto& [k, v] : found) {
    auto it = believed.find(k);
    if (it == believed.end()) emit("add", nullptr, v);
    else if (!SameButSince(it->second, v)) emit("change", &it->second, v);
  }
  for (const auto& [k, v] : believed) {
    if (!found.count(k)) emit("remove", &v, v);
  }
}

}  // namespace

HostConfigPlan PlanHostConfig(const State& believed, HostConfigScan& scan, std::string_view via) {
  HostConfigPlan plan;
  auto& out = plan.events;
  auto tag = [&](Event e) {
    e.attrs.emplace_back("via", std::string(via));
    out.push_back(std::move(e));
  };
  if (scan.packages) {
    std::map<std::string, Package> found;
    for (const Package& p : *scan.packages) found[p.key()] = p;
    DiffFound(believed.packages, found, [&](std::string_view op, const Package* before, const Package& p) {
      Event e = PackageEvent(op, p);
      std::string action = "install";
      if (op == "remove") {
        action = "remove";
      } else if (before) {
        const int c = CompareDebianVersions(p.version, before->version);
        action = c > 0 ? "upgrade" : c < 0 ? "downgrade" : "status";
        e.attrs.emplace_back("old_version", before->version);
        e.attrs.emplace_back("old_status", before->status);
      }
      e.attrs.insert(e.attrs.begin() + 1, {"action", action});
      tag(std::move(e));
    });
  }
  if (scan.files) {
    std::map<std::string, ConfigFile> found;
    for (const auto& [path, f] : *scan.files) found[path] = f.meta;
    DiffFound(believed.config_files, found,
              [&](std::string_view op, const ConfigFile*, const ConfigFile& f) {
                if (op != "remove" && f.content == "stored") {
                  auto& sf = (*scan.files)[f.path];
                  if (sf.content) {
                    plan.contents.emplace(f.sha256, *sf.content);
                  } else {
                    plan.missing_content.emplace(f.path, f.sha256);
                  }
                }
                tag(ConfigFileEvent(op, f));
              });
  }
  if (scan.unit_config) {
    std::map<std::string, UnitConfig> found;
    for (const auto& [path, u] : *scan.unit_config) found[path] = u.meta;
    DiffFound(believed.unit_config, found,
              [&](std::string_view op, const UnitConfig*, const UnitConfig& u) {
                if (op != "remove" && u.content == "stored") {
                  auto& su = (*scan.unit_config)[u.path];
                  if (su.content) {
                    plan.contents.emplace(u.sha256, *su.content);
                  } else {
                    plan.missing_content.emplace(u.path, u.sha256);
                  }
                }
                tag(UnitConfigEvent(op, u));
              });
  }
  if (scan.users) {
    std::map<std::string, User> found;
    for (const User& u : *scan.users) found.emplace(u.name, u);  // the first entry wins, as NSS
    DiffFound(believed.users, found, [&](std::string_view op, const User*, const User& u) {
      tag(UserEvent(op, u));
    });
  }
  if (scan.groups) {
    std::map<std::string, Group> found;
    for (const Group& g : *scan.groups) found.emplace(g.name, g);
    DiffFound(believed.groups, found, [&](std::string_view op, const Group*, const Group& g) {
      tag(GroupEvent(op, g));
    });
  }
  return plan;
}

}  // namespace twin::capture
