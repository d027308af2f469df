#include "eventlog/codec.h"

#include "eventlog/codec_fb.h"

#include <tuple>
#include <type_traits>

namespace twin {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? 0 : b.CreateString(s);
}

std::string Get(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> StrVec(
    FlatBufferBuilder& b, const std::vector<std::string>& v) {
  if (v.empty()) return 0;
  return b.CreateVectorOfStrings(v.begin(), v.end());  // offsets go to the builder's scratch
}

std::vector<std::string> GetStrVec(const flatbuffers::Vector<Offset<flatbuffers::String>>* v) {
  std::vector<std::string> out;
  if (!v) return out;
  out.reserve(v->size());
  for (const auto* s : *v) out.push_back(Get(s));
  return out;
}

// In-place variants reuse the destination's capacity: Scan decodes into one Event over and
// over, so this keeps the read path free of most allocations.
void SetStr(std::string& dst, const flatbuffers::String* s) {
  if (s) {
    dst.assign(s->data(), s->size());
  } else {
    dst.clear();
  }
}

void SetStrVec(std::vector<std::string>& dst,
               const flatbuffers::Vector<Offset<flatbuffers::String>>* v) {
  const size_t n = v ? v->size() : 0;
  dst.resize(n);
  for (size_t i = 0; i < n; ++i) SetStr(dst[i], v->Get(static_cast<flatbuffers::uoffset_t>(i)));
}

Offset<fb::HostFacts> EncodeHost(FlatBufferBuilder& b, const HostFacts& h) {
  std::vector<Offset<fb::Disk>> disks;
  for (const auto& d : h.disks) {
    disks.push_back(fb::CreateDisk(b, Str(b, d.name), d.size_bytes, Str(b, d.mount)));
  }
  auto hostname = Str(b, h.hostname), kernel = Str(b, h.kernel), os = Str(b, h.os),
       mid = Str(b, h.machine_id), bid = Str(b, h.boot_id);
  auto dv = disks.empty() ? 0 : b.CreateVector(disks);
  return fb::CreateHostFacts(b, hostname, kernel, os, mid, bid, h.cpus, h.mem_bytes, dv);
}

// Field by field (comparing with HostFacts{} builds a temporary per event).
static_assert(sizeof(HostFacts) == 5 * sizeof(std::string) + 16 + sizeof(std::vector<Disk>),
              "HostFacts changed: update HostEmpty");
bool HostEmpty(const HostFacts& h) {
  return h.hostname.empty() && h.kernel.empty() && h.os.empty() && h.machine_id.empty() &&
         h.boot_id.empty() && h.cpus == 0 && h.mem_bytes == 0 && h.disks.empty();
}

}  // namespace

HostFacts DecodeHost(const fb::HostFacts* h) {
  HostFacts out;
  if (!h) return out;
  out.hostname = Get(h->hostname());
  out.kernel = Get(h->kernel());
  out.os = Get(h->os());
  out.machine_id = Get(h->machine_id());
  out.boot_id = Get(h->boot_id());
  out.cpus = h->cpus();
  out.mem_bytes = h->mem_bytes();
  if (h->disks()) {
    for (const auto* d : *h->disks()) {
      out.disks.push_back({Get(d->name()), d->size_bytes(), Get(d->mount())});
    }
  }
  return out;
}

namespace {

Offset<fb::Process> EncodeProcess(FlatBufferBuilder& b, const Process& p) {
  auto comm = Str(b, p.comm), exe = Str(b, p.exe), cwd = Str(b, p.cwd);
  auto argv = StrVec(b, p.argv);
  auto cg = Str(b, p.cgroup), unit = Str(b, p.unit), cid = Str(b, p.container_id);
  auto sha = Str(b, p.exe_sha256), hash = Str(b, p.exe_hash), flags = Str(b, p.exe_flags);
  return fb::CreateProcess(b, p.pid, p.start_ns, p.ppid, p.parent_start_ns, p.uid, p.gid, comm,
                           exe, cwd, argv, p.argv_truncated, cg, unit, cid, p.since_ns,
                           p.exe_truncated, p.cwd_truncated, sha, hash, flags);
}

}  // namespace

