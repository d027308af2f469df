// EventLog::Verify: every record, the hash chain, seals, the chain anchor and recorded losses.
#include "eventlog/log_internal.h"

namespace twin {

// Each problem with the record key it is about (none for meta, scan and raw-key problems):
// the report is sorted by it, records first.
using Found = std::vector<std::pair<std::optional<EventKey>, VerifyProblem>>;

static std::vector<VerifyProblem> Sorted(Found found) {
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first && b.first) return *a.first < *b.first;
    return a.first.has_value() && !b.first.has_value();
  });
  std::vector<VerifyProblem> out;
  for (auto& [key, p] : found) out.push_back(std::move(p));
  return out;
}

// What the chain anchor vouched for and the log lacks: found now (a reader's open), or found
// and recorded by twind at an earlier open. Either way the records are gone.
static void AddLossProblems(const Status& open_problem, const std::vector<LossReport>& losses,
                            Found* found) {
  if (!open_problem.ok()) found->push_back({std::nullopt, {"anchor", open_problem.message()}});
  for (const LossReport& loss : losses) {
    if (!loss.vouched_lost() && loss.anchor_problem.empty()) continue;
    found->push_back({loss.log_head.key,
                      {KeyToString(loss.log_head.key),
                       loss.Describe() + " (found when twind opened the log at " +
                           FormatRfc3339Ns(loss.detected_ns) + " and recorded as a gap)"}});
  }
}

VerifyReport EventLog::Verify() const {
  (void)impl_->Drain();
  VerifyReport rep;
  const Impl& m = *impl_;
  Found found;
  auto problem = [&](const std::string& key, const std::string& what) {
    found.push_back({std::nullopt, {key, what}});
  };
  auto record_problem = [&](const EventKey& k, const std::string& what) {
    found.push_back({k, {KeyToString(k), what}});
  };
  if (auto o = m.ReadOrigin(); !o.ok()) problem("meta:chain_origin", o.status().message());
  ChainHead origin = m.Origin();
  Hash prev = origin.head;
  uint64_t count = origin.count;
  EventKey last_key = origin.key;
  bool have_last = origin.count != 0;
  std::map<EventKey, std::pair<uint64_t, Hash>> at_seal;
  auto seals = Seals();
  if (!seals.ok()) {
    problem("meta:seals", seals.status().message());
  } else {
    for (const auto& s : seals.value()) at_seal[s.key] = {0, {}};
  }
  Event e;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 4 << 20;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.events));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    ++rep.records;
    EventKey k;
    if (!DecodeKey(key, &k)) {
      problem("raw:" + it->key().ToString(true), "malformed key (expected 16 bytes)");
      continue;
    }
    if (have_last && !(last_key < k)) record_problem(k, "key is not after the previous key");
    if (value.size() < 32) {
      record_problem(k, "record shorter than its chain hash");
      continue;
    }
    Status ds = DecodeEvent(value.substr(32), &e);
    if (!ds.ok()) record_problem(k, ds.message());
    Hash stored;
    std::memcpy(stored.data(), value.data(), 32);
    Hash expect = ChainHash(prev, key, value.substr(32));
    if (expect != stored) {
      record_problem(k, "chain hash mismatch: this record, or one before it, was edited, inserted, "
                  "deleted or moved");
    }
    prev = stored;  // resynchronise so that one edit is reported once
    ++count;
    last_key = k;
    have_last = true;
    auto sit = at_seal.find(k);
    if (sit != at_seal.end()) sit->second = {count, stored};
  }
  if (!it->status().ok()) problem("scan", it->status().ToString());
  if (seals.ok()) {
    for (const auto& s : seals.value()) {
      if (s.key < origin.key || (origin.count != 0 && s.key == origin.key)) continue;
      ++rep.seals_checked;
      const auto& got = at_seal[s.key];
      if (got.first == 0) {
        record_problem(s.key, "sealed record is missing");
      } else if (got.first != s.count || got.second != s.head) {
        record_problem(s.key, "seal does not match the chain (sealed count " +
                                        std::to_string(s.count) + ", found " +
                                        std::to_string(got.first) + ")");
      }
    }
  }
  ChainHead head;
  std::string hv;
  if (m.db->Get(rocksdb::ReadOptions(), m.meta, kMetaHead, &hv).ok()) {
    if (!HeadFromJson(hv, &head)) {
      problem("meta:chain_head", "unreadable");
    } else if (head.count != count || head.head != prev || !(head.key == last_key)) {
      problem("meta:chain_head",
              "log ends at " + KeyToString(last_key) + " after " + std::to_string(count) +
                  " records but the recorded head is " + KeyToString(head.key) + " after " +
                  std::to_string(head.count) + ": records were removed or added at the end");
    }
  } else if (count != origin.count) {
    problem("meta:chain_head", "missing although the log has records");
  }
  AddLossProblems(m.open_problem, RecordedLosses(), &found);
  rep.problems = Sorted(std::move(found));
  return rep;
}

