#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "eventlog/log.h"
#include "eventlog/synth.h"

namespace twin::testing {

// n events of the synthetic host, reproducible from the seed.
inline std::vector<Event> Synth(size_t n, uint64_t seed = 1) {
  SynthOptions o;
  o.seed = seed;
  SynthGenerator g(o);
  std::vector<Event> v;
  g.Fill(v, n);
  return v;
}

// A fresh temp dir removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twin-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Direct RocksDB access to play the attacker (or the disk) in tamper and corruption tests.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    rocksdb::Options o;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* n : {"default", "events", "snapshots", "meta", "twin"}) cfs.push_back({n, {}});
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(o, dir, cfs, &handles_, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(raw);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  rocksdb::ColumnFamilyHandle* events() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* snapshots() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[3]; }
  std::vector<std::pair<std::string, std::string>> All(rocksdb::ColumnFamilyHandle* cf) {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key().ToString(), it->value().ToString());
    return out;
  }
  void Put(rocksdb::ColumnFamilyHandle* cf, const std::string& k, const std::string& v) {
    ASSERT_TRUE(db_->Put({}, cf, k, v).ok());
  }
  std::optional<std::string> Get(rocksdb::ColumnFamilyHandle* cf, const std::string& k) {
    std::string v;
    if (!db_->Get({}, cf, k, &v).ok()) return std::nullopt;
    return v;
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& k) {
    ASSERT_TRUE(db_->Delete({}, cf, k).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace twin::testing
