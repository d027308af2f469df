#include "replay/sql.h"

#include <sqlite3.h>

#include <cstring>
#include <map>
#include <optional>

#include "eventlog/event_view.h"
#include "eventlog/filter.h"
#include "eventlog/process_id.h"
#include "eventlog/state.h"
#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "replay/args.h"
#include "replay/cli.h"

namespace twin {

namespace {

// The folded state at one T, shared by every table and cursor that asks for that T.
struct StateAtT {
  State state;
  uint64_t at_ns = 0;
  std::string boot_tag;
  // wall ns minus CLOCK_BOOTTIME ns, from the last folded event: turns start_ns into a wall time.
  std::optional<int64_t> wall_minus_boot;
};

}  // namespace

struct SqlSession::Impl {
  const EventLog* log = nullptr;
  uint64_t now_ns = 0;
  sqlite3* db = nullptr;
  Status read_error;  // the first failure of a table to read the log (reported over SQLite's)
  bool declaring = false;  // a table declares its columns (a CREATE TABLE the authorizer lets by)
  std::map<uint64_t, std::shared_ptr<const StateAtT>> states;

  // A table could not read the log: remember why and give SQLite the message.
  int Fail(sqlite3_vtab* vt, const Status& s) {
    if (read_error.ok()) read_error = s;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("%s", s.message().c_str());
    return SQLITE_ERROR;
  }

  Result<std::shared_ptr<const StateAtT>> StateFor(uint64_t at_ns) {
    auto it = states.find(at_ns);
    if (it != states.end()) return it->second;
    if (Status s = CheckWithinLog(*log, "at", at_ns); !s.ok()) return s;
    auto st = StateAt(*log, at_ns);
    if (!st.ok()) return st.status();
    auto out = std::make_shared<StateAtT>();
    out->state = std::move(st).value();
    out->at_ns = at_ns;
    out->boot_tag = BootTag(out->state.host.boot_id);
    const EventKey last = out->state.last_key;
    Status s = log->Scan(last, last, [&](const EventKey&, const Event& e) {
      if (e.boottime_ns != 0) out->wall_minus_boot = static_cast<int64_t>(e.ts_ns - e.boottime_ns);
      return false;
    });
    if (!s.ok()) return s;
    states[at_ns] = out;
    return std::shared_ptr<const StateAtT>(out);
  }
};

namespace {

using Impl = SqlSession::Impl;

void ResultText(sqlite3_context* ctx, std::string_view s) {
  sqlite3_result_text64(ctx, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void ResultU(sqlite3_context* ctx, uint64_t v) { sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(v)); }

std::string Cmdline(const std::vector<std::string>& argv) {
  std::string s;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}
std::string ArgvJson(const std::vector<std::string>& argv) {
  std::string s;
  JsonWriter w(s);
  w.BeginArray();
  for (const auto& a : argv) w.String(a);
  w.EndArray();
  return s;
}

// Epoch seconds of a CLOCK_BOOTTIME instant, given wall - boot.
std::optional<int64_t> WallSeconds(std::optional<int64_t> wall_minus_boot, uint64_t boot_ns) {
  if (!wall_minus_boot || boot_ns == 0) return std::nullopt;
  return (*wall_minus_boot + static_cast<int64_t>(boot_ns)) / 1'000'000'000;
}

// A time given to SQL: an integer (epoch s or ns, as --at takes them) or text in any --at form.
Result<uint64_t> TimeArg(sqlite3_value* v, uint64_t now_ns) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: {
      const sqlite3_int64 i = sqlite3_value_int64(v);
      if (i < 0) return Status::InvalidArgument("at: " + std::to_string(i) + " is not a time");
      return ParseTime(std::to_string(i), now_ns);
    }
    case SQLITE_TEXT: {
      const char* t = reinterpret_cast<const char*>(sqlite3_value_text(v));
      auto r = ParseTime(std::string_view(t, static_cast<size_t>(sqlite3_value_bytes(v))), now_ns);
      if (!r.ok()) return Status::InvalidArgument("at: " + r.status().message());
      return r;
    }
    default:
      return Status::InvalidArgument("at: give a time as text ('-1h', RFC 3339) or epoch seconds/ns");
  }
}

// ---------------------------------------------------------------------------------------------
// Shared vtab plumbing.

struct Table {
  sqlite3_vtab base{};
  Impl* impl = nullptr;
};

template <typename T>
int Connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
  Impl* impl = static_cast<Impl*>(aux);
  impl->declaring = true;
  int rc = sqlite3_declare_vtab(db, T::kSchema);
  impl->declaring = false;
  if (rc != SQLITE_OK) return rc;
  auto* t = new Table;
  t->impl = impl;
  *out = &t->base;
  return SQLITE_OK;
}
int Disconnect(sqlite3_vtab* vt) {
  delete reinterpret_cast<Table*>(vt);
  return SQLITE_OK;
}
template <typename C>
int Close(sqlite3_vtab_cursor* c) {
  delete reinterpret_cast<C*>(c);
  return SQLITE_OK;
}
template <typename C>
int Open(sqlite3_vtab* vt, sqlite3_vtab_cursor** out) {
  auto* c = new C;
  c->impl = reinterpret_cast<Table*>(vt)->impl;
  *out = &c->base;
  return SQLITE_OK;
}

