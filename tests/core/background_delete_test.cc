// BackgroundDeleteFs: numbered RocksDB files are unlinked on its thread, everything else at once,
// nothing queued is lost at shutdown, and a writer leaves no obsolete file behind.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "eventlog/background_delete.h"
#include "eventlog/compactor.h"
#include "eventlog/log.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

std::set<std::string> FilesWithExtension(const std::string& dir, const std::string& ext) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.insert(e.path().filename().string());
  }
  return out;
}

TEST(BackgroundDelete, NumberedFilesGoOnItsThreadOthersAtOnce) {
  TempDir t;
  auto bg = std::make_shared<BackgroundDeleteFs>(rocksdb::FileSystem::Default());
  const std::vector<std::string> numbered = {t.sub("000007.log"), t.sub("000008.sst"),
                                             t.sub("000009.blob")};
  for (const auto& f : numbered) Touch(f);
  Touch(t.sub("MANIFEST-000010"));
  Touch(t.sub("000011.dbtmp"));

  for (const auto& f : {t.sub("MANIFEST-000010"), t.sub("000011.dbtmp")}) {
    ASSERT_FALSE(BackgroundDeleteFs::Deferred(f)) << f;
    ASSERT_TRUE(bg->DeleteFile(f, rocksdb::IOOptions(), nullptr).ok());
    EXPECT_FALSE(fs::exists(f)) << f << " must be gone when DeleteFile returns";
  }
  for (const auto& f : numbered) {
    ASSERT_TRUE(BackgroundDeleteFs::Deferred(f)) << f;
    ASSERT_TRUE(bg->DeleteFile(f, rocksdb::IOOptions(), nullptr).ok());
  }
  bg->Drain();
  for (const auto& f : numbered) EXPECT_FALSE(fs::exists(f)) << f;

  // Errors: a missing file that is deleted at once reports it; a queued one that is already gone
  // (RocksDB deleting a file twice) is not an error and does not stall the queue.
  EXPECT_TRUE(bg->DeleteFile(t.sub("MANIFEST-000099"), rocksdb::IOOptions(), nullptr)
                  .IsPathNotFound());
  EXPECT_TRUE(bg->DeleteFile(t.sub("000100.sst"), rocksdb::IOOptions(), nullptr).ok());
  Touch(t.sub("000101.sst"));
  EXPECT_TRUE(bg->DeleteFile(t.sub("000101.sst"), rocksdb::IOOptions(), nullptr).ok());
  bg->Drain();
  EXPECT_FALSE(fs::exists(t.sub("000101.sst")));
  // Names that only look alike are not deferred.
  EXPECT_FALSE(BackgroundDeleteFs::Deferred(t.sub("LOG")));
  EXPECT_FALSE(BackgroundDeleteFs::Deferred(t.sub("LOG.old.1700000000")));
  EXPECT_FALSE(BackgroundDeleteFs::Deferred(".log"));
}

TEST(BackgroundDelete, ShutdownUnlinksEverythingQueued) {
  TempDir t;
  std::vector<std::string> files;
  for (int i = 0; i < 200; ++i) {
    files.push_back(t.sub(std::to_string(1000 + i) + (i % 2 ? ".sst" : ".log")));
    Touch(files.back());
  }
  {
    BackgroundDeleteFs bg(rocksdb::FileSystem::Default());
    for (const auto& f : files) ASSERT_TRUE(bg.DeleteFile(f, rocksdb::IOOptions(), nullptr).ok());
  }
  for (const auto& f : files) EXPECT_FALSE(fs::exists(f)) << f;
}

// After retention compacts old intervals away, the tables on disk are exactly the ones RocksDB
// still uses once the writer has closed: every obsolete one was unlinked, none too early.
TEST(BackgroundDelete, WriterLeavesOnlyLiveTablesAfterRetention) {
  TempDir t;
  std::set<std::string> before;
  {
    auto log = std::move(EventLog::OpenWriter(t.path()).value());
    Compactor c(*log);
    SynthGenerator g(SynthOptions{});
    std::vector<Event> batch;
    // Two rounds: the first retention flushes and compacts tables into being, the second
    // compacts those away again.
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 8; ++i) {
        g.Fill(batch, 2000);
        ASSERT_TRUE(log->Append(batch).ok());
        ASSERT_TRUE(c.RunOnce(g.now_ns()).ok());
      }
      if (round == 1) before = FilesWithExtension(t.path(), ".sst");
      auto deleted = log->ApplyRetention(0, log->ApproximateSizeBytes() / 3, g.now_ns());
      ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
      ASSERT_GT(deleted.value(), 0u);
    }
  }
  const auto on_disk = FilesWithExtension(t.path(), ".sst");
  std::vector<std::string> gone;
  std::set_difference(before.begin(), before.end(), on_disk.begin(), on_disk.end(),
                      std::back_inserter(gone));
  EXPECT_FALSE(gone.empty()) << "retention made no table obsolete; the test proves nothing";

  rocksdb::Options o;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* n : {"default", "events", "snapshots", "meta", "twin"}) cfs.push_back({n, {}});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(o, t.path(), cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<rocksdb::LiveFileMetaData> live;
  db->GetLiveFilesMetaData(&live);
  std::set<std::string> live_tables;
  for (const auto& f : live) {
    if (fs::path(f.name).extension() == ".sst") live_tables.insert(fs::path(f.name).filename());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  EXPECT_EQ(on_disk, live_tables);
}

}  // namespace
}  // namespace twin
