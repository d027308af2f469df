#include "forensics/bundle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/state.h"
#include "eventlog/timefmt.h"
#include "forensics/digest.h"
#include "forensics/tar.h"
#include "format/json_writer.h"
#include "format/render.h"

#ifndef TWIN_VERSION
#define TWIN_VERSION "0.0.0"
#endif

namespace twin {
namespace {

constexpr char kMagic[] = "TWINREC1";
constexpr size_t kMagicLen = 8;
constexpr size_t kRecHeader = 1 + 16 + 4;
const char* const kDataMembers[] = {"records.bin", "events.jsonl", "state_start.json",
                                    "state_start.snap", "state_end.json", "state_end.snap"};

void PutBE32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}
uint32_t GetBE32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}


void RedactState(State& s, const Redactor& r) {
  for (auto& [k, p] : s.processes) r.ApplyArgv(p.argv);
}

std::string StateJson(const State& s, uint64_t at) {
  std::string out;
  JsonWriter w(out);
  StateToJson(s, at, w);
  out += '\n';
  return out;
}

// A member of the archive, read sequentially through a private buffer; hashes what it reads.
class MemberReader {
 public:
  MemberReader(const std::string& path, const TarMember& m, bool hash = true) : left_(m.size), hash_(hash) {
    f_ = fopen(path.c_str(), "rb");
    if (f_ && fseeko(f_, static_cast<off_t>(m.offset), SEEK_SET) != 0) {
      fclose(f_);
      f_ = nullptr;
    }
    buf_.resize(1 << 20);
  }
  ~MemberReader() {
    if (f_) fclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  // Reads exactly n bytes into out (false at the end of the member or on error).
  bool Read(size_t n, std::string& out) {
    out.clear();
    while (out.size() < n) {
      if (pos_ == end_ && !Fill()) return false;
      const size_t take = std::min(n - out.size(), end_ - pos_);
      out.append(buf_.data() + pos_, take);
      pos_ += take;
    }
    return true;
  }
  // Like Read, but points into the buffer when the bytes are contiguous there (valid until the
  // next call); copies into scratch otherwise.
  bool ReadView(size_t n, std::string_view* out, std::string& scratch) {
    if (pos_ == end_ && !Fill()) return n == 0;
    if (end_ - pos_ >= n) {
      *out = std::string_view(buf_.data() + pos_, n);
      pos_ += n;
      return true;
    }
    if (!Read(n, scratch)) return false;
    *out = scratch;
    return true;
  }
  // Reads through the next '\n' (included), or to the end of the member.
  bool ReadLine(std::string& line) {
    line.clear();
    while (true) {
      if (pos_ == end_ && !Fill()) return !line.empty();
      const char* p = buf_.data() + pos_;
      const void* nl = memchr(p, '\n', end_ - pos_);
      const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) + 1 : end_ - pos_;
      line.append(p, take);
      pos_ += take;
      if (nl) return true;
    }
  }
  bool ReadAll(std::string& out, uint64_t limit) {
    if (left_ + (end_ - pos_) > limit) return false;
    return Read(static_cast<size_t>(left_ + (end_ - pos_)), out);
  }
  // Hashes whatever was not read yet and returns the digest of the whole member.
  Hash Finish() {
    pos_ = end_;
    while (Fill()) pos_ = end_;
    return sha_.Final();
  }
  uint64_t left() const { return left_ + (end_ - pos_); }

 private:
  bool Fill() {
    if (!f_ || left_ == 0) return false;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, buf_.size()));
    if (fread(buf_.data(), 1, n, f_) != n) {
      left_ = 0;
      return false;
    }
    left_ -= n;
    if (hash_) sha_.Update(std::string_view(buf_.data(), n));
    pos_ = 0;
    end_ = n;
    return true;
  }
  FILE* f_ = nullptr;
  uint64_t left_;  // not yet read from the file
  bool hash_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  Sha256 sha_;
};