template <typename T, typename C>
sqlite3_module MakeModule() {
  sqlite3_module m{};
  m.iVersion = 1;
  m.xCreate = nullptr;  // eponymous only: the tables exist without CREATE VIRTUAL TABLE
  m.xConnect = Connect<T>;
  m.xBestIndex = T::BestIndex;
  m.xDisconnect = Disconnect;
  m.xDestroy = Disconnect;
  m.xOpen = Open<C>;
  m.xClose = Close<C>;
  m.xFilter = C::Filter;
  m.xNext = C::Next;
  m.xEof = C::Eof;
  m.xColumn = C::Column;
  m.xRowid = C::Rowid;
  return m;
}

// ---------------------------------------------------------------------------------------------
// events

enum EvCol {
  kEvTime, kEvDatetime, kEvTsNs, kEvSeq, kEvMonoNs, kEvRecordTsNs, kEvKind, kEvPid, kEvStartNs,
  kEvProcessId, kEvParent, kEvParentStartNs, kEvParentProcessId, kEvStartTime, kEvUid, kEvGid,
  kEvName, kEvPath, kEvCmdline, kEvArgv, kEvCwd, kEvCgroup, kEvUnit, kEvContainerId, kEvExitCode,
  kEvSignal, kEvCoreDumped, kEvDurationNs, kEvProtocol, kEvFamily, kEvAddress, kEvPort, kEvSocket,
  kEvResult, kEvUnitFilePath, kEvUnitFileSha256, kEvReason, kEvJson, kEvSha256, kEvExeHash,
  kEvExeFlags,
};

struct EventsTable {
  static constexpr const char* kSchema =
      "CREATE TABLE x(time INTEGER, datetime TEXT, ts_ns INTEGER, seq INTEGER, mono_ns INTEGER, "
      "record_ts_ns INTEGER, kind TEXT, pid INTEGER, start_ns INTEGER, process_id TEXT, parent INTEGER, "
      "parent_start_ns INTEGER, parent_process_id TEXT, start_time INTEGER, uid INTEGER, gid INTEGER, "
      "name TEXT, path TEXT, cmdline TEXT, argv TEXT, cwd TEXT, cgroup TEXT, unit TEXT, "
      "container_id TEXT, exit_code INTEGER, signal INTEGER, core_dumped INTEGER, duration_ns INTEGER, "
      "protocol INTEGER, family INTEGER, address TEXT, port INTEGER, socket INTEGER, result INTEGER, "
      "unit_file_path TEXT, unit_file_sha256 TEXT, reason TEXT, json TEXT, sha256 TEXT, "
      "exe_hash TEXT, exe_flags TEXT)";

  // idxStr: two characters per argument: the column ('n' ts_ns, 's' time, 'k' kind, 'p' pid,
  // 'i' process_id, 'q' parent_process_id) and the operator ('=', '>', 'G' >=, '<', 'L' <=).
  static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
    std::string plan;
    int argc = 0;
    bool lower = false, upper = false, narrow = false;
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (!c.usable) continue;
      char col = 0, op = 0;
      if (c.iColumn == kEvTsNs) col = 'n';
      if (c.iColumn == kEvTime) col = 's';
      if (c.iColumn == kEvKind && c.op == SQLITE_INDEX_CONSTRAINT_EQ) col = 'k';
      if (c.iColumn == kEvPid && c.op == SQLITE_INDEX_CONSTRAINT_EQ) col = 'p';
      if (c.iColumn == kEvProcessId && c.op == SQLITE_INDEX_CONSTRAINT_EQ) col = 'i';
      if (c.iColumn == kEvParentProcessId && c.op == SQLITE_INDEX_CONSTRAINT_EQ) col = 'q';
      switch (c.op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: op = '='; break;
        case SQLITE_INDEX_CONSTRAINT_GT: op = '>'; break;
        case SQLITE_INDEX_CONSTRAINT_GE: op = 'G'; break;
        case SQLITE_INDEX_CONSTRAINT_LT: op = '<'; break;
        case SQLITE_INDEX_CONSTRAINT_LE: op = 'L'; break;
        default: break;
      }
      if (!col || !op) continue;
      plan += col;
      plan += op;
      info->aConstraintUsage[i].argvIndex = ++argc;
      info->aConstraintUsage[i].omit = 0;  // SQLite checks again: the scan only narrows
      if (col == 'n' || col == 's') {
        if (op == '=' || op == '>' || op == 'G') lower = true;
        if (op == '=' || op == '<' || op == 'L') upper = true;
      } else {
        narrow = true;
      }
    }
    double cost = 1e7;
    if (lower && upper) cost = 1e3;
    else if (lower || upper) cost = 1e5;
    if (narrow) cost *= 0.5;
    info->estimatedCost = cost;
    info->estimatedRows = static_cast<sqlite3_int64>(cost);
    // Rows come in the log's order: time, then sequence -- unless an `=` may stand for an IN
    // list, which SQLite runs as one scan per value.
    if (plan.find('=') == std::string::npos && info->nOrderBy == 1 && !info->aOrderBy[0].desc &&
        (info->aOrderBy[0].iColumn == kEvTsNs || info->aOrderBy[0].iColumn == kEvTime)) {
      info->orderByConsumed = 1;
    }
    info->idxStr = sqlite3_mprintf("%s", plan.c_str());
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
  }
};