Process DecodeProcess(const fb::Process* p) {
  Process out;
  if (!p) return out;
  out.pid = p->pid();
  out.start_ns = p->start_ns();
  out.ppid = p->ppid();
  out.parent_start_ns = p->parent_start_ns();
  out.uid = p->uid();
  out.gid = p->gid();
  out.comm = Get(p->comm());
  out.exe = Get(p->exe());
  out.cwd = Get(p->cwd());
  out.argv = GetStrVec(p->argv());
  out.argv_truncated = p->argv_truncated();
  out.exe_truncated = p->exe_truncated();
  out.cwd_truncated = p->cwd_truncated();
  out.cgroup = Get(p->cgroup());
  out.unit = Get(p->unit());
  out.container_id = Get(p->container_id());
  out.since_ns = p->since_ns();
  out.exe_sha256 = Get(p->exe_sha256());
  out.exe_hash = Get(p->exe_hash());
  out.exe_flags = Get(p->exe_flags());
  return out;
}

namespace {

Offset<fb::Listener> EncodeListener(FlatBufferBuilder& b, const Listener& l) {
  auto addr = Str(b, l.addr), comm = Str(b, l.comm), unit = Str(b, l.unit);
  return fb::CreateListener(b, l.proto, l.family, addr, l.port, l.listening, l.pid, l.start_ns,
                            comm, unit, l.sock_inode, l.since_ns);
}

Listener DecodeListener(const fb::Listener* l) {
  Listener out;
  if (!l) return out;
  out.proto = l->proto();
  out.family = l->family();
  out.addr = Get(l->addr());
  out.port = l->port();
  out.listening = l->listening();
  out.pid = l->pid();
  out.start_ns = l->start_ns();
  out.comm = Get(l->comm());
  out.unit = Get(l->unit());
  out.sock_inode = l->sock_inode();
  out.since_ns = l->since_ns();
  return out;
}

Offset<fb::Unit> EncodeUnit(FlatBufferBuilder& b, const Unit& u) {
  auto name = Str(b, u.name), path = Str(b, u.file_path), sha = Str(b, u.file_sha256),
       content = Str(b, u.file_content), cg = Str(b, u.cgroup);
  return fb::CreateUnit(b, name, path, sha, content, cg, u.since_ns);
}

Unit DecodeUnit(const fb::Unit* u) {
  Unit out;
  if (!u) return out;
  out.name = Get(u->name());
  out.file_path = Get(u->file_path());
  out.file_sha256 = Get(u->file_sha256());
  out.file_content = Get(u->file_content());
  out.cgroup = Get(u->cgroup());
  out.since_ns = u->since_ns();
  return out;
}

Offset<fb::Package> EncodePackage(FlatBufferBuilder& b, const Package& p) {
  auto name = Str(b, p.name), arch = Str(b, p.arch), version = Str(b, p.version),
       status = Str(b, p.status);
  return fb::CreatePackage(b, name, arch, version, status, p.since_ns);
}

Package DecodePackage(const fb::Package* p) {
  Package out;
  if (!p) return out;
  out.name = Get(p->name());
  out.arch = Get(p->arch());
  out.version = Get(p->version());
  out.status = Get(p->status());
  out.since_ns = p->since_ns();
  return out;
}

Offset<fb::ConfigFile> EncodeConfigFile(FlatBufferBuilder& b, const ConfigFile& f) {
  auto path = Str(b, f.path), type = Str(b, f.type), sha = Str(b, f.sha256),
       content = Str(b, f.content), pkg = Str(b, f.package), differs = Str(b, f.differs),
       target = Str(b, f.target);
  return fb::CreateConfigFile(b, path, type, f.mode, f.uid, f.gid, f.size, sha, content, pkg,
                              differs, target, f.since_ns);
}

ConfigFile DecodeConfigFile(const fb::ConfigFile* f) {
  ConfigFile out;
  if (!f) return out;
  out.path = Get(f->path());
  out.type = Get(f->type());
  out.mode = f->mode();
  out.uid = f->uid();
  out.gid = f->gid();
  out.size = f->size();
  out.sha256 = Get(f->sha256());
  out.content = Get(f->content());
  out.package = Get(f->package());
  out.differs = Get(f->differs());
  out.target = Get(f->target());
  out.since_ns = f->since_ns();
  return out;
}

Offset<fb::User> EncodeUser(FlatBufferBuilder& b, const User& u) {
  auto name = Str(b, u.name), gecos = Str(b, u.gecos), home = Str(b, u.home),
       shell = Str(b, u.shell);
  return fb::CreateUser(b, name, u.uid, u.gid, gecos, home, shell, u.since_ns);
}

User DecodeUser(const fb::User* u) {
  User out;
  if (!u) return out;
  out.name = Get(u->name());
  out.uid = u->uid();
  out.gid = u->gid();
  out.gecos = Get(u->gecos());
  out.home = Get(u->home());
  out.shell = Get(u->shell());
  out.since_ns = u->since_ns();
  return out;
}

Offset<fb::Group> EncodeGroup(FlatBufferBuilder& b, const Group& g) {
  auto name = Str(b, g.name);
  auto members = StrVec(b, g.members);
  return fb::CreateGroup(b, name, g.gid, members, g.since_ns);
}

Group DecodeGroup(const fb::Group* g) {
  Group out;
  if (!g) return out;
  out.name = Get(g->name());
  out.gid = g->gid();
  out.members = GetStrVec(g->members());
  out.since_ns = g->since_ns();
  return out;
}

Offset<fb::UnitConfig> EncodeUnitConfig(FlatBufferBuilder& b, const UnitConfig& u) {
  auto path = Str(b, u.path), dir = Str(b, u.dir), unit = Str(b, u.unit), role = Str(b, u.role),
       by = Str(b, u.by), type = Str(b, u.type), sha = Str(b, u.sha256),
       content = Str(b, u.content), pkg = Str(b, u.package), version = Str(b, u.version),
       differs = Str(b, u.differs), target = Str(b, u.target);
  return fb::CreateUnitConfig(b, path, dir, unit, role, by, type, u.mode, u.uid, u.gid, u.size,
                              sha, content, pkg, version, differs, target, u.since_ns);
}

UnitConfig DecodeUnitConfig(const fb::UnitConfig* u) {
  UnitConfig out;
  if (!u) return out;
  out.path = Get(u->path());
  out.dir = Get(u->dir());
  out.unit = Get(u->unit());
  out.role = Get(u->role());
  out.by = Get(u->by());
  out.type = Get(u->type());
  out.mode = u->mode();
  out.uid = u->uid();
  out.gid = u->gid();
  out.size = u->size();
  out.sha256 = Get(u->sha256());
  out.content = Get(u->content());
  out.package = Get(u->package());
  out.version = Get(u->version());
  out.differs = Get(u->differs());
  out.target = Get(u->target());
  out.since_ns = u->since_ns();
  return out;
}

template <typename V, typename FbV, typename EncFn>
Offset<flatbuffers::Vector<Offset<FbV>>> EncMap(FlatBufferBuilder& b,
                                                const std::map<std::string, V>& m, EncFn enc) {
  if (m.empty()) return 0;
  std::vector<Offset<FbV>> offs;
  offs.reserve(m.size());
  for (const auto& [k, x] : m) offs.push_back(enc(b, x));
  return b.CreateVector(offs);
}

template <typename V, typename FbV, typename DecFn, typename KeyFn>
void DecMap(const flatbuffers::Vector<Offset<FbV>>* v, std::map<std::string, V>& out, DecFn dec,
            KeyFn key) {
  if (!v) return;
  for (const auto* x : *v) {
    V d = dec(x);
    std::string k = key(d);
    out.emplace_hint(out.end(), std::move(k), std::move(d));
  }
}

Offset<fb::State> EncodeState(FlatBufferBuilder& b, const State& s,
                              const std::string& host_config_ref = "") {
  std::vector<Offset<fb::Process>> procs;
  procs.reserve(s.processes.size());
  for (const auto& [k, p] : s.processes) procs.push_back(EncodeProcess(b, p));
  std::vector<Offset<fb::Unit>> units;
  for (const auto& [k, u] : s.units) units.push_back(EncodeUnit(b, u));
  std::vector<Offset<fb::Listener>> ls;
  for (const auto& [k, l] : s.listeners) ls.push_back(EncodeListener(b, l));
  auto pv = b.CreateVector(procs);
  auto uv = b.CreateVector(units);
  auto lv = b.CreateVector(ls);
  auto host = EncodeHost(b, s.host);
  const bool by_ref = !host_config_ref.empty();
  auto pkgs = by_ref ? 0 : EncMap<Package, fb::Package>(b, s.packages, EncodePackage);
  auto files = by_ref ? 0 : EncMap<ConfigFile, fb::ConfigFile>(b, s.config_files, EncodeConfigFile);
  auto users = by_ref ? 0 : EncMap<User, fb::User>(b, s.users, EncodeUser);
  auto groups = by_ref ? 0 : EncMap<Group, fb::Group>(b, s.groups, EncodeGroup);
  auto ucfg = by_ref ? 0 : EncMap<UnitConfig, fb::UnitConfig>(b, s.unit_config, EncodeUnitConfig);
  auto ref = Str(b, host_config_ref);
  return fb::CreateState(b, s.ts_ns, s.last_key.ts_ns, s.last_key.seq, s.events_folded, pv, uv,
                         lv, host, s.uncertain, s.uncertain_since_ns, pkgs, files, users, groups,
                         ref, ucfg);
}

State DecodeState(const fb::State* s) {
  State out;
  if (!s) return out;
  out.ts_ns = s->ts_ns();
  out.last_key = {s->last_ts_ns(), s->last_seq()};
  out.events_folded = s->events_folded();
  if (s->processes()) {
    for (const auto* p : *s->processes()) {
      Process proc = DecodeProcess(p);
      ProcKey k{proc.pid, proc.start_ns};
      out.processes.emplace_hint(out.processes.end(), k, std::move(proc));
    }
  }
  if (s->units()) {
    for (const auto* u : *s->units()) {
      Unit unit = DecodeUnit(u);
      std::string name = unit.name;
      out.units.emplace_hint(out.units.end(), std::move(name), std::move(unit));
    }
  }
  if (s->listeners()) {
    for (const auto* l : *s->listeners()) {
      Listener lis = DecodeListener(l);
      out.listeners.emplace_hint(out.listeners.end(), lis.key(), std::move(lis));
    }
  }
  out.host = DecodeHost(s->host());
  DecMap(s->packages(), out.packages, DecodePackage, [](const Package& p) { return p.key(); });
  DecMap(s->config_files(), out.config_files, DecodeConfigFile,
         [](const ConfigFile& f) { return f.path; });
  DecMap(s->users(), out.users, DecodeUser, [](const User& u) { return u.name; });
  DecMap(s->groups(), out.groups, DecodeGroup, [](const Group& g) { return g.name; });
  DecMap(s->unit_config(), out.unit_config, DecodeUnitConfig,
         [](const UnitConfig& u) { return u.path; });
  out.uncertain = s->uncertain();
  out.uncertain_since_ns = s->uncertain_since_ns();
  return out;
}

template <typename V, typename FbV, typename EncFn>
Offset<flatbuffers::Vector<Offset<FbV>>> EncList(FlatBufferBuilder& b, const std::vector<V>& v,
                                                 EncFn enc) {
  std::vector<Offset<FbV>> offs;
  for (const auto& x : v) offs.push_back(enc(b, x));
  return b.CreateVector(offs);
}

}  // namespace

