// WriteBundle: a time range of the log as a self-verifying tar (anchor, records, states, manifest).
#include "forensics/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>


#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/state.h"
#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "forensics/tar.h"
#include "format/json_writer.h"
#include "format/render.h"

#include "forensics/bundle_format.h"

namespace twin {
using namespace bundle_detail;
namespace {

void RedactState(State& s, const Redactor& r) {
  for (auto& [k, p] : s.processes) r.ApplyArgv(p.argv);
}

// Step 1. The chain hash and count just before the range: from the log's origin or the last seal
// before it, then the records between that and the range's start.
Result<ChainHead> FindAnchor(const EventLog& log, const BundleOptions& o, const std::vector<Seal>& seals) {
  ChainHead anchor;
  EventKey scan_from{0, 0};
  auto origin = log.Origin();
  if (!origin.ok()) return origin.status();
  if (origin.value().count != 0) {
    anchor = origin.value();
    scan_from = NextKey(anchor.key);
  }
  for (const Seal& s : seals) {
    if (s.key < EventKey{o.since_ns, 0} && anchor.key < s.key) {
      anchor = {s.key, s.count, s.head};
      scan_from = NextKey(s.key);
    }
  }
  if (o.since_ns > 0) {
    Status s = log.ScanRaw(scan_from, {o.since_ns - 1, UINT64_MAX},
                           [&](std::string_view key, std::string_view value) {
                             if (value.size() >= 32) std::memcpy(anchor.head.data(), value.data(), 32);
                             DecodeKey(key, &anchor.key);
                             ++anchor.count;
                             return true;
                           });
    if (!s.ok()) return s;
  }
  return anchor;
}

// Step 2. The (redacted) states just before the range and at its end.
struct EndStates {
  uint64_t start_at = 0, end_at = 0;
  State start, end;
};
Result<EndStates> StatesAtBothEnds(const EventLog& log, const BundleOptions& o) {
  EndStates e;
  e.start_at = o.since_ns == 0 ? 0 : o.since_ns - 1;
  e.end_at = o.until_ns;
  if (o.since_ns > 0) {
    auto st = StateAt(log, e.start_at);
    if (!st.ok()) return st.status();
    e.start = std::move(st).value();
  }
  auto end_r = StateAt(log, e.end_at);
  if (!end_r.ok()) return end_r.status();
  e.end = std::move(end_r).value();
  RedactState(e.start, o.redactor);
  RedactState(e.end, o.redactor);
  return e;
}

// What step 3 saw of the range, for the manifest.
struct RangeSummary {
  uint64_t records = 0;
  EventKey first_key{}, last_key{};
  Hash last_hash{};
  std::array<uint64_t, kEventKindMax + 1> per_kind{};
  std::set<std::string> boot_ids;
  HostFacts host;
  struct Redacted {
    std::string key, original_sha256;
    int args;
  };
  std::vector<Redacted> redacted;
};

// An unlinked temp file next to out_path (events.jsonl is written there while records.bin
// streams into the archive, then copied in).
Result<std::unique_ptr<FILE, int (*)(FILE*)>> TempFileNextTo(const std::string& out_path) {
  std::string tmpl = (std::filesystem::path(out_path).parent_path().empty()
                          ? std::string(".")
                          : std::filesystem::path(out_path).parent_path().string()) +
                     "/.twin-bundle-XXXXXX";
  int tmp_fd = mkstemp(tmpl.data());
  if (tmp_fd < 0) return Status::IOError("cannot create a temp file next to " + out_path);
  unlink(tmpl.c_str());
  return std::unique_ptr<FILE, int (*)(FILE*)>(fdopen(tmp_fd, "w+b"), fclose);
}

// Step 3. records.bin straight into the archive (each record's chain hash checked on the way,
// redacted records re-encoded and flagged); events.jsonl through a temp file. Fills digests.
Result<RangeSummary> WriteRecordsAndEvents(const EventLog& log, const BundleOptions& o,
                                           const ChainHead& anchor, const State& start_state,
                                           TarWriter& tw, const std::string& out_path,
                                           std::map<std::string, std::string>* digests,
                                           BundleStats* stats) {
  auto tmp_r = TempFileNextTo(out_path);
  if (!tmp_r.ok()) return tmp_r.status();
  auto tmp = std::move(tmp_r).value();
  RangeSummary sum;
  if (!start_state.host.boot_id.empty()) sum.boot_ids.insert(start_state.host.boot_id);
  sum.host = start_state.host;
  Sha256 rec_sha, ev_sha;
  Status s = tw.Begin("records.bin");
  if (!s.ok()) return s;
  std::string buf, jbuf, reenc;
  buf.reserve(1 << 21);
  buf.append(kMagic, kMagicLen);
  Hash prev = anchor.head;
  Event e;
  Status failure;
  auto flush_records = [&]() -> bool {
    rec_sha.Update(buf);
    Status ws = tw.Write(buf);
    buf.clear();
    if (!ws.ok()) failure = ws;
    return ws.ok();
  };
  s = log.ScanRaw({o.since_ns, 0}, {o.until_ns, UINT64_MAX}, [&](std::string_view key, std::string_view value) {
    EventKey k;
    if (!DecodeKey(key, &k) || value.size() < 32) {
      failure = Status::Corruption("malformed record in the event log; run twin-replay verify");
      return false;
    }
    std::string_view payload = value.substr(32);
    Hash stored;
    std::memcpy(stored.data(), value.data(), 32);
    if (ChainHash(prev, key, payload) != stored) {
      failure = Status::Tampered("the event log fails its hash chain at key " + KeyToString(k) +
                                 "; run twin-replay verify (a bundle would not verify)");
      return false;
    }
    prev = stored;
    Status ds = DecodeEvent(payload, &e);
    if (!ds.ok()) {
      failure = Status::Corruption("record at key " + KeyToString(k) + ": " + ds.message());
      return false;
    }
    if (sum.records == 0) sum.first_key = k;
    sum.last_key = k;
    ++sum.records;
    const auto ki = static_cast<size_t>(e.kind);
    if (ki < sum.per_kind.size()) ++sum.per_kind[ki];
    if (e.kind == EventKind::kHostFacts) {
      sum.host = e.host;
      if (!e.host.boot_id.empty()) sum.boot_ids.insert(e.host.boot_id);
    }
    uint8_t flags = 0;
    if (int n = o.redactor.Apply(e); n > 0) {
      flags = 1;
      sum.redacted.push_back({KeyToString(k), HashHex(Sha256::Of(payload)), n});
      reenc = EncodeEventToString(e);
      payload = reenc;
    }
    char hdr[kRecHeader];
    hdr[0] = static_cast<char>(flags);
    std::memcpy(hdr + 1, key.data(), 16);
    PutBE32(hdr + 17, static_cast<uint32_t>(payload.size() + 32));
    buf.append(hdr, kRecHeader);
    buf.append(value.data(), 32);
    buf.append(payload);
    JsonWriter w(jbuf);
    EventToJson(k, e, w);
    jbuf += '\n';
    if (jbuf.size() >= (1 << 20)) {
      ev_sha.Update(jbuf);
      if (fwrite(jbuf.data(), 1, jbuf.size(), tmp.get()) != jbuf.size()) {
        failure = Status::IOError("cannot write the temp file for events.jsonl");
        return false;
      }
      jbuf.clear();
    }
    if (buf.size() >= (1 << 21) && !flush_records()) return false;
    stats->records = sum.records;
    if (o.progress && (sum.records & 0xFFFF) == 0) o.progress(sum.records);
    return true;
  });
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  if (!flush_records()) return failure;
  s = tw.End();
  if (!s.ok()) return s;
  sum.last_hash = prev;
  (*digests)["records.bin"] = HashHex(rec_sha.Final());
  ev_sha.Update(jbuf);
  if (fwrite(jbuf.data(), 1, jbuf.size(), tmp.get()) != jbuf.size() || fflush(tmp.get()) != 0) {
    return Status::IOError("cannot write the temp file for events.jsonl");
  }
  (*digests)["events.jsonl"] = HashHex(ev_sha.Final());
  s = tw.Begin("events.jsonl");
  if (!s.ok()) return s;
  rewind(tmp.get());
  std::string chunk(1 << 20, '\0');
  size_t n;
  while ((n = fread(chunk.data(), 1, chunk.size(), tmp.get())) > 0) {
    s = tw.Write(std::string_view(chunk.data(), n));
    if (!s.ok()) return s;
  }
  s = tw.End();
  if (!s.ok()) return s;
  return sum;
}

// Step 4. The manifest: what the range is, how it chains onto the log, what was redacted and
// withheld, and the digest of every data member.
std::string ManifestJson(const EventLog& log, const BundleOptions& o, const ChainHead& anchor,
                         const EndStates& ends, const RangeSummary& sum, const std::vector<Seal>& seals,
                         std::map<std::string, std::string>& digests) {
  const ChainHead head = log.Head();
  std::string m;
  JsonWriter w(m);
  w.BeginObject().Field("format", "safetytwin-bundle-v1").Field("tool", "twin-replay")
      .Field("tool_version", TWIN_VERSION).FieldU("schema_version", kSchemaVersion)
      .Field("created", FormatRfc3339Ns(WallNowNs())).Field("created_by", o.created_by);
  w.Key("host").BeginObject().Field("hostname", sum.host.hostname).Field("machine_id", sum.host.machine_id)
      .Field("kernel", sum.host.kernel).Field("os", sum.host.os).EndObject();
  w.Key("boot_ids").BeginArray();
  for (const auto& b : sum.boot_ids) w.String(b);
  w.EndArray();
  w.Key("range").BeginObject().Field("since", FormatRfc3339Ns(o.since_ns)).FieldU("since_ns", o.since_ns)
      .Field("until", FormatRfc3339Ns(o.until_ns)).FieldU("until_ns", o.until_ns)
      .FieldU("state_start_at_ns", ends.start_at).FieldU("state_end_at_ns", ends.end_at).EndObject();
  w.Key("chain").BeginObject().Field("prev_hash", HashHex(anchor.head)).FieldU("prev_count", anchor.count)
      .Field("prev_key", KeyToString(anchor.key)).FieldU("records", sum.records)
      .Field("first_key", sum.records ? KeyToString(sum.first_key) : "")
      .Field("last_key", sum.records ? KeyToString(sum.last_key) : "")
      .Field("last_hash", HashHex(sum.last_hash))
      .Key("log_head").BeginObject().Field("key", KeyToString(head.key)).FieldU("count", head.count)
      .Field("hash", HashHex(head.head)).EndObject().EndObject();
  w.Key("counts").BeginObject();
  for (int i = 0; i <= kEventKindMax; ++i) {
    if (sum.per_kind[i]) w.FieldU(KindName(static_cast<EventKind>(i)), sum.per_kind[i]);
  }
  w.EndObject();
  w.Key("seals").BeginArray();
  for (const Seal& sl : seals) {
    w.BeginObject().FieldU("ts_ns", sl.key.ts_ns).FieldU("seq", sl.key.seq).FieldU("count", sl.count)
        .Field("hash", HashHex(sl.head)).FieldU("sealed_ns", sl.sealed_ns).Field("mac", sl.mac)
        .FieldU("mac_epoch", sl.mac_epoch).EndObject();
  }
  w.EndArray();
  w.Key("redaction").BeginObject().FieldB("keyword_defaults", o.redactor.keyword_defaults());
  w.Key("rules").BeginArray();
  for (const auto& r : o.redactor.rules()) w.String(r);
  w.EndArray().FieldU("records", sum.redacted.size()).Key("redacted").BeginArray();
  for (const auto& r : sum.redacted) {
    w.BeginObject().Field("key", r.key).Field("original_payload_sha256", r.original_sha256)
        .FieldI("args", r.args).EndObject();
  }
  w.EndArray().EndObject();
  // Config files whose content the log withheld (secrets): present, hash only.
  w.Key("withheld").BeginArray();
  std::map<std::string, std::string> withheld;
  for (const State* st : {&ends.start, &ends.end}) {
    for (const auto& [path, f] : st->config_files)
      if (f.content == "withheld") withheld[path] = f.sha256;
  }
  for (const auto& [path, sha] : withheld) {
    w.BeginObject().Field("path", path).Field("sha256", sha).EndObject();
  }
  w.EndArray();
  w.Key("files").BeginObject();
  for (const char* name : kDataMembers) w.Field(name, digests[name]);
  if (!o.report_html.empty()) w.Field(kReportMember, digests[kReportMember]);
  w.EndObject().EndObject();
  m += '\n';
  return m;
}

// Step 5. SHA256SUMS over every member (sha256sum -c reads it), with its own digest last.
std::string Sha256Sums(std::map<std::string, std::string>& digests, bool with_report) {
  std::string sums;
  for (const char* name : kDataMembers) sums += digests[name] + "  " + name + "\n";
  if (with_report) sums += digests[kReportMember] + "  " + kReportMember + "\n";
  sums += digests["manifest.json"] + "  manifest.json\n";
  sums += "# self-sha256 " + HashHex(Sha256::Of(sums)) + "\n";
  return sums;
}

}  // namespace

Result<BundleStats> WriteBundle(const EventLog& log, const BundleOptions& o, const std::string& out_path) {
  if (o.until_ns < o.since_ns) return Status::InvalidArgument("--until is before --since");
  BundleStats stats;
  auto seals_r = log.Seals();
  if (!seals_r.ok()) return seals_r.status();
  auto anchor = FindAnchor(log, o, *seals_r);
  if (!anchor.ok()) return anchor.status();
  auto ends = StatesAtBothEnds(log, o);
  if (!ends.ok()) return ends.status();

  auto tw_r = TarWriter::Create(out_path, WallNowNs() / 1'000'000'000);
  if (!tw_r.ok()) return tw_r.status();
  TarWriter& tw = *tw_r.value();
  std::map<std::string, std::string> digests;
  auto sum = WriteRecordsAndEvents(log, o, *anchor, ends->start, tw, out_path, &digests, &stats);
  if (!sum.ok()) return sum.status();
  stats.records = sum->records;

  const std::pair<const char*, std::string> small[] = {
      {"state_start.json", StateJson(ends->start, ends->start_at)},
      {"state_start.snap", EncodeSnapshot(Snapshot{ends->start, {}, 0})},
      {"state_end.json", StateJson(ends->end, ends->end_at)},
      {"state_end.snap", EncodeSnapshot(Snapshot{ends->end, {}, 0})}};
  for (const auto& [name, content] : small) {
    if (Status s = tw.Add(name, content); !s.ok()) return s;
    digests[name] = HashHex(Sha256::Of(content));
  }
  if (!o.report_html.empty()) {
    if (Status s = tw.Add(kReportMember, o.report_html); !s.ok()) return s;
    digests[kReportMember] = HashHex(Sha256::Of(o.report_html));
  }

  // The seals inside the range travel with it.
  std::vector<Seal> seals;
  for (const Seal& sl : *seals_r) {
    if (sum->records > 0 && !(sl.key < sum->first_key) && !(sum->last_key < sl.key)) seals.push_back(sl);
  }
  stats.seals = seals.size();
  stats.redacted_records = sum->redacted.size();
  const std::string m = ManifestJson(log, o, *anchor, *ends, *sum, seals, digests);
  if (Status s = tw.Add("manifest.json", m); !s.ok()) return s;
  digests["manifest.json"] = HashHex(Sha256::Of(m));
  const std::string sums = Sha256Sums(digests, !o.report_html.empty());
  if (Status s = tw.Add("SHA256SUMS", sums); !s.ok()) return s;
  stats.sums_sha256 = HashHex(Sha256::Of(sums));
  if (Status s = tw.Close(); !s.ok()) return s;
  std::error_code ec;
  stats.bytes = std::filesystem::file_size(out_path, ec);
  return stats;
}

// ---------------------------------------------------------------------------------------------

}  // namespace twin