// A record read in place, copied out (its strings borrow the record only during the scan).
Event ToEvent(const EventView& v) {
  Event e;
  e.kind = v.kind;
  e.ts_ns = v.ts_ns;
  e.boottime_ns = v.boottime_ns;
  e.pid = v.pid;
  e.ppid = v.ppid;
  e.start_ns = v.start_ns;
  e.parent_start_ns = v.parent_start_ns;
  e.uid = v.uid;
  e.gid = v.gid;
  e.comm = v.comm;
  e.exe = v.exe;
  e.cwd = v.cwd;
  e.argv.assign(v.argv.begin(), v.argv.end());
  e.argv_truncated = v.argv_truncated;
  e.exe_truncated = v.exe_truncated;
  e.cwd_truncated = v.cwd_truncated;
  e.cgroup = v.cgroup;
  e.unit = v.unit;
  e.container_id = v.container_id;
  e.exit_code = v.exit_code;
  e.signal = v.signal;
  e.core_dumped = v.core_dumped;
  e.duration_ns = v.duration_ns;
  e.proto = v.proto;
  e.family = v.family;
  e.addr = v.addr;
  e.port = v.port;
  e.sock_inode = v.sock_inode;
  e.result = v.result;
  e.unit_file_path = v.unit_file_path;
  e.unit_file_sha256 = v.unit_file_sha256;
  e.unit_file_content = v.unit_file_content;
  e.host = v.host;
  e.gap_start_ns = v.gap_start_ns;
  e.gap_end_ns = v.gap_end_ns;
  e.lost = v.lost;
  e.reason = v.reason;
  e.resync_op = v.resync_op;
  e.resync_entity = v.resync_entity;
  for (const auto& [k, val] : v.attrs) e.attrs.emplace_back(std::string(k), std::string(val));
  return e;
}

struct EventsCursor {
  sqlite3_vtab_cursor base{};
  Impl* impl = nullptr;
  EventFilter f;
  std::optional<ProcessId> id, parent_id;  // process_id = / parent_process_id =
  bool empty = false;  // the constraints cannot match
  EventKey next;
  bool done = false;
  struct Row {
    EventKey key;
    Event e;
    std::string boot_id;  // in effect at the record
  };
  std::vector<Row> rows;
  size_t i = 0;
  std::string boot;
  bool boot_known = false;
  sqlite3_int64 rowid = 0;

  static constexpr size_t kChunk = 512;

  static EventsCursor* Of(sqlite3_vtab_cursor* c) { return reinterpret_cast<EventsCursor*>(c); }

  // The next rows, from `next` on, each record read in place and copied only when it matches.
  // The boot id is followed across the scan as `events` does.
  Status Fill() {
    rows.clear();
    i = 0;
    if (done) return Status::Ok();
    Status inner;
    bool stopped = false;
    Status s = impl->log->ScanViews(next, {f.until_ns, UINT64_MAX}, [&](const EventKey& k, const EventView& e) {
      if (e.kind == EventKind::kHostFacts) {
        boot = e.host.boot_id;
        boot_known = true;
      }
      if (!f.Matches(e)) return true;
      const Group g = GroupOf(e);
      if (id && !((g == kProc || g == kExit || g == kSock || g == kHash) && e.pid == id->pid && e.start_ns == id->start_ns)) {
        return true;
      }
      if (parent_id && !(g == kProc && e.ppid == parent_id->pid && e.parent_start_ns == parent_id->start_ns)) {
        return true;
      }
      if (!boot_known && e.pid != 0) {
        auto b = BootIdBefore(*impl->log, f.since_ns);
        if (!b.ok()) {
          inner = b.status();
          return false;
        }
        boot = std::move(b).value();
        boot_known = true;
      }
      if ((id && BootTag(boot) != id->boot) || (parent_id && BootTag(boot) != parent_id->boot)) return true;
      rows.push_back({k, ToEvent(e), boot});
      if (rows.size() >= kChunk) {
        next = NextKey(k);
        stopped = true;
        return false;
      }
      return true;
    });
    if (!inner.ok()) return inner;
    if (!s.ok()) return s;
    if (!stopped) done = true;
    return Status::Ok();
  }

