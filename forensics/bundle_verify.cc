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

}  // namespace

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
    TarMemberReader r(path, it->second);
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
  TarMemberReader rec(path, rec_it->second);
  std::string hdr, scratch;
  std::string_view body;
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
