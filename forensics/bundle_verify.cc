// VerifyBundle: checks a case bundle offline, with no data dir: every member's hash, every
// record and the chain across them, the states against their records, the seals.
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

#include "forensics/bundle_format.h"

namespace twin {
using namespace bundle_detail;
namespace {

// events.jsonl must be exactly the rendering of records.bin. Runs on its own thread with its
// own reader of records.bin (decode errors are reported by the main pass).
struct EventsCheck {
  std::vector<BundleProblem> problems;
  Hash digest{};
};

EventsCheck CheckEventsJsonl(const std::string& path, const TarMember& rec_m, const TarMember& ev_m) {
  EventsCheck out;
  TarMemberReader rec(path, rec_m, /*hash=*/false), ev(path, ev_m);  // the main pass hashes records.bin
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


// The manifest's facts the later checks compare against.
struct ManifestFacts {
  Hash anchor{}, last_hash{};
  uint64_t prev_count = 0, want_records = 0;
  uint64_t since_ns = 0, until_ns = 0, start_at = 0, end_at = 0;
  std::vector<Seal> seals;
  std::map<std::string, uint64_t> want_counts;
  std::set<std::string> redacted_keys;
};

// What the pass over records.bin found.
struct RecordsPass {
  bool ok = true;  // read to the end without a structural error
  Hash last{};
  EventKey last_key{};
  bool have_last = false;
  uint64_t first_record_ns = 0;
  std::map<std::string, uint64_t> counts;
  State folded_end;
};

// One bundle's checks as steps; every problem lands in the report, none stops the others unless
// what follows cannot be read without it.
class BundleVerifier {
 public:
  BundleVerifier(const std::string& path, BundleReport& rep) : path_(path), rep_(rep) {}

  bool ListMembers() {
    auto members_r = ListTar(path_);
    if (!members_r.ok()) {
      Problem("archive", members_r.status().message());
      return false;
    }
    for (const auto& mem : members_r.value()) members_[mem.name] = mem;
    return true;
  }

  // Step 1. SHA256SUMS: self-checked, then the authority for every other member's digest.
  void ReadSums() {
    auto& sums = sums_;
    bool& sums_ok = sums_ok_;
    std::string sums_text;
    if (ReadSmall("SHA256SUMS", &sums_text)) {
      const size_t self = sums_text.rfind("# self-sha256 ");
      if (self == std::string::npos ||
          sums_text.compare(self + 14, 64, HashHex(Sha256::Of(sums_text.substr(0, self)))) != 0 ||
          self + 14 + 64 + 1 != sums_text.size() || sums_text.back() != '\n') {
        Problem("SHA256SUMS", "does not match its own self-sha256 line: the file was modified");
      } else {
        sums_ok = true;
        size_t pos = 0;
        while (pos < self) {
          size_t nl = sums_text.find('\n', pos);
          std::string line = sums_text.substr(pos, nl - pos);
          pos = nl + 1;
          if (line.size() < 67 || line.compare(64, 2, "  ") != 0) {
            Problem("SHA256SUMS", "malformed line");
            sums_ok = false;
            break;
          }
          sums[line.substr(66)] = line.substr(0, 64);
        }
      }
    }
    for (const auto& [name, mem] : members_) {
      if (name != "SHA256SUMS" && sums_ok && !sums.count(name)) {
        Problem(name, "is in the archive but not listed in SHA256SUMS (added?)");
      }
    }
  }

  // Step 2. The manifest: its digest, its format, the facts the records must match, and the
  // report member when it lists one. False when nothing after it can be checked.
  bool ReadManifest(ManifestFacts* f) {
    std::string mtext;
    if (!ReadSmall("manifest.json", &mtext)) return false;
    CheckDigest("manifest.json", Sha256::Of(mtext));
    nlohmann::json man = nlohmann::json::parse(mtext, nullptr, false);
    if (!man.is_object() || man.value("format", "") != "safetytwin-bundle-v1") {
      Problem("manifest.json", "is not a safetytwin-bundle-v1 manifest");
      return false;
    }
    auto& sums = sums_;
    const bool sums_ok = sums_ok_;
    auto& rep = rep_;
    Hash& anchor = f->anchor;
    Hash& last_hash = f->last_hash;
    uint64_t& prev_count = f->prev_count;
    uint64_t& want_records = f->want_records;
    uint64_t& since_ns = f->since_ns;
    uint64_t& until_ns = f->until_ns;
    uint64_t& start_at = f->start_at;
    uint64_t& end_at = f->end_at;
    auto& want_counts = f->want_counts;
    auto& seals = f->seals;
    auto& redacted_keys = f->redacted_keys;
    auto& members = members_;
    auto problem = [this](const std::string& file, const std::string& what) { Problem(file, what); };
    auto read_small = [this](const std::string& name, std::string* out) { return ReadSmall(name, out); };
    auto check_digest = [this](const std::string& name, const Hash& got) { CheckDigest(name, got); };
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
      // The report: optional, but once the manifest lists it, it must be there and match.
      const auto& files = man.at("files");
      const bool listed = files.contains(kReportMember);
      if (listed || members.count(kReportMember)) {
        std::string html;
        if (!listed) {
          problem(kReportMember, "is in the archive but not in the manifest (added?)");
        } else if (read_small(kReportMember, &html)) {
          const Hash got = Sha256::Of(html);
          check_digest(kReportMember, got);
          if (files.at(kReportMember).get<std::string>() != HashHex(got)) {
            problem(kReportMember, "SHA-256 differs from the manifest's: the file was modified");
          }
          rep.notes.push_back("report.html checked (SHA-256 as the manifest lists it)");
        }
      }
    } catch (const std::exception& ex) {
      problem("manifest.json", std::string("missing or mistyped field: ") + ex.what());
      return false;
    }
    rep.seals = seals.size();
    return true;
  }

  // Step 3. The states at both ends, from their .snap members.
  void ReadStates(State* start_state, State* end_state) {
    for (auto [name, st] : {std::pair<const char*, State*>{"state_start.snap", start_state},
                            {"state_end.snap", end_state}}) {
      std::string bytes;
      if (ReadSmall(name, &bytes)) {
        CheckDigest(name, Sha256::Of(bytes));
        Status ds = DecodeSnapshotState(bytes, st);
        if (!ds.ok()) Problem(name, "does not decode: " + ds.message());
      }
    }
  }

  // Step 4. records.bin in one pass (format, order, range, redaction marks, the chain, the seals,
  // the fold from the start state) while events.jsonl is checked against it on a second thread.
  // False if either member is missing.
  bool CheckRecords(const ManifestFacts& f, const State& start_state, RecordsPass* out) {
    auto rec_it = members_.find("records.bin");
    auto ev_it = members_.find("events.jsonl");
    if (rec_it == members_.end()) Problem("records.bin", "missing from the bundle");
    if (ev_it == members_.end()) Problem("events.jsonl", "missing from the bundle");
    if (rec_it == members_.end() || ev_it == members_.end()) return false;
    std::future<EventsCheck> events_check =
        std::async(std::launch::async, CheckEventsJsonl, path_, rec_it->second, ev_it->second);
    TarMemberReader rec(path_, rec_it->second);
    std::string hdr, scratch;
    std::string_view body;
    auto& rep = rep_;
    const Hash& anchor = f.anchor;
    const uint64_t prev_count = f.prev_count, since_ns = f.since_ns, until_ns = f.until_ns;
    const auto& seals = f.seals;
    const auto& redacted_keys = f.redacted_keys;
    auto problem = [this](const std::string& file, const std::string& what) { Problem(file, what); };
    EventKey& last_key = out->last_key;
    bool& have_last = out->have_last;
    bool& records_ok = out->ok;
    uint64_t& first_record_ns = out->first_record_ns;
    Hash prev = anchor;
    std::map<EventKey, const Seal*> seal_at;
    for (const Seal& sl : seals) seal_at[sl.key] = &sl;
    uint64_t kind_counts[kEventKindMax + 1] = {};
    StateFolder folded(start_state);
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
        if (ChainHash(prev, key_bytes, payload) != stored) {
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
    for (int i = 0; i <= kEventKindMax; ++i) {
      if (kind_counts[i]) out->counts[std::string(KindName(static_cast<EventKind>(i)))] = kind_counts[i];
    }
    out->last = prev;
    out->folded_end = folded.Finish();
    CheckDigest("records.bin", rec.Finish());
    EventsCheck evc = events_check.get();
    for (auto& p : evc.problems) rep.problems.push_back(std::move(p));
    CheckDigest("events.jsonl", evc.digest);
    return true;
  }

  // Step 5. What the pass found against what the manifest and the end state say.
  void CheckAgainstManifest(const ManifestFacts& f, const RecordsPass& r, const State& end_state) {
    if (!r.ok) return;
    auto& rep = rep_;
    auto problem = [this](const std::string& file, const std::string& what) { Problem(file, what); };
    const Hash& prev = r.last;
    const auto& counts = r.counts;
    const auto& folded_end = r.folded_end;
    const bool have_last = r.have_last;
    const EventKey& last_key = r.last_key;
    const uint64_t want_records = f.want_records, since_ns = f.since_ns;
    const Hash& last_hash = f.last_hash;
    const auto& want_counts = f.want_counts;
    const auto& seals = f.seals;
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

  // Step 6. The .json states are the renderings of the .snap ones.
  void CheckStateJson(const ManifestFacts& f, const State& start_state, const State& end_state) {
    for (auto [name, st, at] : {std::tuple<const char*, const State*, uint64_t>{"state_start.json", &start_state, f.start_at},
                                {"state_end.json", &end_state, f.end_at}}) {
      std::string text;
      if (ReadSmall(name, &text)) {
        CheckDigest(name, Sha256::Of(text));
        if (text != StateJson(*st, at)) Problem(name, "differs from the matching .snap state");
      }
    }
  }

 private:
  void Problem(const std::string& file, const std::string& what) { rep_.problems.push_back({file, what}); }

  bool ReadSmall(const std::string& name, std::string* out) {
    auto it = members_.find(name);
    if (it == members_.end()) {
      Problem(name, "missing from the bundle");
      return false;
    }
    TarMemberReader r(path_, it->second);
    if (!r.ok() || !r.ReadAll(*out, 64 << 20)) {
      Problem(name, "unreadable or larger than 64 MiB");
      return false;
    }
    return true;
  }

  void CheckDigest(const std::string& name, const Hash& got) {
    if (!sums_ok_) return;
    auto it = sums_.find(name);
    if (it == sums_.end()) {
      Problem(name, "not listed in SHA256SUMS");
    } else if (it->second != HashHex(got)) {
      Problem(name, "SHA-256 mismatch: the file was modified (expected " + it->second.substr(0, 16) +
                        "..., found " + HashHex(got).substr(0, 16) + "...)");
    }
  }

  const std::string& path_;
  BundleReport& rep_;
  std::map<std::string, TarMember> members_;
  std::map<std::string, std::string> sums_;
  bool sums_ok_ = false;
};

}  // namespace

BundleReport VerifyBundle(const std::string& path, const VerificationKey* key) {
  BundleReport rep;
  BundleVerifier v(path, rep);
  if (!v.ListMembers()) return rep;
  v.ReadSums();
  ManifestFacts f;
  if (!v.ReadManifest(&f)) return rep;
  State start_state, end_state;
  v.ReadStates(&start_state, &end_state);
  RecordsPass r;
  if (!v.CheckRecords(f, start_state, &r)) return rep;
  v.CheckAgainstManifest(f, r, end_state);
  v.CheckStateJson(f, start_state, end_state);
  if (key) {
    rep.macs = CheckSealMacs(*key, f.seals, r.first_record_ns);
    if (rep.macs->valid > 0 && rep.macs->last_keyed_count < f.prev_count + rep.records) {
      rep.notes.push_back(std::to_string(f.prev_count + rep.records - rep.macs->last_keyed_count) +
                          " records after the last keyed seal are protected by the chain only");
    }
  }
  if (rep.redacted) {
    rep.notes.push_back(std::to_string(rep.redacted) + " redacted records carry their stored chain hash; "
                        "the chain was recomputed across the other " + std::to_string(rep.chain_verified));
  }
  if (f.seals.empty()) rep.notes.push_back("no seal falls inside the range: the records are anchored by the chain only");
  return rep;
}

}  // namespace twin