  static int Filter(sqlite3_vtab_cursor* cur, int, const char* idx, int argc, sqlite3_value** argv) {
    EventsCursor* c = Of(cur);
    c->f = EventFilter{};
    c->id.reset();
    c->parent_id.reset();
    c->empty = false;
    c->done = false;
    c->boot.clear();
    c->boot_known = false;
    c->rowid = 0;
    uint64_t lo = 0, hi = UINT64_MAX;
    auto narrow_lo = [&](uint64_t v) { lo = std::max(lo, v); };
    auto narrow_hi = [&](uint64_t v) { hi = std::min(hi, v); };
    const size_t n = idx ? std::strlen(idx) / 2 : 0;
    for (size_t a = 0; a < n && static_cast<int>(a) < argc; ++a) {
      const char col = idx[2 * a], op = idx[2 * a + 1];
      sqlite3_value* v = argv[a];
      if (col == 'k') {
        if (sqlite3_value_type(v) != SQLITE_TEXT) {
          c->empty = true;
          continue;
        }
        auto k = KindFromName(reinterpret_cast<const char*>(sqlite3_value_text(v)));
        if (!k) {
          c->empty = true;
          continue;
        }
        if (!c->f.kinds.empty() && c->f.kinds[0] != *k) c->empty = true;
        c->f.kinds = {*k};
        continue;
      }
      if (col == 'i' || col == 'q') {
        auto& slot = col == 'i' ? c->id : c->parent_id;
        if (sqlite3_value_type(v) != SQLITE_TEXT) {
          c->empty = true;
          continue;
        }
        auto pid = ParseProcessId(std::string_view(reinterpret_cast<const char*>(sqlite3_value_text(v)),
                                                   static_cast<size_t>(sqlite3_value_bytes(v))));
        if (!pid.ok() || (slot && !(*slot == pid.value()))) {
          c->empty = true;  // no row has this id
          continue;
        }
        slot = pid.value();
        continue;
      }
      if (sqlite3_value_type(v) != SQLITE_INTEGER) continue;  // SQLite's own check decides
      const sqlite3_int64 x = sqlite3_value_int64(v);
      if (col == 'p') {
        if (x < INT32_MIN || x > INT32_MAX || (c->f.pid && *c->f.pid != x)) c->empty = true;
        c->f.pid = static_cast<int32_t>(x);
        continue;
      }
      // Times: ts_ns in ns, time in whole seconds. Negative bounds are below every record.
      const bool secs = col == 's';
      auto to_ns = [&](__int128 t) -> uint64_t {
        if (t < 0) return 0;
        if (t > static_cast<__int128>(UINT64_MAX)) return UINT64_MAX;
        return static_cast<uint64_t>(t);
      };
      const __int128 unit = secs ? 1'000'000'000 : 1;
      const __int128 first = static_cast<__int128>(x) * unit;  // first ns of x
      const __int128 last = first + unit - 1;                 // last ns of x
      switch (op) {
        case '=': narrow_lo(to_ns(first)); if (last < 0) c->empty = true; else narrow_hi(to_ns(last)); break;
        case 'G': narrow_lo(to_ns(first)); break;
        case '>': narrow_lo(to_ns(last + 1)); break;
        case 'L': if (last < 0) c->empty = true; else narrow_hi(to_ns(last)); break;
        case '<': if (first <= 0) c->empty = true; else narrow_hi(to_ns(first - 1)); break;
        default: break;
      }
    }
    if (lo > hi) c->empty = true;
    c->f.since_ns = lo;
    c->f.until_ns = hi;
    c->next = {lo, 0};
    if (c->empty) {
      c->rows.clear();
      c->i = 0;
      c->done = true;
      return SQLITE_OK;
    }
    if (Status s = c->Fill(); !s.ok()) return c->impl->Fail(cur->pVtab, s);
    return SQLITE_OK;
  }
  static int Next(sqlite3_vtab_cursor* cur) {
    EventsCursor* c = Of(cur);
    ++c->i;
    ++c->rowid;
    if (c->i >= c->rows.size() && !c->done) {
      if (Status s = c->Fill(); !s.ok()) return c->impl->Fail(cur->pVtab, s);
    }
    return SQLITE_OK;
  }
  static int Eof(sqlite3_vtab_cursor* cur) {
    EventsCursor* c = Of(cur);
    return c->i >= c->rows.size();
  }
  static int Rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* out) {
    *out = Of(cur)->rowid;
    return SQLITE_OK;
  }

  // Which columns a kind has (the rest are NULL), as `events --json` shows them.
  enum Group { kProc, kExit, kSock, kUnitG, kOther, kHash };
  template <typename E>
  static Group GroupOf(const E& e) {
    switch (e.kind) {
      case EventKind::kProcessExec:
      case EventKind::kProcessFork: return kProc;
      case EventKind::kProcessExit: return kExit;
      case EventKind::kExeHash: return kHash;
      case EventKind::kSocketBind:
      case EventKind::kSocketListen:
      case EventKind::kListenerClose: return kSock;
      case EventKind::kUnitStart:
      case EventKind::kUnitStop:
      case EventKind::kUnitFileChanged: return kUnitG;
      case EventKind::kResync:
        if (e.resync_entity == ResyncEntity::kProcess) return kProc;
        if (e.resync_entity == ResyncEntity::kListener) return kSock;
        if (e.resync_entity == ResyncEntity::kUnit) return kUnitG;
        return kOther;
      default: return kOther;
    }
  }

  static int Column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
    const Row& r = Of(cur)->rows[Of(cur)->i];
    const Event& e = r.e;
    const Group g = GroupOf(e);
    const bool proc = g == kProc || g == kExit || g == kSock || g == kHash;
    const bool image = g == kProc;
    switch (col) {
      case kEvTime: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(r.key.ts_ns / 1'000'000'000)); break;
      case kEvDatetime: ResultText(ctx, FormatRfc3339Ns(r.key.ts_ns)); break;
      case kEvTsNs: ResultU(ctx, r.key.ts_ns); break;
      case kEvSeq: ResultU(ctx, r.key.seq); break;
      case kEvMonoNs: ResultU(ctx, e.boottime_ns); break;
      case kEvRecordTsNs: ResultU(ctx, e.ts_ns); break;
      case kEvKind: ResultText(ctx, KindName(e.kind)); break;
      case kEvPid: if (proc) sqlite3_result_int(ctx, e.pid); break;
      case kEvStartNs: if (proc) ResultU(ctx, e.start_ns); break;
      case kEvProcessId:
        if (proc && e.pid != 0 && e.start_ns != 0) ResultText(ctx, ProcessIdOf(r.boot_id, e.pid, e.start_ns));
        break;
      case kEvParent: if (image || g == kExit) sqlite3_result_int(ctx, e.ppid); break;
      case kEvParentStartNs: if (image) ResultU(ctx, e.parent_start_ns); break;
      case kEvParentProcessId:
        if (image && e.ppid != 0 && e.parent_start_ns != 0) {
          ResultText(ctx, ProcessIdOf(r.boot_id, e.ppid, e.parent_start_ns));
        }
        break;
      case kEvStartTime:
        if (proc && e.start_ns != 0 && e.boottime_ns != 0 && e.ts_ns >= e.boottime_ns) {
          sqlite3_result_int64(ctx, static_cast<sqlite3_int64>((e.ts_ns - e.boottime_ns + e.start_ns) / 1'000'000'000));
        }
        break;
      case kEvUid: if (image) sqlite3_result_int64(ctx, e.uid); break;
      case kEvGid: if (image) sqlite3_result_int64(ctx, e.gid); break;
      case kEvName: if (proc && g != kHash) ResultText(ctx, e.comm); break;
      case kEvPath: if (image || g == kHash) ResultText(ctx, e.exe); break;
      case kEvCmdline: if (image) ResultText(ctx, Cmdline(e.argv)); break;
      case kEvArgv: if (image) ResultText(ctx, ArgvJson(e.argv)); break;
      case kEvCwd: if (image) ResultText(ctx, e.cwd); break;
      case kEvCgroup: if (image || g == kUnitG) ResultText(ctx, e.cgroup); break;
      case kEvUnit: if (g != kOther) ResultText(ctx, e.unit); break;
      case kEvContainerId: if (image) ResultText(ctx, e.container_id); break;
      case kEvExitCode: if (g == kExit) sqlite3_result_int(ctx, e.exit_code); break;
      case kEvSignal: if (g == kExit) sqlite3_result_int(ctx, e.signal); break;
      case kEvCoreDumped: if (g == kExit) sqlite3_result_int(ctx, e.core_dumped ? 1 : 0); break;
      case kEvDurationNs: if (g == kExit) ResultU(ctx, e.duration_ns); break;
      case kEvProtocol: if (g == kSock) sqlite3_result_int(ctx, e.proto); break;
      case kEvFamily: if (g == kSock) sqlite3_result_int(ctx, e.family); break;
      case kEvAddress: if (g == kSock) ResultText(ctx, e.addr); break;
      case kEvPort: if (g == kSock) sqlite3_result_int(ctx, e.port); break;
      case kEvSocket: if (g == kSock) ResultU(ctx, e.sock_inode); break;
      case kEvResult: if (e.kind == EventKind::kSocketBind) sqlite3_result_int(ctx, e.result); break;
      case kEvUnitFilePath: if (g == kUnitG) ResultText(ctx, e.unit_file_path); break;
      case kEvUnitFileSha256: if (g == kUnitG) ResultText(ctx, e.unit_file_sha256); break;
      case kEvReason: if (!e.reason.empty()) ResultText(ctx, e.reason); break;
      case kEvJson: {
        std::string s;
        JsonWriter w(s);
        // The same line `events --json` prints for the record.
        EventToJson(r.key, e, r.boot_id, w);
        ResultText(ctx, s);
        break;
      }
      // Executable integrity: exec records that had it in time, exe_hash records (FORENSICS.md).
      case kEvSha256:
        if (AttrOf(e, kAttrExeHash) == "ok") ResultText(ctx, AttrOf(e, kAttrExeSha256));
        break;
      case kEvExeHash:
        if (const std::string_view v = AttrOf(e, kAttrExeHash); !v.empty()) ResultText(ctx, v);
        break;
      case kEvExeFlags:
        if (image || g == kHash) ResultText(ctx, AttrOf(e, kAttrExeFlags));
        break;
      default: break;
    }
    return SQLITE_OK;
  }
};

// ---------------------------------------------------------------------------------------------
// processes, listeners, units: the state at the hidden column `at`.

// BestIndex for the state tables: `at =` (column at_col) is the argument; a plan without it
// (the default, now) is made expensive so that in a join SQLite feeds `at` from the other side.
int StateBestIndex(sqlite3_index_info* info, int at_col) {
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.usable && c.iColumn == at_col && c.op == SQLITE_INDEX_CONSTRAINT_EQ) {
      info->aConstraintUsage[i].argvIndex = 1;
      info->aConstraintUsage[i].omit = 1;  // the value is a time in any form, not the column's text
      info->idxNum = 1;
      info->estimatedCost = 1000;
      info->estimatedRows = 1000;
      return SQLITE_OK;
    }
  }
  info->idxNum = 0;
  info->estimatedCost = 1e9;
  info->estimatedRows = 1000;
  return SQLITE_OK;
}

