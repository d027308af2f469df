#include "eventlog/wal_recovery.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

namespace twin {

namespace fs = std::filesystem;

RecoveryLogger::RecoveryLogger(std::shared_ptr<rocksdb::Logger> inner)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), inner_(std::move(inner)) {}

void RecoveryLogger::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void RecoveryLogger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  char buf[2048];
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(buf, sizeof(buf), format, copy);
  va_end(copy);
  // The regex only where the words are: every open logs ~1,000 option lines (the regex on
  // each of them was ~8% of a twin-replay command's CPU).
  if (n > 0 && std::strstr(buf, ": dropping ") != nullptr) {
    // db_impl_open.cc's LogReporter: "<file>: dropping <n> bytes; <status>".
    static const std::regex kDrop(R"(([^ \]]*\.log): dropping ([0-9]+) bytes; (.*))");
    std::cmatch m;
    if (std::regex_search(buf, m, kDrop)) {
      std::lock_guard<std::mutex> l(mu_);
      drops_.push_back({fs::path(m[1].str()).filename().string(), std::stoull(m[2].str()),
                        m[3].str()});
    }
  }
  if (inner_ && level >= inner_->GetInfoLogLevel()) inner_->Logv(level, format, ap);
}

std::vector<WalDrop> RecoveryLogger::drops() const {
  std::lock_guard<std::mutex> l(mu_);
  return drops_;
}

namespace {
uint64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

WalKeeper WalKeeper::Link(const std::string& dir) {
  WalKeeper k;
  k.dir_ = dir;
  k.keep_ = dir + "/.wal-keep";
  std::error_code ec;
  // Left by an open that did not finish: keep it, it may hold the only copy of a damaged WAL.
  if (fs::exists(k.keep_, ec)) fs::rename(k.keep_, dir + "/wal-kept-" + std::to_string(NowNs()), ec);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".log" || !it->is_regular_file()) continue;
    if (!k.linked_) {
      fs::create_directory(k.keep_, ec);
      if (ec) return k;
      k.linked_ = true;
    }
    std::error_code lec;
    fs::create_hard_link(it->path(), fs::path(k.keep_) / it->path().filename(), lec);
  }
  return k;
}

std::string WalKeeper::Keep() {
  if (!linked_) return "";
  const std::string to = dir_ + "/damaged-wal-" + std::to_string(NowNs());
  std::error_code ec;
  fs::rename(keep_, to, ec);
  linked_ = false;
  return ec ? keep_ : to;
}

void WalKeeper::Discard() {
  if (!linked_) return;
  std::error_code ec;
  fs::remove_all(keep_, ec);
  linked_ = false;
}

std::string LossReport::Describe() const {
  std::string out;
  if (lost_records) {
    out = std::to_string(lost_records) + " records after key " + KeyToString(log_head.key) +
          " are missing (the chain anchor vouched for " + std::to_string(anchor->head.count) +
          " records up to key " + KeyToString(anchor->head.key) + ", the log holds " +
          std::to_string(log_head.count) + ")";
  } else if (anchor_mismatch) {
    out = "the record at key " + KeyToString(anchor->head.key) +
          " that the chain anchor vouched for is missing or different";
  } else if (!anchor_problem.empty()) {
    out = anchor_problem + ", so whether records were cut from the end of the log is not known";
  } else {
    out = "no record the chain anchor vouched for is missing";
  }
  for (const auto& d : drops) {
    out += "; RocksDB dropped " + std::to_string(d.bytes) + " bytes of WAL " + d.file + " (" +
           d.cause + ")";
  }
  if (!kept_dir.empty()) out += "; copies of the damaged WAL files are in " + kept_dir;
  return out;
}

std::string LossReport::ToJson() const {
  nlohmann::json drops_j = nlohmann::json::array();
  for (const auto& d : drops) drops_j.push_back({{"file", d.file}, {"bytes", d.bytes}, {"cause", d.cause}});
  nlohmann::json j = {{"after_ts_ns", log_head.key.ts_ns}, {"after_seq", log_head.key.seq},
                      {"after_count", log_head.count},   {"lost", lost_records},
                      {"mismatch", anchor_mismatch},     {"drops", drops_j},
                      {"kept", kept_dir},                {"detected_ns", detected_ns},
                      {"anchor_problem", anchor_problem}};
  if (anchor) {
    j["anchor_ts_ns"] = anchor->head.key.ts_ns;
    j["anchor_seq"] = anchor->head.key.seq;
    j["anchor_count"] = anchor->head.count;
    j["anchor_hash"] = HashHex(anchor->head.head);
  }
  return j.dump();
}

std::optional<LossReport> LossReport::FromJson(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    LossReport r;
    r.log_head.key = {j.at("after_ts_ns").get<uint64_t>(), j.at("after_seq").get<uint64_t>()};
    r.log_head.count = j.at("after_count").get<uint64_t>();
    r.lost_records = j.at("lost").get<uint64_t>();
    r.anchor_mismatch = j.value("mismatch", false);
    r.kept_dir = j.value("kept", std::string());
    r.anchor_problem = j.value("anchor_problem", std::string());
    r.detected_ns = j.value("detected_ns", uint64_t{0});
    for (const auto& d : j.at("drops")) {
      r.drops.push_back({d.at("file").get<std::string>(), d.at("bytes").get<uint64_t>(),
                         d.at("cause").get<std::string>()});
    }
    if (j.contains("anchor_count")) {
      AnchorRecord a;
      a.head.key = {j.at("anchor_ts_ns").get<uint64_t>(), j.at("anchor_seq").get<uint64_t>()};
      a.head.count = j.at("anchor_count").get<uint64_t>();
      r.anchor = a;  // the hash is for people; the check was made when the loss was found
    }
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string LossMetaKey(const LossReport& r) { return kLossPrefix + EncodeKey(r.log_head.key); }

}  // namespace twin

namespace twin {

LossReport AssessLoss(const ChainHead& head, const ChainHead& origin,
                      const std::optional<AnchorRecord>& anchor, std::vector<WalDrop> drops,
                      const std::function<std::optional<Hash>(const EventKey&)>& record_hash) {
  LossReport r;
  r.log_head = head;
  r.anchor = anchor;
  r.drops = std::move(drops);
  r.detected_ns = NowNs();
  if (!anchor || anchor->head.count == 0) return r;
  const ChainHead& a = anchor->head;
  if (a.count > head.count) {
    r.lost_records = a.count - head.count;
  } else if (!(a.key < origin.key) && !(origin.count != 0 && a.key == origin.key)) {
    // The anchor lags the log by design (it is written after each batch); the record it names
    // must still be there, with the hash it recorded.
    auto h = record_hash(a.key);
    r.anchor_mismatch = !h || *h != a.head;
  }
  return r;
}

}  // namespace twin