VerifyReport EventLog::QuickVerify() const {
  (void)impl_->Drain();
  VerifyReport rep;
  const Impl& m = *impl_;
  Found found;
  auto problem = [&](const std::string& key, const std::string& what) {
    found.push_back({std::nullopt, {key, what}});
  };
  auto record_problem = [&](const EventKey& k, const std::string& what) {
    found.push_back({k, {KeyToString(k), what}});
  };
  if (Status ts = CheckTables(); !ts.ok()) problem("tables", ts.message());
  auto stored_hash = [&](const EventKey& k, Hash* h) -> rocksdb::Status {
    std::string v;
    auto s = m.db->Get(rocksdb::ReadOptions(), m.events, EncodeKey(k), &v);
    if (s.ok() && v.size() < 32) return rocksdb::Status::Corruption("record shorter than its chain hash");
    if (s.ok()) std::memcpy(h->data(), v.data(), 32);
    return s;
  };
  if (auto o = m.ReadOrigin(); !o.ok()) problem("meta:chain_origin", o.status().message());
  const ChainHead origin = m.Origin();
  std::string hv;
  if (m.db->Get(rocksdb::ReadOptions(), m.meta, kMetaHead, &hv).ok()) {
    ChainHead head;
    auto last = Last();
    if (!HeadFromJson(hv, &head)) {
      problem("meta:chain_head", "unreadable");
    } else if (!last.ok()) {
      problem("scan", last.status().message());
    } else if (!last.value() ? head.count != origin.count : !(last.value()->key == head.key)) {
      problem("meta:chain_head",
              "the log ends at " + (last.value() ? KeyToString(last.value()->key) : "its origin") +
                  " but the recorded head is " + KeyToString(head.key) + " after " +
                  std::to_string(head.count) + " records: records were removed or added at the end");
    } else if (last.value()) {
      Hash h{};
      auto gs = stored_hash(head.key, &h);
      if (!gs.ok()) {
        record_problem(head.key, "cannot read the head record: " + gs.ToString());
      } else if (h != head.head) {
        record_problem(head.key, "the last record's chain hash is not the recorded head");
      }
    }
  } else if (auto last = Last(); last.ok() && last.value()) {
    problem("meta:chain_head", "missing although the log has records");
  }
  auto seals = Seals();
  if (!seals.ok()) {
    problem("meta:seals", seals.status().message());
  } else {
    for (const auto& s : seals.value()) {
      if (s.key < origin.key || (origin.count != 0 && s.key == origin.key)) continue;
      ++rep.seals_checked;
      Hash h{};
      auto gs = stored_hash(s.key, &h);
      if (gs.IsNotFound()) {
        record_problem(s.key, "sealed record is missing");
      } else if (!gs.ok()) {
        record_problem(s.key, "cannot read the sealed record: " + gs.ToString());
      } else if (h != s.head) {
        record_problem(s.key, "seal does not match the chain (the sealed record's hash differs)");
      }
    }
  }
  AddLossProblems(m.open_problem, RecordedLosses(), &found);
  rep.problems = Sorted(std::move(found));
  return rep;
}

}  // namespace twin