template <typename Derived>
struct StateCursor {
  sqlite3_vtab_cursor base{};
  Impl* impl = nullptr;
  std::shared_ptr<const StateAtT> st;
  std::string at_text;  // the `at` value as given ("now" by default)
  size_t i = 0;

  static Derived* Of(sqlite3_vtab_cursor* c) { return reinterpret_cast<Derived*>(c); }

  static int Filter(sqlite3_vtab_cursor* cur, int idx_num, const char*, int argc, sqlite3_value** argv) {
    Derived* c = Of(cur);
    c->i = 0;
    c->st.reset();
    c->Reset();
    uint64_t at = c->impl->now_ns;
    c->at_text = "now";
    if (idx_num == 1 && argc == 1) {
      if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK;  // at = NULL: no rows
      auto t = TimeArg(argv[0], c->impl->now_ns);
      if (!t.ok()) {
        sqlite3_free(cur->pVtab->zErrMsg);
        cur->pVtab->zErrMsg = sqlite3_mprintf("%s", t.status().message().c_str());
        return SQLITE_ERROR;
      }
      at = t.value();
      const unsigned char* text = sqlite3_value_text(argv[0]);
      c->at_text.assign(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_value_bytes(argv[0])));
    }
    auto st = c->impl->StateFor(at);
    if (!st.ok()) return c->impl->Fail(cur->pVtab, st.status());
    c->st = st.value();
    c->Load();
    return SQLITE_OK;
  }
  static int Next(sqlite3_vtab_cursor* cur) {
    ++Of(cur)->i;
    return SQLITE_OK;
  }
  static int Eof(sqlite3_vtab_cursor* cur) { return !Of(cur)->st || Of(cur)->i >= Of(cur)->Size(); }
  static int Rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* out) {
    *out = static_cast<sqlite3_int64>(Of(cur)->i);
    return SQLITE_OK;
  }
  // The columns every state table ends with: at_ns, at (hidden).
  bool CommonColumn(sqlite3_context* ctx, int col, int at_ns_col) {
    if (col == at_ns_col) {
      ResultU(ctx, st->at_ns);
      return true;
    }
    if (col == at_ns_col + 1) {
      ResultText(ctx, at_text);
      return true;
    }
    return false;
  }
};