void EncodeEvent(const Event& e, FlatBufferBuilder& b) {
  b.Clear();
  auto comm = Str(b, e.comm), exe = Str(b, e.exe), cwd = Str(b, e.cwd);
  auto argv = StrVec(b, e.argv);
  auto cg = Str(b, e.cgroup), unit = Str(b, e.unit), cid = Str(b, e.container_id);
  auto addr = Str(b, e.addr);
  auto ufp = Str(b, e.unit_file_path), ufs = Str(b, e.unit_file_sha256),
       ufc = Str(b, e.unit_file_content);
  Offset<fb::HostFacts> host = HostEmpty(e.host) ? 0 : EncodeHost(b, e.host);
  auto reason = Str(b, e.reason);
  Offset<flatbuffers::Vector<Offset<fb::KV>>> attrs = 0;
  if (!e.attrs.empty()) {
    std::vector<Offset<fb::KV>> kvs;
    for (const auto& [k, v] : e.attrs) {
      auto ko = b.CreateString(k);
      auto vo = b.CreateString(v);
      kvs.push_back(fb::CreateKV(b, ko, vo));
    }
    attrs = b.CreateVector(kvs);
  }
  fb::EventBuilder eb(b);
  eb.add_kind(static_cast<uint8_t>(e.kind));
  eb.add_ts_ns(e.ts_ns);
  eb.add_boottime_ns(e.boottime_ns);
  eb.add_pid(e.pid);
  eb.add_ppid(e.ppid);
  eb.add_start_ns(e.start_ns);
  eb.add_parent_start_ns(e.parent_start_ns);
  eb.add_uid(e.uid);
  eb.add_gid(e.gid);
  eb.add_comm(comm);
  eb.add_exe(exe);
  eb.add_cwd(cwd);
  eb.add_argv(argv);
  eb.add_argv_truncated(e.argv_truncated);
  eb.add_cgroup(cg);
  eb.add_unit(unit);
  eb.add_container_id(cid);
  eb.add_exit_code(e.exit_code);
  eb.add_signal(e.signal);
  eb.add_core_dumped(e.core_dumped);
  eb.add_duration_ns(e.duration_ns);
  eb.add_proto(e.proto);
  eb.add_family(e.family);
  eb.add_addr(addr);
  eb.add_port(e.port);
  eb.add_sock_inode(e.sock_inode);
  eb.add_result(e.result);
  eb.add_unit_file_path(ufp);
  eb.add_unit_file_sha256(ufs);
  eb.add_unit_file_content(ufc);
  eb.add_host(host);
  eb.add_gap_start_ns(e.gap_start_ns);
  eb.add_gap_end_ns(e.gap_end_ns);
  eb.add_lost(e.lost);
  eb.add_reason(reason);
  eb.add_resync_op(static_cast<uint8_t>(e.resync_op));
  eb.add_resync_entity(static_cast<uint8_t>(e.resync_entity));
  eb.add_attrs(attrs);
  eb.add_exe_truncated(e.exe_truncated);
  eb.add_cwd_truncated(e.cwd_truncated);
  b.Finish(eb.Finish());
}

