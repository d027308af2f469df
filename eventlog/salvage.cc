#include "eventlog/salvage.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <rocksdb/db.h>

#include "eventlog/chain_anchor.h"
#include "eventlog/open_guard.h"
#include "eventlog/rocks_options.h"

namespace twin {

namespace fs = std::filesystem;

namespace {

Status CopyDir(const std::string& src, const std::string& out, SalvageReport* rep) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec) || !fs::is_empty(out, ec)) {
      return Status::InvalidArgument("--out " + out +
                                     " already exists and is not an empty directory; name a new one");
    }
  } else {
    fs::create_directories(out, ec);
    if (ec) return Status::IOError("cannot create --out " + out + ": " + ec.message());
  }
  if (chmod(out.c_str(), 0700) != 0) {
    return Status::IOError("cannot chmod 0700 " + out + ": " + std::strerror(errno));
  }
  for (fs::directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().filename() == "LOCK") continue;
    const fs::path to = fs::path(out) / it->path().filename();
    fs::copy_file(it->path(), to, fs::copy_options::none, ec);
    if (ec) {
      return Status::IOError("cannot copy " + it->path().string() + " to " + to.string() + ": " +
                             ec.message());
    }
    ++rep->files_copied;
    rep->bytes_copied += fs::file_size(to, ec);
  }
  if (ec) return Status::IOError("cannot read " + src + ": " + ec.message());
  return Status::Ok();
}

Status Repair(const std::string& out) {
  rocksdb::Options opts = LogDbOptions();
  opts.create_if_missing = false;
  opts.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  opts.info_log = StderrRocksLogger(opts.info_log_level);
  const auto cfs = LogColumnFamilies(opts);
  rocksdb::Status rs = rocksdb::RepairDB(out, opts, cfs, rocksdb::ColumnFamilyOptions(opts));
  if (!rs.ok()) {
    return Status::Corruption("RocksDB's repair of the copy in " + out + " failed: " + rs.ToString());
  }
  // The repair recreates only the column families that have a table: the log's empty ones (the
  // twin catalogue before any twin ran, meta when it was all in a lost file) come back empty,
  // in the copy only.
  rocksdb::Options create = opts;
  create.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rs = rocksdb::DB::Open(create, out, cfs, &handles, &db);
  if (!rs.ok()) {
    return Status::Corruption("the copy in " + out + " does not open after RocksDB's repair: " +
                              rs.ToString());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  rs = db->Close();
  delete db;
  if (!rs.ok()) return Status::IOError("cannot close the repaired copy in " + out + ": " + rs.ToString());
  return Status::Ok();
}

}  // namespace

Result<SalvageReport> SalvageLog(const std::string& src, const std::string& out) {
  SalvageReport rep;
  std::error_code ec;
  if (!fs::is_directory(src, ec)) {
    return Status::InvalidArgument("--data-dir " + src + " is not a directory");
  }
  if (fs::weakly_canonical(src, ec) == fs::weakly_canonical(out, ec)) {
    return Status::InvalidArgument("--out must be a new directory, not the --data-dir itself");
  }
  auto inspected = InspectDataDir(src);
  if (!inspected.ok()) return inspected.status();
  if (inspected.value().fresh()) {
    return Status::NotFound("no safetytwin event log in " + src + " (nothing to recover)");
  }
  auto anchor = ChainAnchor::Read(src);  // what the log had vouched for, outside RocksDB
  if (Status s = CopyDir(src, out, &rep); !s.ok()) return s;

  // The commonest damage, a lost CURRENT, needs no repair: a MANIFEST is still there. RocksDB's
  // repair would rebuild the log from its tables alone and drop the WAL records of column
  // families that have no table yet, so the newest MANIFEST that opens is tried first.
  if (Status cur = CheckLogDir(out, false); !cur.ok()) {
    std::vector<std::string> manifests;
    for (const auto& t : inspected.value().traces) {
      if (t.starts_with("MANIFEST-")) manifests.push_back(t);
    }
    std::sort(manifests.begin(), manifests.end(), [](const std::string& a, const std::string& b) {
      return std::stoull(a.substr(9)) > std::stoull(b.substr(9));
    });
    for (const auto& m : manifests) {
      { std::ofstream(fs::path(out) / "CURRENT", std::ios::trunc) << m << "\n"; }
      if (EventLog::OpenReader(out).ok()) {
        rep.method = "CURRENT rebuilt to name " + m;
        break;
      }
      fs::remove(fs::path(out) / "CURRENT", ec);
    }
  }
  if (rep.method.empty()) {
    if (Status s = Repair(out); !s.ok()) return s;
    rep.method = "RocksDB's repair (the log rebuilt from its table and WAL files)";
  }
  // RocksDB's repair moves every WAL it replayed into tables, and the MANIFESTs it replaced, to
  // lost/ as well as the tables it could not read: only the latter are a loss.
  for (fs::directory_iterator it(fs::path(out) / "lost", ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool replayed = name.starts_with("MANIFEST-") || name.ends_with(".log");
    (replayed ? rep.replayed_files : rep.unusable_files).push_back(name);
  }
  std::sort(rep.unusable_files.begin(), rep.unusable_files.end());
  std::sort(rep.replayed_files.begin(), rep.replayed_files.end());

  auto log = EventLog::OpenReader(out);
  if (!log.ok()) return log.status();
  const EventLog& l = *log.value();
  rep.verify = l.Verify();
  auto origin_r = l.Origin();
  if (!origin_r.ok()) return origin_r.status();
  const ChainHead origin_head = origin_r.value();
  const uint64_t origin = origin_head.count;  // events retention deleted before the chain's start
  rep.records = rep.verify.records;
  if (auto f = l.First(); f.ok() && f.value()) rep.first = f.value()->key;
  if (auto e = l.Last(); e.ok() && e.value()) rep.last = e.value()->key;
  std::optional<ChainHead> vouched = l.Vouched();
  if (anchor.ok() && anchor.value() && (!vouched || anchor.value()->head.count > vouched->count)) {
    vouched = anchor.value()->head;
  }
  if (vouched) {
    rep.expected_records = vouched->count > origin ? vouched->count - origin : 0;
    rep.expected_last = vouched->key;
  }
  // Each appended record takes the next sequence number: a hole in them is where records were.
  uint64_t next_seq = origin_head.key.seq + 1;
  std::optional<EventKey> prev;
  Status scanned = l.ScanRaw({0, 0}, {UINT64_MAX, UINT64_MAX}, [&](std::string_view key,
                                                                   std::string_view) {
    EventKey k;
    if (!DecodeKey(key, &k)) return true;
    if (k.seq > next_seq) rep.missing_ranges.push_back({next_seq, k.seq - 1, prev, k});
    if (k.seq >= next_seq) next_seq = k.seq + 1;
    prev = k;
    return true;
  });
  if (!scanned.ok()) return scanned;
  if (vouched && vouched->key.seq >= next_seq) {
    rep.missing_ranges.push_back({next_seq, vouched->key.seq, prev, std::nullopt});
  }
  return rep;
}

}  // namespace twin