enum PCol {
  kPId, kPPid, kPParentId, kPParent, kPStartNs, kPParentStartNs, kPStartTime, kPName, kPPath,
  kPCmdline, kPArgv, kPCwd, kPUid, kPGid, kPCgroup, kPUnit, kPContainerId, kPArgvTrunc,
  kPExeTrunc, kPCwdTrunc, kPSince, kPSha256, kPExeHash, kPExeFlags, kPAtNs, kPAt,
};

struct ProcessesTable {
  static constexpr const char* kSchema =
      "CREATE TABLE x(id TEXT, pid INTEGER, parent_id TEXT, parent INTEGER, start_ns INTEGER, "
      "parent_start_ns INTEGER, start_time INTEGER, name TEXT, path TEXT, cmdline TEXT, argv TEXT, "
      "cwd TEXT, uid INTEGER, gid INTEGER, cgroup TEXT, unit TEXT, container_id TEXT, "
      "argv_truncated INTEGER, path_truncated INTEGER, cwd_truncated INTEGER, since_ns INTEGER, "
      "sha256 TEXT, exe_hash TEXT, exe_flags TEXT, at_ns INTEGER, at HIDDEN)";
  static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) { return StateBestIndex(info, kPAt); }
};

struct ProcessesCursor : StateCursor<ProcessesCursor> {
  std::vector<const Process*> rows;
  void Reset() { rows.clear(); }
  void Load() {
    for (const auto& [k, p] : st->state.processes) rows.push_back(&p);
  }
  size_t Size() const { return rows.size(); }
  static int Column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
    ProcessesCursor* c = Of(cur);
    if (c->CommonColumn(ctx, col, kPAtNs)) return SQLITE_OK;
    const Process& p = *c->rows[c->i];
    const std::string& tag = c->st->boot_tag;
    switch (col) {
      case kPId: ResultText(ctx, FormatProcessId(tag, p.pid, p.start_ns)); break;
      case kPPid: sqlite3_result_int(ctx, p.pid); break;
      case kPParentId:
        if (p.ppid != 0 && p.parent_start_ns != 0) ResultText(ctx, FormatProcessId(tag, p.ppid, p.parent_start_ns));
        break;
      case kPParent: sqlite3_result_int(ctx, p.ppid); break;
      case kPStartNs: ResultU(ctx, p.start_ns); break;
      case kPParentStartNs: ResultU(ctx, p.parent_start_ns); break;
      case kPStartTime:
        if (auto s = WallSeconds(c->st->wall_minus_boot, p.start_ns)) sqlite3_result_int64(ctx, *s);
        break;
      case kPName: ResultText(ctx, p.comm); break;
      case kPPath: ResultText(ctx, p.exe); break;
      case kPCmdline: ResultText(ctx, Cmdline(p.argv)); break;
      case kPArgv: ResultText(ctx, ArgvJson(p.argv)); break;
      case kPCwd: ResultText(ctx, p.cwd); break;
      case kPUid: sqlite3_result_int64(ctx, p.uid); break;
      case kPGid: sqlite3_result_int64(ctx, p.gid); break;
      case kPCgroup: ResultText(ctx, p.cgroup); break;
      case kPUnit: ResultText(ctx, p.unit); break;
      case kPContainerId: ResultText(ctx, p.container_id); break;
      case kPArgvTrunc: sqlite3_result_int(ctx, p.argv_truncated); break;
      case kPExeTrunc: sqlite3_result_int(ctx, p.exe_truncated); break;
      case kPCwdTrunc: sqlite3_result_int(ctx, p.cwd_truncated); break;
      case kPSince: ResultU(ctx, p.since_ns); break;
      case kPSha256: if (p.exe_hash == "ok") ResultText(ctx, p.exe_sha256); break;
      case kPExeHash: if (!p.exe_hash.empty()) ResultText(ctx, p.exe_hash); break;
      case kPExeFlags: ResultText(ctx, p.exe_flags); break;
      default: break;
    }
    return SQLITE_OK;
  }
};

enum LCol {
  kLPort, kLAddress, kLProtocol, kLFamily, kLPid, kLStartNs, kLProcessId, kLName, kLUnit,
  kLSocket, kLListening, kLSince, kLAtNs, kLAt,
};

struct ListenersTable {
  static constexpr const char* kSchema =
      "CREATE TABLE x(port INTEGER, address TEXT, protocol INTEGER, family INTEGER, pid INTEGER, "
      "start_ns INTEGER, process_id TEXT, name TEXT, unit TEXT, socket INTEGER, listening INTEGER, "
      "since_ns INTEGER, at_ns INTEGER, at HIDDEN)";
  static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) { return StateBestIndex(info, kLAt); }
};