// events.jsonl must be exactly the rendering of records.bin. Runs on its own thread with its
// own reader of records.bin (decode errors are reported by the main pass).
struct EventsCheck {
  std::vector<BundleProblem> problems;
  Hash digest{};
};

EventsCheck CheckEventsJsonl(const std::string& path, const TarMember& rec_m, const TarMember& ev_m) {
  EventsCheck out;
  MemberReader rec(path, rec_m, /*hash=*/false), ev(path, ev_m);  // the main pass hashes records.bin
  std::string hdr, scratch, line, rendered;
  std::string_view body;
  Event e;
  bool ok = rec.Read(kMagicLen, hdr);
  while (ok && rec.left() > 0) {
    if (!rec.Read(kRecHeader, hdr)) break;
    const uint32_t len = GetBE32(hdr.data() + 17);
    if (len < 32 || !rec.ReadView(len, &body, scratch)) break;
    EventKey k;
    DecodeKey(std::string_view(hdr.data() + 1, 16), &k);
    if (!DecodeEvent(body.substr(32), &e).ok()) continue;
    rendered.clear();
    JsonWriter w(rendered);
    EventToJson(k, e, w);
    rendered += '\n';
    if (!ev.ReadLine(line)) {
      out.problems.push_back({"events.jsonl", "ends before record " + KeyToString(k)});
      ok = false;
    } else if (line != rendered) {
      out.problems.push_back({"events.jsonl", "line for record " + KeyToString(k) + " differs from the record"});
      ok = false;
    }
  }
  if (ok && ev.left() > 0) out.problems.push_back({"events.jsonl", "has lines beyond the last record"});
  out.digest = ev.Finish();
  return out;
}

}  // namespace

