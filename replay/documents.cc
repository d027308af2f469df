#include "replay/documents.h"

#include "eventlog/timefmt.h"
#include "format/json_writer.h"
#include "format/render.h"
#include "replay/args.h"
#include "replay/cli.h"  // BootIdBefore
#include "replay/lineage.h"
#include "vm/catalogue.h"

namespace twin {

Status StateDocument(const EventLog& log, uint64_t at, std::string* out) {
  if (Status s = CheckWithinLog(log, "--at", at); !s.ok()) return s;
  auto st = StateAt(log, at);
  if (!st.ok()) return st.status();
  JsonWriter w(*out);
  StateToJson(st.value(), at, w);
  out->push_back('\n');
  return Status::Ok();
}

Status DiffDocument(const EventLog& log, uint64_t t1, uint64_t t2, std::string* out) {
  if (Status s = CheckWithinLog(log, "T1", t1); !s.ok()) return s;
  auto a = StateAt(log, t1);
  if (!a.ok()) return a.status();
  auto b = StateAt(log, t2);
  if (!b.ok()) return b.status();
  StateDiff d = Diff(a.value(), b.value());
  JsonWriter w(*out);
  DiffToJson(d, t1, t2, a.value().host.boot_id, b.value().host.boot_id, w);
  out->push_back('\n');
  return Status::Ok();
}

Status EventsJsonLines(const EventLog& log, const EventFilter& f, uint64_t limit, std::string* out,
                       const std::function<void(std::string&)>& flush, bool* more) {
  // JSON Lines straight from each record (no copy of its strings into an Event). The process
  // ids need the boot id in effect: the state's before --since (folded only if a process event
  // comes before any host facts in the window), then each host facts record's, whatever the
  // filter shows.
  std::string boot;
  bool boot_known = false;
  Status boot_status;
  uint64_t n = 0;
  if (more) *more = false;
  Status s = log.ScanViews({f.since_ns, 0}, {f.until_ns, UINT64_MAX}, [&](const EventKey& k, const EventView& e) {
    if (e.kind == EventKind::kHostFacts) {
      boot = e.host.boot_id;
      boot_known = true;
    }
    if (!f.Matches(e)) return true;
    if (limit != 0 && n >= limit) {
      if (more) *more = true;
      return false;
    }
    if (!boot_known && e.pid != 0) {
      auto b = BootIdBefore(log, f.since_ns);
      if (!b.ok()) {
        boot_status = b.status();
        return false;
      }
      boot = std::move(b).value();
      boot_known = true;
    }
    JsonWriter w(*out);
    EventToJson(k, e, boot, w);
    out->push_back('\n');
    if (flush && out->size() > (1 << 16)) flush(*out);
    ++n;
    return limit == 0 || n < limit || more != nullptr;  // with more: look for one more match
  });
  if (s.ok()) s = boot_status;
  return s;
}

Result<TreeAt> SelectTree(const EventLog& log, uint64_t at, std::optional<int32_t> pid,
                          const std::optional<ProcessId>& id, const std::string& id_text) {
  auto st = StateAt(log, at);
  if (!st.ok()) return st.status();
  TreeAt r{std::move(st).value(), {}, {}};
  const State& s = r.state;
  r.tree = BuildProcTree(s);
  if (!pid && !id) {
    r.roots = r.tree.roots;
    return r;
  }
  const std::string tag = BootTag(s.host.boot_id);
  for (const auto& [k, p] : s.processes) {
    if ((pid && k.pid == *pid) || (id && k.pid == id->pid && k.start_ns == id->start_ns && id->boot == tag)) {
      r.roots.push_back(k);
    }
  }
  if (r.roots.empty()) {
    return Status::NotFound((pid ? "no process with pid " + std::to_string(*pid)
                                 : "process " + id_text + " is not") +
                            " in the state at " + FormatRfc3339Ns(at) +
                            " (see twin-replay state --at or lineage)");
  }
  return r;
}

Status TreeDocument(const EventLog& log, uint64_t at, std::optional<int32_t> pid,
                    const std::optional<ProcessId>& id, const std::string& id_text, std::string* out,
                    const std::function<void(std::string&)>& flush) {
  if (Status s = CheckWithinLog(log, "--at", at); !s.ok()) return s;
  auto sel = SelectTree(log, at, pid, id, id_text);
  if (!sel.ok()) return sel.status();
  const State& s = sel.value().state;
  const ProcTree& t = sel.value().tree;
  const std::vector<ProcKey>& roots = sel.value().roots;
  JsonWriter w(*out);
  w.BeginObject().Field("at", FormatRfc3339Ns(at)).FieldU("at_ns", at).FieldB("uncertain", s.uncertain)
      .Field("boot_id", s.host.boot_id).FieldU("processes", s.processes.size()).Key("roots").BeginArray();
  for (const ProcKey& r : roots) {
    WalkTree(
        t, r,
        [&](const ProcKey& k, const std::vector<bool>&) {
          const Process& p = s.processes.at(k);
          w.BeginObject().Key("process");
          ProcessToJson(p, s.host.boot_id, w);
          w.FieldB("parent_in_state", p.ppid == 0 || ParentIn(s, p) != nullptr);
          w.Key("children").BeginArray();
          if (flush && out->size() > (1 << 16)) flush(*out);
        },
        [&](const ProcKey&) { w.EndArray().EndObject(); });
  }
  w.EndArray().EndObject();
  out->push_back('\n');
  return Status::Ok();
}

Status LineageDocument(const EventLog& log, const ProcessId& id, std::string* out) {
  auto lr = FindLineage(log, id);
  if (!lr.ok()) return lr.status();
  const Lineage& l = lr.value();
  const std::string& tag = l.id.boot;
  JsonWriter w(*out);
  w.BeginObject().Field("id", FormatProcessId(tag, l.id.pid, l.id.start_ns)).Field("boot_id", l.boot_id)
      .FieldI("pid", l.id.pid).FieldU("start_ns", l.id.start_ns)
      .Field("start_time", FormatRfc3339Ns(l.start.key.ts_ns)).Field("start_kind", KindName(l.start.event.kind))
      .FieldB("uncertain", l.uncertain).Key("process");
  ProcessToJson(l.self, l.boot_id, w);
  w.Key("ancestors").BeginArray();
  for (const Process& p : l.ancestors) ProcessToJson(p, l.boot_id, w);
  w.EndArray().FieldB("ancestry_complete", l.ancestry_complete);
  if (l.exit) {
    w.Key("exit");
    EventToJson(l.exit->key, l.exit->event, l.boot_id, w);
  } else {
    w.Key("exit").Raw("null");
  }
  w.Key("descendants").BeginArray();
  for (const ProcKey& k : l.descendants) w.String(FormatProcessId(tag, k.pid, k.start_ns));
  w.EndArray().Key("events").BeginArray();
  for (const auto& e : l.events) EventToJson(e.key, e.event, l.boot_id, w);
  w.EndArray().EndObject();
  out->push_back('\n');
  return Status::Ok();
}

void VerifyDocument(const EventLog& log, bool quick, std::string* out, bool* ok) {
  VerifyReport rep = quick ? log.QuickVerify() : log.Verify();
  ChainHead head = log.Head();
  JsonWriter w(*out);
  w.BeginObject().FieldB("ok", rep.ok()).FieldB("quick", quick).FieldU("records", rep.records)
      .FieldU("seals_checked", rep.seals_checked).Field("head", HashHex(head.head))
      .Key("problems").BeginArray();
  for (const auto& p : rep.problems) w.BeginObject().Field("key", p.key).Field("what", p.what).EndObject();
  w.EndArray().EndObject();
  out->push_back('\n');
  if (ok) *ok = rep.ok();
}

Status InfoDocument(const EventLog& log, const std::string& data_dir, std::string* out) {
  // A summary, not a check: info reads the log's metadata and its first and last records, whose
  // blocks are checked; 'verify --quick' reads every table block, 'verify' every record.
  auto first = log.First();
  auto last = log.Last();
  auto snaps = log.SnapshotKeys();
  auto schema = log.GetMeta("schema_version");
  for (const Status* st : {&first.status(), &last.status(), &snaps.status(), &schema.status()}) {
    if (!st->ok()) return *st;
  }
  ChainHead head = log.Head();
  auto t = [](const std::optional<KeyedEvent>& ke) {
    return ke ? FormatRfc3339Ns(ke->key.ts_ns) : std::string("-");
  };
  JsonWriter w(*out);
  w.BeginObject().Field("data_dir", data_dir).Field("schema_version", schema.value().value_or(""))
      .FieldU("events", head.count).Field("first", t(first.value())).Field("last", t(last.value()))
      .FieldU("snapshots", snaps.value().size()).Field("head", HashHex(head.head))
      .FieldU("approx_bytes", log.ApproximateSizeBytes()).FieldB("integrity_checked", false)
      .EndObject();
  out->push_back('\n');
  return Status::Ok();
}

Status TwinCatalogueDocument(const EventLog& log, const std::string& domain, std::string* out) {
  vm::EventLogTwinStore store(const_cast<EventLog*>(&log));  // Scan only
  vm::Catalogue cat(&store);
  auto list = cat.List(domain);
  if (!list.ok()) return list.status();
  *out += vm::SnapshotListDocument(*list);
  return Status::Ok();
}

}  // namespace twin