struct ListenersCursor : StateCursor<ListenersCursor> {
  std::vector<const Listener*> rows;
  void Reset() { rows.clear(); }
  void Load() {
    for (const auto& [k, l] : st->state.listeners) rows.push_back(&l);
  }
  size_t Size() const { return rows.size(); }
  static int Column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
    ListenersCursor* c = Of(cur);
    if (c->CommonColumn(ctx, col, kLAtNs)) return SQLITE_OK;
    const Listener& l = *c->rows[c->i];
    switch (col) {
      case kLPort: sqlite3_result_int(ctx, l.port); break;
      case kLAddress: ResultText(ctx, l.addr); break;
      case kLProtocol: sqlite3_result_int(ctx, l.proto); break;
      case kLFamily: sqlite3_result_int(ctx, l.family); break;
      case kLPid: sqlite3_result_int(ctx, l.pid); break;
      case kLStartNs: ResultU(ctx, l.start_ns); break;
      case kLProcessId:
        if (l.pid != 0 && l.start_ns != 0) ResultText(ctx, FormatProcessId(c->st->boot_tag, l.pid, l.start_ns));
        break;
      case kLName: ResultText(ctx, l.comm); break;
      case kLUnit: ResultText(ctx, l.unit); break;
      case kLSocket: ResultU(ctx, l.sock_inode); break;
      case kLListening: sqlite3_result_int(ctx, l.listening); break;
      case kLSince: ResultU(ctx, l.since_ns); break;
      default: break;
    }
    return SQLITE_OK;
  }
};

enum UCol {
  kUId, kUDescription, kUActiveState, kUFragmentPath, kUFileSha256, kUCgroup, kUContent, kUSince,
  kUAtNs, kUAt,
};

// Description= of the [Unit] section (the first one in the file).
std::string Description(const std::string& content) {
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + pos, end - pos);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.starts_with("Description=")) {
      line.remove_prefix(12);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      return std::string(line);
    }
    pos = end + 1;
  }
  return {};
}

struct UnitsTable {
  static constexpr const char* kSchema =
      "CREATE TABLE x(id TEXT, description TEXT, active_state TEXT, fragment_path TEXT, "
      "file_sha256 TEXT, cgroup TEXT, content TEXT, since_ns INTEGER, at_ns INTEGER, at HIDDEN)";
  static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) { return StateBestIndex(info, kUAt); }
};

struct UnitsCursor : StateCursor<UnitsCursor> {
  std::vector<const Unit*> rows;
  void Reset() { rows.clear(); }
  void Load() {
    for (const auto& [k, u] : st->state.units) rows.push_back(&u);
  }
  size_t Size() const { return rows.size(); }
  static int Column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
    UnitsCursor* c = Of(cur);
    if (c->CommonColumn(ctx, col, kUAtNs)) return SQLITE_OK;
    const Unit& u = *c->rows[c->i];
    switch (col) {
      case kUId: ResultText(ctx, u.name); break;
      case kUDescription: ResultText(ctx, Description(u.file_content)); break;
      case kUActiveState: ResultText(ctx, "active"); break;  // the state holds running units only
      case kUFragmentPath: ResultText(ctx, u.file_path); break;
      case kUFileSha256: ResultText(ctx, u.file_sha256); break;
      case kUCgroup: ResultText(ctx, u.cgroup); break;
      case kUContent: ResultText(ctx, u.file_content); break;
      case kUSince: ResultU(ctx, u.since_ns); break;
      default: break;
    }
    return SQLITE_OK;
  }
};

// ---------------------------------------------------------------------------------------------
// snapshots

struct SnapshotsTable {
  static constexpr const char* kSchema = "CREATE TABLE x(time INTEGER, datetime TEXT, ts_ns INTEGER, seq INTEGER)";
  static int BestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
    info->estimatedCost = 1000;
    return SQLITE_OK;
  }
};

struct SnapshotsCursor {
  sqlite3_vtab_cursor base{};
  Impl* impl = nullptr;
  std::vector<EventKey> keys;
  size_t i = 0;
  static SnapshotsCursor* Of(sqlite3_vtab_cursor* c) { return reinterpret_cast<SnapshotsCursor*>(c); }
  static int Filter(sqlite3_vtab_cursor* cur, int, const char*, int, sqlite3_value**) {
    SnapshotsCursor* c = Of(cur);
    c->i = 0;
    auto k = c->impl->log->SnapshotKeys();
    if (!k.ok()) return c->impl->Fail(cur->pVtab, k.status());
    c->keys = std::move(k).value();
    return SQLITE_OK;
  }
  static int Next(sqlite3_vtab_cursor* cur) {
    ++Of(cur)->i;
    return SQLITE_OK;
  }
  static int Eof(sqlite3_vtab_cursor* cur) { return Of(cur)->i >= Of(cur)->keys.size(); }
  static int Rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* out) {
    *out = static_cast<sqlite3_int64>(Of(cur)->i);
    return SQLITE_OK;
  }
  static int Column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
    const EventKey& k = Of(cur)->keys[Of(cur)->i];
    switch (col) {
      case 0: sqlite3_result_int64(ctx, static_cast<sqlite3_int64>(k.ts_ns / 1'000'000'000)); break;
      case 1: ResultText(ctx, FormatRfc3339Ns(k.ts_ns)); break;
      case 2: ResultU(ctx, k.ts_ns); break;
      case 3: ResultU(ctx, k.seq); break;
      default: break;
    }
    return SQLITE_OK;
  }
};

// ---------------------------------------------------------------------------------------------
// Functions and the authorizer.

void TimeNsFn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* impl = static_cast<Impl*>(sqlite3_user_data(ctx));
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
  auto t = TimeArg(argv[0], impl->now_ns);
  if (!t.ok()) {
    std::string m = "time_ns: " + t.status().message();
    sqlite3_result_error(ctx, m.c_str(), static_cast<int>(m.size()));
    return;
  }
  ResultU(ctx, t.value());
}

void Rfc3339Fn(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER) return;
  const sqlite3_int64 v = sqlite3_value_int64(argv[0]);
  if (v < 0) return;
  ResultText(ctx, FormatRfc3339Ns(static_cast<uint64_t>(v)));
}