Result<BundleStats> WriteBundle(const EventLog& log, const BundleOptions& o, const std::string& out_path) {
  if (o.until_ns < o.since_ns) return Status::InvalidArgument("--until is before --since");
  BundleStats stats;
  // 1. Anchor: chain hash and count just before the range, from the last seal before it.
  ChainHead anchor;
  EventKey scan_from{0, 0};
  auto origin_meta = log.GetMeta("chain_origin");
  if (!origin_meta.ok()) return origin_meta.status();
  if (origin_meta.value()) {
    auto j = nlohmann::json::parse(*origin_meta.value(), nullptr, false);
    if (!j.is_object() || !ParseHashHex(j.value("hash", std::string()), &anchor.head)) {
      return Status::Corruption("meta:chain_origin is unreadable; run twin-replay verify");
    }
    anchor.count = j.value("count", uint64_t{0});
    anchor.key = {j.value("ts_ns", uint64_t{0}), j.value("seq", uint64_t{0})};
    scan_from = NextKey(anchor.key);
  }
  auto seals_r = log.Seals();
  if (!seals_r.ok()) return seals_r.status();
  for (const Seal& s : seals_r.value()) {
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
  // 2. States at both ends.
  State start_state;
  const uint64_t start_at = o.since_ns == 0 ? 0 : o.since_ns - 1;
  if (o.since_ns > 0) {
    auto st = StateAt(log, start_at);
    if (!st.ok()) return st.status();
    start_state = std::move(st).value();
  }
  auto end_r = StateAt(log, o.until_ns);
  if (!end_r.ok()) return end_r.status();
  State end_state = std::move(end_r).value();
  RedactState(start_state, o.redactor);
  RedactState(end_state, o.redactor);

  // 3. records.bin straight into the archive; events.jsonl into an unlinked temp file.
  auto tw_r = TarWriter::Create(out_path, WallNowNs() / 1'000'000'000);
  if (!tw_r.ok()) return tw_r.status();
  TarWriter& tw = *tw_r.value();
  std::string tmpl = (std::filesystem::path(out_path).parent_path().empty()
                          ? std::string(".")
                          : std::filesystem::path(out_path).parent_path().string()) +
                     "/.twin-bundle-XXXXXX";
  int tmp_fd = mkstemp(tmpl.data());
  if (tmp_fd < 0) return Status::IOError("cannot create a temp file next to " + out_path);
  unlink(tmpl.c_str());
  std::unique_ptr<FILE, int (*)(FILE*)> tmp(fdopen(tmp_fd, "w+b"), fclose);

  std::map<std::string, std::string> digests;
  Sha256 rec_sha, ev_sha, chain_sha;
  Status s = tw.Begin("records.bin");
  if (!s.ok()) return s;
  std::string buf, jbuf, reenc;
  buf.reserve(1 << 21);
  buf.append(kMagic, kMagicLen);
  std::array<uint64_t, kEventKindMax + 1> per_kind{};
  std::set<std::string> boot_ids;
  if (!start_state.host.boot_id.empty()) boot_ids.insert(start_state.host.boot_id);
  HostFacts host = start_state.host;
  struct Redacted { std::string key, original_sha256; int args; };
  std::vector<Redacted> redacted;
  Hash prev = anchor.head;
  EventKey first_key{}, last_key{};
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
    if (ChainHash(chain_sha, prev, key, payload) != stored) {
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
    if (stats.records == 0) first_key = k;
    last_key = k;
    ++stats.records;
    const auto ki = static_cast<size_t>(e.kind);
    if (ki < per_kind.size()) ++per_kind[ki];
    if (e.kind == EventKind::kHostFacts) {
      host = e.host;
      if (!e.host.boot_id.empty()) boot_ids.insert(e.host.boot_id);
    }
    uint8_t flags = 0;
    if (int n = o.redactor.Apply(e); n > 0) {
      flags = 1;
      redacted.push_back({KeyToString(k), HashHex(Sha256::Of(payload)), n});
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
    if (o.progress && (stats.records & 0xFFFF) == 0) o.progress(stats.records);
    return true;
  });
  if (!s.ok()) return s;
  if (!failure.ok()) return failure;
  if (!flush_records()) return failure;
  s = tw.End();
  if (!s.ok()) return s;
  digests["records.bin"] = HashHex(rec_sha.Final());
  ev_sha.Update(jbuf);
  if (fwrite(jbuf.data(), 1, jbuf.size(), tmp.get()) != jbuf.size() || fflush(tmp.get()) != 0) {
    return Status::IOError("cannot write the temp file for events.jsonl");
  }
  digests["events.jsonl"] = HashHex(ev_sha.Final());
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
  tmp.reset();

  const uint64_t end_at = o.until_ns;
  const std::pair<const char*, std::string> small[] = {
      {"state_start.json", StateJson(start_state, start_at)},
      {"state_start.snap", EncodeSnapshot(Snapshot{start_state, {}, 0})},
      {"state_end.json", StateJson(end_state, end_at)},
      {"state_end.snap", EncodeSnapshot(Snapshot{end_state, {}, 0})}};
  for (const auto& [name, content] : small) {
    s = tw.Add(name, content);
    if (!s.ok()) return s;
    digests[name] = HashHex(Sha256::Of(content));
  }

  // 4. Manifest.
  std::vector<Seal> seals;
  for (const Seal& sl : seals_r.value()) {
    if (stats.records > 0 && !(sl.key < first_key) && !(last_key < sl.key)) seals.push_back(sl);
  }
  stats.seals = seals.size();
  stats.redacted_records = redacted.size();
  const ChainHead head = log.Head();
  std::string m;
  JsonWriter w(m);
  w.BeginObject().Field("format", "safetytwin-bundle-v1").Field("tool", "twin-replay")
      .Field("tool_version", TWIN_VERSION).FieldU("schema_version", kSchemaVersion)
      .Field("created", FormatRfc3339Ns(WallNowNs())).Field("created_by", o.created_by);
  w.Key("host").BeginObject().Field("hostname", host.hostname).Field("machine_id", host.machine_id)
      .Field("kernel", host.kernel).Field("os", host.os).EndObject();
  w.Key("boot_ids").BeginArray();
  for (const auto& b : boot_ids) w.String(b);
  w.EndArray();
  w.Key("range").BeginObject().Field("since", FormatRfc3339Ns(o.since_ns)).FieldU("since_ns", o.since_ns)
      .Field("until", FormatRfc3339Ns(o.until_ns)).FieldU("until_ns", o.until_ns)
      .FieldU("state_start_at_ns", start_at).FieldU("state_end_at_ns", end_at).EndObject();
  w.Key("chain").BeginObject().Field("prev_hash", HashHex(anchor.head)).FieldU("prev_count", anchor.count)
      .Field("prev_key", KeyToString(anchor.key)).FieldU("records", stats.records)
      .Field("first_key", stats.records ? KeyToString(first_key) : "")
      .Field("last_key", stats.records ? KeyToString(last_key) : "")
      .Field("last_hash", HashHex(prev))
      .Key("log_head").BeginObject().Field("key", KeyToString(head.key)).FieldU("count", head.count)
      .Field("hash", HashHex(head.head)).EndObject().EndObject();
  w.Key("counts").BeginObject();
  for (int i = 0; i <= kEventKindMax; ++i) {
    if (per_kind[i]) w.FieldU(KindName(static_cast<EventKind>(i)), per_kind[i]);
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
  w.EndArray().FieldU("records", redacted.size()).Key("redacted").BeginArray();
  for (const auto& r : redacted) {
    w.BeginObject().Field("key", r.key).Field("original_payload_sha256", r.original_sha256)
        .FieldI("args", r.args).EndObject();
  }
  w.EndArray().EndObject();
  w.Key("files").BeginObject();
  for (const char* name : kDataMembers) w.Field(name, digests[name]);
  w.EndObject().EndObject();
  m += '\n';
  s = tw.Add("manifest.json", m);
  if (!s.ok()) return s;
  digests["manifest.json"] = HashHex(Sha256::Of(m));

  std::string sums;
  for (const char* name : kDataMembers) sums += digests[name] + "  " + name + "\n";
  sums += digests["manifest.json"] + "  manifest.json\n";
  sums += "# self-sha256 " + HashHex(Sha256::Of(sums)) + "\n";
  s = tw.Add("SHA256SUMS", sums);
  if (!s.ok()) return s;
  stats.sums_sha256 = HashHex(Sha256::Of(sums));
  s = tw.Close();
  if (!s.ok()) return s;
  std::error_code ec;
  stats.bytes = std::filesystem::file_size(out_path, ec);
  return stats;
}

// ---------------------------------------------------------------------------------------------

BundleReport VerifyBundle(const std::string& path, const VerificationKey* key) {
  BundleReport rep;
  auto problem = [&](const std::string& file, const std::string& what) {
    rep.problems.push_back({file, what});
  };
  auto members_r = ListTar(path);
  if (!members_r.ok()) {
    problem("archive", members_r.status().message());
    return rep;
  }
  std::map<std::string, TarMember> members;
  for (const auto& mem : members_r.value()) members[mem.name] = mem;
  auto read_small = [&](const std::string& name, std::string* out) -> bool {
    auto it = members.find(name);
    if (it == members.end()) {
      problem(name, "missing from the bundle");
      return false;
    }
    MemberReader r(path, it->second);
    if (!r.ok() || !r.ReadAll(*out, 64 << 20)) {
      problem(name, "unreadable or larger than 64 MiB");
      return false;
    }
    return true;
  };

  // SHA256SUMS: self-checked, then the authority for every other member's digest.
  std::map<std::string, std::string> sums;
  std::string sums_text;
  bool sums_ok = false;
  if (read_small("SHA256SUMS", &sums_text)) {
    const size_t self = sums_text.rfind("# self-sha256 ");
    if (self == std::string::npos ||
        sums_text.compare(self + 14, 64, HashHex(Sha256::Of(sums_text.substr(0, self)))) != 0 ||
        self + 14 + 64 + 1 != sums_text.size() || sums_text.back() != '\n') {
      problem("SHA256SUMS", "does not match its own self-sha256 line: the file was modified");
    } else {
      sums_ok = true;
      size_t pos = 0;
      while (pos < self) {
        size_t nl = sums_text.find('\n', pos);
        std::string line = sums_text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
          problem("SHA256SUMS", "malformed line");
          sums_ok = false;
          break;
        }
        sums[line.substr(66)] = line.substr(0, 64);
      }
    }
  }
  for (const auto& [name, mem] : members) {
    if (name != "SHA256SUMS" && sums_ok && !sums.count(name)) {
      problem(name, "is in the archive but not listed in SHA256SUMS (added?)");
    }
  }
  auto check_digest = [&](const std::string& name, const Hash& got) {
    if (!sums_ok) return;
    auto it = sums.find(name);
    if (it == sums.end()) {
      problem(name, "not listed in SHA256SUMS");
    } else if (it->second != HashHex(got)) {
      problem(name, "SHA-256 mismatch: the file was modified (expected " + it->second.substr(0, 16) +
                        "..., found " + HashHex(got).substr(0, 16) + "...)");
    }
  };

  // Manifest.
  std::string mtext;
  nlohmann::json man;
  if (read_small("manifest.json", &mtext)) {
    check_digest("manifest.json", Sha256::Of(mtext));
    man = nlohmann::json::parse(mtext, nullptr, false);
    if (!man.is_object() || man.value("format", "") != "safetytwin-bundle-v1") {
      problem("manifest.json", "is not a safetytwin-bundle-v1 manifest");
      return rep;
    }
  } else {
    return rep;
  }
  Hash anchor{}, last_hash{};
  uint64_t prev_count = 0, want_records = 0;
  uint64_t since_ns = 0, until_ns = 0, start_at = 0, end_at = 0;
  std::vector<Seal> seals;
  std::map<std::string, uint64_t> want_counts;
  std::set<std::string> redacted_keys;
  try {
    const auto& ch = man.at("chain");
    if (!ParseHashHex(ch.at("prev_hash").get<std::string>(), &anchor) ||
        !ParseHashHex(ch.at("last_hash").get<std::string>(), &last_hash)) {
      problem("manifest.json", "chain hashes are malformed");
    }
    prev_count = ch.at("prev_count").get<uint64_t>();
    want_records = ch.at("records").get<uint64_t>();
    rep.first_key = ch.at("first_key").get<std::string>();
    rep.last_key = ch.at("last_key").get<std::string>();
    rep.last_hash = ch.at("last_hash").get<std::string>();
    const auto& rg = man.at("range");
    since_ns = rg.at("since_ns").get<uint64_t>();
    until_ns = rg.at("until_ns").get<uint64_t>();
    start_at = rg.at("state_start_at_ns").get<uint64_t>();
    end_at = rg.at("state_end_at_ns").get<uint64_t>();
    rep.since = rg.at("since").get<std::string>();
    rep.until = rg.at("until").get<std::string>();
    for (const auto& [k, v] : man.at("counts").items()) want_counts[k] = v.get<uint64_t>();
    for (const auto& js : man.at("seals")) {
      Seal sl;
      sl.key = {js.at("ts_ns").get<uint64_t>(), js.at("seq").get<uint64_t>()};
      sl.count = js.at("count").get<uint64_t>();
      if (!ParseHashHex(js.at("hash").get<std::string>(), &sl.head)) problem("manifest.json", "malformed seal hash");
      sl.sealed_ns = js.at("sealed_ns").get<uint64_t>();
      sl.mac = js.at("mac").get<std::string>();
      sl.mac_epoch = js.at("mac_epoch").get<uint64_t>();
      seals.push_back(sl);
    }
    for (const auto& r : man.at("redaction").at("redacted")) redacted_keys.insert(r.at("key").get<std::string>());
    for (const char* name : kDataMembers) {
      const std::string want = man.at("files").at(name).get<std::string>();
      if (sums_ok && sums.count(name) && sums[name] != want) {
        problem("manifest.json", std::string("its digest of ") + name + " differs from SHA256SUMS");
      }
    }
  } catch (const std::exception& ex) {
    problem("manifest.json", std::string("missing or mistyped field: ") + ex.what());
    return rep;
  }
  rep.seals = seals.size();

  // States.
  State start_state, end_state;
  for (auto [name, st] : {std::pair<const char*, State*>{"state_start.snap", &start_state},
                          {"state_end.snap", &end_state}}) {
    std::string bytes;
    if (read_small(name, &bytes)) {
      check_digest(name, Sha256::Of(bytes));
      Status ds = DecodeSnapshotState(bytes, st);
      if (!ds.ok()) problem(name, "does not decode: " + ds.message());
    }
  }

  // records.bin and events.jsonl in one pass.
  auto rec_it = members.find("records.bin");
  auto ev_it = members.find("events.jsonl");
  if (rec_it == members.end()) problem("records.bin", "missing from the bundle");
  if (ev_it == members.end()) problem("events.jsonl", "missing from the bundle");
  if (rec_it == members.end() || ev_it == members.end()) return rep;
  std::future<EventsCheck> events_check =
      std::async(std::launch::async, CheckEventsJsonl, path, rec_it->second, ev_it->second);
  MemberReader rec(path, rec_it->second);
  std::string hdr, scratch;
  std::string_view body;
  Sha256 chain_sha;
  Hash prev = anchor;
  EventKey last_key{};
  bool have_last = false;
  std::map<EventKey, const Seal*> seal_at;
  for (const Seal& sl : seals) seal_at[sl.key] = &sl;
  uint64_t kind_counts[kEventKindMax + 1] = {};
  StateFolder folded(start_state);
  bool records_ok = true;
  uint64_t first_record_ns = 0;
  if (!rec.Read(kMagicLen, hdr) || hdr != std::string_view(kMagic, kMagicLen)) {
    problem("records.bin", "does not start with TWINREC1");
    records_ok = false;
  }
  std::string_view hview;
  char h[kRecHeader];
  while (records_ok && rec.left() > 0) {
    if (!rec.ReadView(kRecHeader, &hview, scratch) || hview.size() != kRecHeader) {
      problem("records.bin", "truncated record header after record " + std::to_string(rep.records));
      records_ok = false;
      break;
    }
    std::memcpy(h, hview.data(), kRecHeader);  // the view dies with the next read
    const uint8_t flags = static_cast<uint8_t>(h[0]);
    const uint32_t len = GetBE32(h + 17);
    const std::string_view key_bytes(h + 1, 16);
    EventKey k;
    DecodeKey(key_bytes, &k);
    auto ks = [&k] { return KeyToString(k); };  // only for messages: most records have none
    if (len < 32 || !rec.ReadView(len, &body, scratch)) {
      problem("records.bin", "record " + ks() + " is truncated or malformed");
      records_ok = false;
      break;
    }
    if (++rep.records == 1) first_record_ns = k.ts_ns;
    std::string_view payload = body.substr(32);
    Hash stored;
    std::memcpy(stored.data(), body.data(), 32);
    if (flags & ~1u) problem("records.bin", "record " + ks() + " has unknown flags");
    if (have_last && !(last_key < k)) problem("records.bin", "record " + ks() + " is not after the previous record");
    if (k.ts_ns < since_ns || k.ts_ns > until_ns) problem("records.bin", "record " + ks() + " is outside the bundle's range");
    const bool listed = !redacted_keys.empty() && redacted_keys.count(ks()) > 0;
    if (flags & 1) {
      ++rep.redacted;
      if (!listed) problem("records.bin", "record " + ks() + " is marked redacted but the manifest does not list it");
    } else {
      if (listed) problem("records.bin", "record " + ks() + " is listed as redacted in the manifest but is not marked");
      if (ChainHash(chain_sha, prev, key_bytes, payload) != stored) {
        problem("records.bin", "chain hash mismatch at record " + ks() +
                                   ": this record, or the one before it, was edited, inserted, deleted or moved");
      } else {
        ++rep.chain_verified;
      }
    }
    prev = stored;
    last_key = k;
    have_last = true;
    if (!seal_at.empty()) {
      if (auto sit = seal_at.find(k); sit != seal_at.end()) {
        const Seal& sl = *sit->second;
        if (sl.head != stored || sl.count != prev_count + rep.records) {
          problem("manifest.json", "seal at " + ks() + " does not match the records (sealed count " +
                                       std::to_string(sl.count) + ", found " +
                                       std::to_string(prev_count + rep.records) + ")");
        } else {
          ++rep.seals_matched;
        }
      }
    }
    EventKind kind = EventKind::kUnknown;
    Status ds = folded.Apply(k, payload, &kind);
    if (!ds.ok()) {
      problem("records.bin", "record " + ks() + " does not decode: " + ds.message());
      continue;
    }
    ++kind_counts[static_cast<size_t>(kind)];
  }
  std::map<std::string, uint64_t> counts;
  for (int i = 0; i <= kEventKindMax; ++i) {
    if (kind_counts[i]) counts[std::string(KindName(static_cast<EventKind>(i)))] = kind_counts[i];
  }
  const State folded_end = folded.Finish();
  check_digest("records.bin", rec.Finish());
  EventsCheck evc = events_check.get();
  for (auto& p : evc.problems) rep.problems.push_back(std::move(p));
  check_digest("events.jsonl", evc.digest);
  if (records_ok) {
    if (rep.records != want_records) {
      problem("manifest.json", "says " + std::to_string(want_records) + " records, records.bin has " +
                                   std::to_string(rep.records));
    }
    if (prev != last_hash) problem("records.bin", "the chain does not end at the manifest's last_hash");
    if (counts != want_counts) problem("manifest.json", "counts per kind differ from records.bin");
    for (const Seal& sl : seals) {
      if (sl.key < EventKey{since_ns, 0} || (have_last && last_key < sl.key)) {
        problem("manifest.json", "seal " + KeyToString(sl.key) + " lies outside the records");
      }
    }
    if (rep.seals_matched != seals.size() && rep.problems.empty()) {
      problem("manifest.json", "a seal names a record that is not in records.bin");
    }
    // The end state must be the start state plus the records.
    if (!(folded_end.processes == end_state.processes && folded_end.units == end_state.units &&
          folded_end.listeners == end_state.listeners && folded_end.host == end_state.host)) {
      problem("state_end.snap", "is not the start state plus the bundled records");
    }
  }
  for (auto [name, st, at] : {std::tuple<const char*, State*, uint64_t>{"state_start.json", &start_state, start_at},
                              {"state_end.json", &end_state, end_at}}) {
    std::string text;
    if (read_small(name, &text)) {
      check_digest(name, Sha256::Of(text));
      if (text != StateJson(*st, at)) problem(name, "differs from the matching .snap state");
    }
  }
  if (key) {
    rep.macs = CheckSealMacs(*key, seals, first_record_ns);
    if (rep.macs->valid > 0 && rep.macs->last_keyed_count < prev_count + rep.records) {
      rep.notes.push_back(std::to_string(prev_count + rep.records - rep.macs->last_keyed_count) +
                          " records after the last keyed seal are protected by the chain only");
    }
  }
  if (rep.redacted) {
    rep.notes.push_back(std::to_string(rep.redacted) + " redacted records carry their stored chain hash; "
                        "the chain was recomputed across the other " + std::to_string(rep.chain_verified));
  }
  if (seals.empty()) rep.notes.push_back("no seal falls inside the range: the records are anchored by the chain only");
  return rep;
}

}  // namespace twin