std::string EncodeEventToString(const Event& e) {
  FlatBufferBuilder b(256);
  EncodeEvent(e, b);
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

const fb::Event* VerifiedEvent(std::string_view bytes, Status* error) {
  if (!VerifyEventRecord(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) {
    *error = Status::Corruption("event record fails FlatBuffers verification");
    return nullptr;
  }
  const fb::Event* e = flatbuffers::GetRoot<fb::Event>(bytes.data());
  if (e->kind() == 0 || e->kind() > kEventKindMax) {
    *error = Status::Corruption("event record has unknown kind " + std::to_string(e->kind()));
    return nullptr;
  }
  return e;
}

Status DecodeEvent(std::string_view bytes, Event* out) {
  Status error;
  const fb::Event* e = VerifiedEvent(bytes, &error);
  if (!e) return error;
  Event& o = *out;
  o.kind = static_cast<EventKind>(e->kind());
  o.ts_ns = e->ts_ns();
  o.boottime_ns = e->boottime_ns();
  o.pid = e->pid();
  o.ppid = e->ppid();
  o.start_ns = e->start_ns();
  o.parent_start_ns = e->parent_start_ns();
  o.uid = e->uid();
  o.gid = e->gid();
  SetStr(o.comm, e->comm());
  SetStr(o.exe, e->exe());
  SetStr(o.cwd, e->cwd());
  SetStrVec(o.argv, e->argv());
  o.argv_truncated = e->argv_truncated();
  o.exe_truncated = e->exe_truncated();
  o.cwd_truncated = e->cwd_truncated();
  SetStr(o.cgroup, e->cgroup());
  SetStr(o.unit, e->unit());
  SetStr(o.container_id, e->container_id());
  o.exit_code = e->exit_code();
  o.signal = e->signal();
  o.core_dumped = e->core_dumped();
  o.duration_ns = e->duration_ns();
  o.proto = e->proto();
  o.family = e->family();
  SetStr(o.addr, e->addr());
  o.port = e->port();
  o.sock_inode = e->sock_inode();
  o.result = e->result();
  SetStr(o.unit_file_path, e->unit_file_path());
  SetStr(o.unit_file_sha256, e->unit_file_sha256());
  SetStr(o.unit_file_content, e->unit_file_content());
  if (e->host()) {
    o.host = DecodeHost(e->host());
  } else if (!HostEmpty(o.host)) {
    o.host = HostFacts{};
  }
  o.gap_start_ns = e->gap_start_ns();
  o.gap_end_ns = e->gap_end_ns();
  o.lost = e->lost();
  SetStr(o.reason, e->reason());
  o.resync_op = static_cast<ResyncOp>(e->resync_op());
  o.resync_entity = static_cast<ResyncEntity>(e->resync_entity());
  o.attrs.clear();
  if (e->attrs()) {
    for (const auto* kv : *e->attrs()) o.attrs.emplace_back(Get(kv->k()), Get(kv->v()));
  }
  return Status::Ok();
}

namespace {
std::string_view View(const flatbuffers::String* s) {
  return s ? std::string_view(s->data(), s->size()) : std::string_view();
}
}  // namespace

// A field added to Event needs its place in EventView, DecodeEventView and the renderers
// that take both (replay/render.cc), and tests/core/cli_test.cc's hostile events.
static_assert(sizeof(Event) == 752, "Event changed: update EventView and DecodeEventView");

Status DecodeEventKind(std::string_view bytes, EventKind* kind) {
  Status error;
  const fb::Event* e = VerifiedEvent(bytes, &error);
  if (!e) return error;
  *kind = static_cast<EventKind>(e->kind());
  return Status::Ok();
}

Status DecodeEventView(std::string_view bytes, EventView* out) {
  Status error;
  const fb::Event* e = VerifiedEvent(bytes, &error);
  if (!e) return error;
  EventView& o = *out;
  o.kind = static_cast<EventKind>(e->kind());
  o.ts_ns = e->ts_ns();
  o.boottime_ns = e->boottime_ns();
  o.pid = e->pid();
  o.ppid = e->ppid();
  o.start_ns = e->start_ns();
  o.parent_start_ns = e->parent_start_ns();
  o.uid = e->uid();
  o.gid = e->gid();
  o.comm = View(e->comm());
  o.exe = View(e->exe());
  o.cwd = View(e->cwd());
  o.argv.clear();
  if (const auto* v = e->argv()) {
    for (const auto* a : *v) o.argv.push_back(View(a));
  }
  o.argv_truncated = e->argv_truncated();
  o.exe_truncated = e->exe_truncated();
  o.cwd_truncated = e->cwd_truncated();
  o.cgroup = View(e->cgroup());
  o.unit = View(e->unit());
  o.container_id = View(e->container_id());
  o.exit_code = e->exit_code();
  o.signal = e->signal();
  o.core_dumped = e->core_dumped();
  o.duration_ns = e->duration_ns();
  o.proto = e->proto();
  o.family = e->family();
  o.addr = View(e->addr());
  o.port = e->port();
  o.sock_inode = e->sock_inode();
  o.result = e->result();
  o.unit_file_path = View(e->unit_file_path());
  o.unit_file_sha256 = View(e->unit_file_sha256());
  o.unit_file_content = View(e->unit_file_content());
  if (e->host()) {
    o.host = DecodeHost(e->host());
  } else if (!HostEmpty(o.host)) {
    o.host = HostFacts{};
  }
  o.gap_start_ns = e->gap_start_ns();
  o.gap_end_ns = e->gap_end_ns();
  o.lost = e->lost();
  o.reason = View(e->reason());
  o.resync_op = static_cast<ResyncOp>(e->resync_op());
  o.resync_entity = static_cast<ResyncEntity>(e->resync_entity());
  o.attrs.clear();
  if (e->attrs()) {
    for (const auto* kv : *e->attrs()) o.attrs.emplace_back(View(kv->k()), View(kv->v()));
  }
  return Status::Ok();
}

std::string EncodeHostConfig(const State& s) {
  FlatBufferBuilder b(4096);
  auto pkgs = EncMap<Package, fb::Package>(b, s.packages, EncodePackage);
  auto files = EncMap<ConfigFile, fb::ConfigFile>(b, s.config_files, EncodeConfigFile);
  auto users = EncMap<User, fb::User>(b, s.users, EncodeUser);
  auto groups = EncMap<Group, fb::Group>(b, s.groups, EncodeGroup);
  auto ucfg = EncMap<UnitConfig, fb::UnitConfig>(b, s.unit_config, EncodeUnitConfig);
  fb::StateBuilder sb(b);
  sb.add_packages(pkgs);
  sb.add_config_files(files);
  sb.add_users(users);
  sb.add_groups(groups);
  sb.add_unit_config(ucfg);
  b.Finish(sb.Finish());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

Status DecodeHostConfigInto(std::string_view bytes, State* out) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                          /*max_depth=*/64, /*max_tables=*/100000000);
  if (!v.VerifyBuffer<fb::State>(nullptr)) {
    return Status::Corruption("host configuration record fails FlatBuffers verification");
  }
  const fb::State* s = flatbuffers::GetRoot<fb::State>(bytes.data());
  out->packages.clear();
  out->config_files.clear();
  out->users.clear();
  out->groups.clear();
  out->unit_config.clear();
  DecMap(s->packages(), out->packages, DecodePackage, [](const Package& p) { return p.key(); });
  DecMap(s->config_files(), out->config_files, DecodeConfigFile,
         [](const ConfigFile& f) { return f.path; });
  DecMap(s->users(), out->users, DecodeUser, [](const User& u) { return u.name; });
  DecMap(s->groups(), out->groups, DecodeGroup, [](const Group& g) { return g.name; });
  DecMap(s->unit_config(), out->unit_config, DecodeUnitConfig,
         [](const UnitConfig& u) { return u.path; });
  return Status::Ok();
}

std::string EncodeSnapshot(const Snapshot& s, const std::string& host_config_ref) {
  FlatBufferBuilder b(4096);
  auto state = EncodeState(b, s.state, host_config_ref);
  const StateDiff& d = s.diff;
  auto pa = EncList<Process, fb::Process>(b, d.processes.added, EncodeProcess);
  auto pr = EncList<Process, fb::Process>(b, d.processes.removed, EncodeProcess);
  std::vector<Offset<fb::ProcessChange>> pc;
  for (const auto& [x, y] : d.processes.changed) {
    auto bx = EncodeProcess(b, x);
    auto by = EncodeProcess(b, y);
    pc.push_back(fb::CreateProcessChange(b, bx, by));
  }
  auto pcv = b.CreateVector(pc);
  auto ua = EncList<Unit, fb::Unit>(b, d.units.added, EncodeUnit);
  auto ur = EncList<Unit, fb::Unit>(b, d.units.removed, EncodeUnit);
  std::vector<Offset<fb::UnitChange>> uc;
  for (const auto& [x, y] : d.units.changed) {
    auto bx = EncodeUnit(b, x);
    auto by = EncodeUnit(b, y);
    uc.push_back(fb::CreateUnitChange(b, bx, by));
  }
  auto ucv = b.CreateVector(uc);
  auto la = EncList<Listener, fb::Listener>(b, d.listeners.added, EncodeListener);
  auto lr = EncList<Listener, fb::Listener>(b, d.listeners.removed, EncodeListener);
  std::vector<Offset<fb::ListenerChange>> lc;
  for (const auto& [x, y] : d.listeners.changed) {
    auto bx = EncodeListener(b, x);
    auto by = EncodeListener(b, y);
    lc.push_back(fb::CreateListenerChange(b, bx, by));
  }
  auto lcv = b.CreateVector(lc);
  auto hb = EncodeHost(b, d.host_before);
  auto ha = EncodeHost(b, d.host_after);
  // Host configuration: changed entities as their state after.
  auto hc = [&](const auto& md, auto enc) {
    using V = typename std::decay_t<decltype(md.added)>::value_type;
    std::vector<V> after;
    for (const auto& [x, y] : md.changed) after.push_back(y);
    auto enc_list = [&](const std::vector<V>& v) {
      std::vector<decltype(enc(b, std::declval<const V&>()))> offs;
      for (const auto& x : v) offs.push_back(enc(b, x));
      return offs.empty() ? 0 : b.CreateVector(offs);
    };
    auto a = enc_list(md.added);
    auto r = enc_list(md.removed);
    auto c = enc_list(after);
    return std::make_tuple(a, r, c);
  };
  auto [pka, pkr, pkc] = hc(d.packages, EncodePackage);
  auto [cfa, cfr, cfc] = hc(d.config_files, EncodeConfigFile);
  auto [usa, usr, usc] = hc(d.users, EncodeUser);
  auto [gra, grr, grc] = hc(d.groups, EncodeGroup);
  auto [uca, ucr, ucc] = hc(d.unit_config, EncodeUnitConfig);
  auto diff = fb::CreateStateDiff(b, pa, pr, pcv, ua, ur, ucv, la, lr, lcv, d.host_changed, hb, ha,
                                  pka, pkr, pkc, cfa, cfr, cfc, usa, usr, usc, gra, grr, grc,
                                  uca, ucr, ucc);
  b.Finish(fb::CreateSnapshot(b, kSchemaVersion, state, diff, s.written_ns));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

namespace {
const fb::Snapshot* VerifiedSnapshot(std::string_view bytes) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                          /*max_depth=*/64, /*max_tables=*/100000000);
  if (!v.VerifyBuffer<fb::Snapshot>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<fb::Snapshot>(bytes.data());
}
}  // namespace

Status DecodeSnapshotState(std::string_view bytes, State* out, std::string* host_config_ref) {
  const fb::Snapshot* s = VerifiedSnapshot(bytes);
  if (!s) return Status::Corruption("snapshot record fails FlatBuffers verification");
  *out = DecodeState(s->state());
  if (host_config_ref) {
    host_config_ref->clear();
    if (s->state() && s->state()->host_config_ref()) *host_config_ref = s->state()->host_config_ref()->str();
  }
  return Status::Ok();
}

}  // namespace twin