constexpr const char* kTables[] = {"events", "processes", "listeners", "units", "snapshots",
                                   "json_each", "json_tree"};

int Authorize(void* ud, int action, const char* a, const char* b, const char*, const char*) {
  if (static_cast<const Impl*>(ud)->declaring) return SQLITE_OK;  // our own schema, not the query
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_READ:
      for (const char* t : kTables) {
        if (a && std::strcmp(a, t) == 0) return SQLITE_OK;
      }
      return SQLITE_DENY;
    case SQLITE_FUNCTION:
      if (b && (sqlite3_stricmp(b, "load_extension") == 0 || sqlite3_stricmp(b, "fts3_tokenizer") == 0)) {
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    default:
      return SQLITE_DENY;  // writes, schema changes, ATTACH, PRAGMA, transactions
  }
}

constexpr const char* kReadOnlyHint =
    " (twin-replay sql runs one read-only SELECT over events, processes, listeners, units and "
    "snapshots; see docs/SQL.md)";

// SQLite's message for the failed statement, on one line; a refusal says why.
std::string Explain(sqlite3* db);

std::string OneLine(std::string s) {
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return s;
}

std::string Explain(sqlite3* db) {
  std::string m = OneLine(sqlite3_errmsg(db));
  if (sqlite3_errcode(db) == SQLITE_AUTH || m.find("not authorized") != std::string::npos ||
      m.find("prohibited") != std::string::npos) {
    m += kReadOnlyHint;
  }
  return m;
}

}  // namespace

SqlSession::SqlSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqlSession::~SqlSession() {
  if (impl_ && impl_->db) sqlite3_close_v2(impl_->db);
}

Result<std::unique_ptr<SqlSession>> SqlSession::Open(const EventLog& log, uint64_t now_ns) {
  static const sqlite3_module kEvents = MakeModule<EventsTable, EventsCursor>();
  static const sqlite3_module kProcesses = MakeModule<ProcessesTable, ProcessesCursor>();
  static const sqlite3_module kListeners = MakeModule<ListenersTable, ListenersCursor>();
  static const sqlite3_module kUnits = MakeModule<UnitsTable, UnitsCursor>();
  static const sqlite3_module kSnapshots = MakeModule<SnapshotsTable, SnapshotsCursor>();
  auto impl = std::make_unique<Impl>();
  impl->log = &log;
  impl->now_ns = now_ns;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db = db;
  auto fail = [&](const char* what) {
    std::string m = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
    return Status::IOError("sql: " + m);
  };
  if (rc != SQLITE_OK) return fail("cannot open SQLite");
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  Impl* raw = impl.get();
  struct M {
    const char* name;
    const sqlite3_module* m;
  };
  for (const M& m : {M{"events", &kEvents}, M{"processes", &kProcesses}, M{"listeners", &kListeners},
                     M{"units", &kUnits}, M{"snapshots", &kSnapshots}}) {
    if (sqlite3_create_module_v2(db, m.name, m.m, raw, nullptr) != SQLITE_OK) return fail("cannot register a table");
  }
  if (sqlite3_create_function_v2(db, "time_ns", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, raw, TimeNsFn,
                                 nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "rfc3339", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, Rfc3339Fn,
                                 nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("cannot register a function");
  }
  sqlite3_set_authorizer(db, Authorize, raw);
  return std::unique_ptr<SqlSession>(new SqlSession(std::move(impl)));
}

Status SqlSession::Run(const std::string& sql,
                       const std::function<void(const std::vector<std::string>&)>& columns,
                       const std::function<bool(const std::vector<SqlValue>&)>& row) {
  sqlite3* db = impl_->db;
  impl_->read_error = Status::Ok();
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    if (!impl_->read_error.ok()) return impl_->read_error;
    return Status::InvalidArgument(Explain(db));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
  if (!stmt) return Status::InvalidArgument("the query is empty (give one SELECT statement)");
  for (const char* p = tail; p && *p; ++p) {
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ';') {
      return Status::InvalidArgument("give one statement (found more after the first ';')");
    }
  }
  if (!sqlite3_stmt_readonly(stmt)) return Status::InvalidArgument(std::string("refused: the statement writes") + kReadOnlyHint);
  const int n = sqlite3_column_count(stmt);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    const char* name = sqlite3_column_name(stmt, i);
    names.emplace_back(name ? name : "");
  }
  columns(names);
  std::vector<SqlValue> vals(static_cast<size_t>(n));
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    for (int i = 0; i < n; ++i) {
      SqlValue& v = vals[static_cast<size_t>(i)];
      v.s.clear();
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER: v.type = SqlValue::Type::kInteger; v.i = sqlite3_column_int64(stmt, i); break;
        case SQLITE_FLOAT: v.type = SqlValue::Type::kReal; v.d = sqlite3_column_double(stmt, i); break;
        case SQLITE_TEXT:
          v.type = SqlValue::Type::kText;
          v.s.assign(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
          break;
        case SQLITE_BLOB:
          v.type = SqlValue::Type::kBlob;
          if (const void* b = sqlite3_column_blob(stmt, i)) {
            v.s.assign(static_cast<const char*>(b), static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
          }
          break;
        default: v.type = SqlValue::Type::kNull; break;
      }
    }
    if (!row(vals)) return Status::Ok();
  }
  if (rc != SQLITE_DONE) {
    if (!impl_->read_error.ok()) return impl_->read_error;
    return Status::InvalidArgument(Explain(db));
  }
  return Status::Ok();
}

}  // namespace twin
