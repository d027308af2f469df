// The log's promise under real damage to its files: nothing disappears without a refusal that
// says what to do, a gap that tells the truth, or a verify failure naming what is gone.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/log.h"
#include "eventlog/salvage.h"
#include "eventlog/wal_recovery.h"
#include "tests/common/replay_run.h"
#include "tests/core/fault_test_util.h"
#include "tests/core/test_util.h"

namespace twin {
namespace {

using testing::Fingerprint;
using testing::Synth;
using testing::TempDir;

// A closed log of n events in dir, flushed to tables (so deleting CURRENT leaves real history).
void MakeLog(const std::string& dir, size_t n) {
  auto w = EventLog::OpenWriter(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto events = Synth(n);
  for (size_t i = 0; i < n; i += 500) {
    ASSERT_TRUE((*w)->Append(std::span(events).subspan(i, std::min<size_t>(500, n - i))).ok());
  }
  ASSERT_TRUE((*w)->Sync().ok());
}

// The writer of MakeLogInWal, run as a process of its own: this binary again (exec'd, not only
// forked: a fork of a process whose RocksDB thread pools are running can deadlock in the child).
// Without the environment it is a no-op.
TEST(DurabilityHelper, WriteLogInWalAndDie) {
  const char* dir = getenv("TWIN_HELPER_DIR");
  const char* n_text = getenv("TWIN_HELPER_N");
  if (!dir || !n_text) return;
  const size_t n = std::stoul(n_text);
  auto w = EventLog::OpenWriter(dir);
  if (!w.ok()) _exit(3);
  auto events = Synth(n);
  for (size_t i = 0; i < n; i += 100) {
    if (!(*w)->Append(std::span(events).subspan(i, std::min<size_t>(100, n - i))).ok()) _exit(4);
  }
  if (!(*w)->Sync().ok()) _exit(5);
  _exit(0);  // no close: the events stay in the WAL, as after kill -9
}

// n events written and synced by a writer process that then dies without closing (as after
// kill -9): the events are in the WAL only, whatever a clean close would flush.
void MakeLogInWal(const std::string& dir, size_t n) {
  std::string env_dir = "TWIN_HELPER_DIR=" + dir;
  std::string env_n = "TWIN_HELPER_N=" + std::to_string(n);
  std::string filter = "--gtest_filter=DurabilityHelper.WriteLogInWalAndDie";
  std::string self = "/proc/self/exe";
  char* argv[] = {self.data(), filter.data(), nullptr};
  char* envp[] = {env_dir.data(), env_n.data(), nullptr};
  pid_t child = -1;
  ASSERT_EQ(posix_spawn(&child, self.c_str(), nullptr, nullptr, argv, envp), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_FALSE(testing::NewestWal(dir).empty()) << "the events did not stay in the WAL";
}

std::string Problems(const VerifyReport& r) {
  std::string s;
  for (const auto& p : r.problems) s += p.key + ": " + p.what + "\n";
  return s;
}

TEST(OpenGuard, MissingCurrentIsRefusedByWriterAndReaderAndNothingIsTouched) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 3000);
  ASSERT_TRUE(std::filesystem::remove(dir + "/CURRENT"));
  const auto before = Fingerprint(dir);
  // The unit restarts twind after a failure: every start must refuse, not only the first.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto w = EventLog::OpenWriter(dir);
    ASSERT_FALSE(w.ok()) << "a writer opened a log whose CURRENT is gone";
    EXPECT_EQ(w.status().code(), Status::Code::kCorruption);
    const std::string msg = w.status().message();
    EXPECT_NE(msg.find("CURRENT file is missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("twin-replay recover --data-dir " + dir), std::string::npos) << msg;
    EXPECT_NE(msg.find("nothing in it was written or deleted"), std::string::npos) << msg;
  }
  auto r = EventLog::OpenReader(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CURRENT file is missing"), std::string::npos);
  EXPECT_EQ(Fingerprint(dir), before) << "the refusal changed the data dir";
}

TEST(OpenGuard, AnyTraceOfALogWithoutCurrentIsRefused) {
  for (const char* trace : {"IDENTITY", "MANIFEST-000001", "OPTIONS-000007", "000012.log",
                            "000016.sst", "CHAIN_ANCHOR"}) {
    TempDir t;
    { std::ofstream(t.sub(trace)) << "x"; }
    auto w = EventLog::OpenWriter(t.path());
    EXPECT_FALSE(w.ok()) << trace << " alone did not stop a new log being created over it";
    EXPECT_FALSE(std::filesystem::exists(t.sub("CURRENT"))) << trace;
  }
}

TEST(OpenGuard, CurrentNamingAMissingManifestIsRefused) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 100);
  { std::ofstream(dir + "/CURRENT", std::ios::trunc) << "MANIFEST-999999\n"; }
  const auto before = Fingerprint(dir);
  auto w = EventLog::OpenWriter(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("names MANIFEST-999999, which is missing"), std::string::npos)
      << w.status().message();
  EXPECT_EQ(Fingerprint(dir), before);
}

TEST(OpenGuard, AnEmptyOrUnrelatedDirStillBecomesANewLog) {
  TempDir t;
  { std::ofstream(t.sub("README")) << "not a log file"; }
  auto w = EventLog::OpenWriter(t.path());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(t.sub("CURRENT")));
}

TEST(Recover, SalvagesALogWithoutCurrentIntoANewDirAndLeavesTheOriginal) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 3000);
  ASSERT_TRUE(std::filesystem::remove(dir + "/CURRENT"));
  const auto before = Fingerprint(dir);
  auto rep = SalvageLog(dir, t.sub("out"));
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_EQ(Fingerprint(dir), before) << "recover changed the original";
  EXPECT_EQ(rep->records, 3000u);
  ASSERT_TRUE(rep->expected_records.has_value());
  EXPECT_EQ(*rep->expected_records, 3000u);
  EXPECT_EQ(rep->missing(), 0u);
  EXPECT_TRUE(rep->verify.ok()) << rep->verify.problems.front().what;
  auto log = EventLog::OpenReader(t.sub("out"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->Head().count, 3000u);
}

TEST(Recover, RefusesAnExistingOutDir) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 10);
  { std::ofstream(t.sub("file")) << "x"; }
  auto rep = SalvageLog(dir, t.path());
  ASSERT_FALSE(rep.ok());
  EXPECT_EQ(rep.status().code(), Status::Code::kInvalidArgument);
}

TEST(Recover, CliReportsWhatWasSalvaged) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 1000);
  ASSERT_TRUE(std::filesystem::remove(dir + "/CURRENT"));
  auto refused = testing::Replay(t, "info --data-dir " + dir);
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.err.find("twin-replay recover"), std::string::npos) << refused.err;
  auto r = testing::Replay(t, "recover --data-dir " + dir + " --out " + t.sub("out"));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("salvaged 1000 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK: the salvaged log is complete"), std::string::npos) << r.out;
  auto v = testing::Replay(t, "verify --data-dir " + t.sub("out"));
  EXPECT_EQ(v.code, 0) << v.out << v.err;
}

// The WAL damage cases: cut in half, or 64 bytes flipped in its middle.
enum class WalFault { kCut, kFlip };

void Damage(const std::string& dir, WalFault f) {
  const std::string wal = testing::NewestWal(dir);
  const uint64_t size = std::filesystem::file_size(wal);
  if (f == WalFault::kCut) testing::TruncateTo(wal, size / 2);
  else testing::FlipBytes(wal, size / 2, 64);
}

class WalDamage : public ::testing::TestWithParam<WalFault> {};

TEST_P(WalDamage, VerifyCountsTheMissingRecordsAndReadersRefuse) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLogInWal(dir, 3000);
  Damage(dir, GetParam());
  auto log = EventLog::OpenReader(dir);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const uint64_t kept = (*log)->Head().count;
  ASSERT_LT(kept, 3000u) << "the damage cost nothing; the test did not damage the WAL";
  std::cout << "WAL " << (GetParam() == WalFault::kCut ? "cut in half" : "64 bytes flipped")
            << ": " << 3000 - kept << " of 3000 records lost" << std::endl;
  const std::string missing = std::to_string(3000 - kept) + " records after key " +
                              KeyToString((*log)->Head().key) + " are missing";
  EXPECT_NE((*log)->OpenProblem().message().find(missing), std::string::npos)
      << (*log)->OpenProblem().ToString();
  VerifyReport v = (*log)->Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_NE(Problems(v).find(missing), std::string::npos) << Problems(v);

  auto ev = testing::Replay(t, "events --data-dir " + dir);
  EXPECT_NE(ev.code, 0);
  EXPECT_NE(ev.err.find(missing), std::string::npos) << ev.err;
  EXPECT_EQ(ev.out.find("exec"), std::string::npos) << "events printed from a damaged log";
  auto vr = testing::Replay(t, "verify --data-dir " + dir);
  EXPECT_EQ(vr.code, 1);
  EXPECT_NE(vr.out.find(missing), std::string::npos) << vr.out;
}

TEST_P(WalDamage, TheWriterRecordsTheLossKeepsTheWalAndVerifyStillFails) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLogInWal(dir, 3000);
  Damage(dir, GetParam());
  const std::string wal_name = std::filesystem::path(testing::NewestWal(dir)).filename();
  uint64_t kept = 0;
  {
    auto w = EventLog::OpenWriter(dir);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    const LossReport* loss = (*w)->LossFoundAtOpen();
    ASSERT_NE(loss, nullptr) << "the writer opened a damaged log without noticing";
    kept = (*w)->Head().count;
    EXPECT_EQ(loss->lost_records, 3000 - kept);
    ASSERT_TRUE(loss->anchor.has_value());
    EXPECT_EQ(loss->anchor->head.count, 3000u);
    if (GetParam() == WalFault::kFlip) {
      ASSERT_FALSE(loss->drops.empty()) << "RocksDB's drop was not surfaced";
      EXPECT_EQ(loss->drops[0].file, wal_name);
    }
    ASSERT_FALSE(loss->kept_dir.empty());
    EXPECT_TRUE(std::filesystem::exists(loss->kept_dir + "/" + wal_name)) << loss->kept_dir;
    auto more = Synth(10, 7);
    ASSERT_TRUE((*w)->Append(more).ok());
  }
  // Once recorded, readers answer again (the gap twind writes makes the state uncertain) ...
  auto log = EventLog::OpenReader(dir);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->OpenProblem().ok()) << (*log)->OpenProblem().ToString();
  ASSERT_EQ((*log)->RecordedLosses().size(), 1u);
  // ... but verify never vouches for the log again: the records are gone.
  VerifyReport v = (*log)->Verify();
  EXPECT_FALSE(v.ok());
  EXPECT_NE(Problems(v).find(std::to_string(3000 - kept) + " records after key"), std::string::npos)
      << Problems(v);
  // A second writer open does not record the same loss twice.
  { auto w = EventLog::OpenWriter(dir); ASSERT_TRUE(w.ok()); EXPECT_EQ((*w)->LossFoundAtOpen(), nullptr); }
}

INSTANTIATE_TEST_SUITE_P(CutAndFlip, WalDamage, ::testing::Values(WalFault::kCut, WalFault::kFlip),
                         [](const auto& info) {
                           return info.param == WalFault::kCut ? std::string("Cut") : std::string("Flip");
                         });

TEST(ChainAnchor, ACleanCrashCostsNothingAndRaisesNoAlarm) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLogInWal(dir, 3000);
  auto w = EventLog::OpenWriter(dir);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->LossFoundAtOpen(), nullptr);
  EXPECT_EQ((*w)->Head().count, 3000u);
  EXPECT_TRUE((*w)->Verify().ok());
}

TEST(ChainAnchor, ReadersOpeningWhileTheWriterAppendsNeverSeeALoss) {
  TempDir t;
  const std::string dir = t.sub("data");
  auto w = EventLog::OpenWriter(dir);
  ASSERT_TRUE(w.ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto events = Synth(50);
    while (!stop) {
      ASSERT_TRUE((*w)->Append(events).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int i = 0; i < 20; ++i) {
    auto r = EventLog::OpenReader(dir);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE((*r)->OpenProblem().ok()) << (*r)->OpenProblem().ToString();
  }
  stop = true;
  writer.join();
}

TEST(ChainAnchor, ADeletedAnchorIsAFinding) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 100);
  ASSERT_TRUE(std::filesystem::remove(dir + "/CHAIN_ANCHOR"));
  auto log = EventLog::OpenReader(dir);
  ASSERT_TRUE(log.ok());
  EXPECT_NE((*log)->OpenProblem().message().find("chain anchor"), std::string::npos);
  EXPECT_FALSE((*log)->Verify().ok());
}

// --- Certainty: a gap is recorded after the loss it describes. ---

Event Exec(uint64_t ts, int32_t pid) {
  Event e;
  e.kind = EventKind::kProcessExec;
  e.ts_ns = ts;
  e.pid = pid;
  e.start_ns = ts;
  e.exe = "/bin/true";
  e.argv = {"/bin/true"};
  return e;
}

Event Gap(uint64_t ts, uint64_t start, uint64_t end, uint64_t lost) {
  Event g;
  g.kind = EventKind::kGap;
  g.ts_ns = ts;
  g.gap_start_ns = start;
  g.gap_end_ns = end;
  g.lost = lost;
  g.reason = "test";
  return g;
}

Event ResyncComplete(uint64_t ts) {
  Event r;
  r.kind = EventKind::kResync;
  r.ts_ns = ts;
  r.resync_op = ResyncOp::kComplete;
  return r;
}

TEST(Certainty, StateInsideAGapRecordedLaterIsUncertain) {
  TempDir t;
  auto w = EventLog::OpenWriter(t.path());
  ASSERT_TRUE(w.ok());
  // Loss between 150 and 400, found and recorded at 500 (as twind records a downtime at restart
  // or ring-buffer drops at its next check).
  std::vector<Event> ev = {Exec(100, 1), Exec(200, 2), Gap(500, 150, 400, 7),
                           ResyncComplete(600), Exec(700, 3)};
  ASSERT_TRUE((*w)->Append(ev).ok());
  for (auto* at : {&StateAt, &StateAtByFullFold}) {
    auto mid = at(**w, 300);
    ASSERT_TRUE(mid.ok());
    EXPECT_TRUE(mid->uncertain) << "state in the gap, before the gap was recorded, said certain";
    EXPECT_EQ(mid->uncertain_since_ns, 150u);
    auto before = at(**w, 120);
    ASSERT_TRUE(before.ok());
    EXPECT_FALSE(before->uncertain);
    auto after_end = at(**w, 450);  // after the loss, before its record: nothing was lost here
    ASSERT_TRUE(after_end.ok());
    EXPECT_FALSE(after_end->uncertain);
    auto resynced = at(**w, 800);
    ASSERT_TRUE(resynced.ok());
    EXPECT_FALSE(resynced->uncertain);
  }
}

// The look-ahead reads only gaps that start after T - gap_max_lag: a downtime recorded long after
// it began still covers T behind hundreds of short gaps, in this process and in a fresh reader,
// and on a log from before the bound (meta:gap_max_lag missing: the whole index is read, and
// the next writer measures it again).
TEST(Certainty, ALateRecordedGapIsFoundBehindManyShortOnes) {
  TempDir t;
  const std::string dir = t.sub("data");
  const uint64_t s = 1'000'000'000;
  {
    auto w = EventLog::OpenWriter(dir);
    ASSERT_TRUE(w.ok());
    std::vector<Event> ev = {Exec(1 * s, 1)};
    for (uint64_t i = 0; i < 500; ++i) ev.push_back(Gap(10 * s + i * s, 10 * s + i * s - 1000, 10 * s + i * s, 1));
    ASSERT_TRUE((*w)->Append(ev).ok());
    auto certain = StateAt(**w, 5 * s);
    ASSERT_TRUE(certain.ok());
    EXPECT_FALSE(certain->uncertain);
    // Down from 2 s to 900 s, recorded at restart.
    ASSERT_TRUE((*w)->Append(std::vector<Event>{Gap(900 * s, 2 * s, 900 * s, 0), ResyncComplete(901 * s)}).ok());
    auto in_downtime = StateAt(**w, 5 * s);
    ASSERT_TRUE(in_downtime.ok());
    EXPECT_TRUE(in_downtime->uncertain) << "the writer's own look-ahead missed the late gap";
    EXPECT_EQ(in_downtime->uncertain_since_ns, 2 * s);
  }
  auto check = [&](const char* what) {
    auto r = EventLog::OpenReader(dir);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto st = StateAt(**r, 5 * s);
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE(st->uncertain) << what;
    auto before = StateAt(**r, 1 * s + 1);
    ASSERT_TRUE(before.ok());
    EXPECT_FALSE(before->uncertain) << what;
  };
  check("a fresh reader");
  {
    testing::RawDb raw(dir);
    auto v = raw.Get(raw.meta(), "gap_max_lag");
    ASSERT_TRUE(v.has_value());
    uint64_t lag = 0;
    for (unsigned char c : *v) lag = (lag << 8) | c;
    EXPECT_EQ(lag, 898 * s);
    raw.Delete(raw.meta(), "gap_max_lag");
  }
  check("a log without the bound");
  { auto w = EventLog::OpenWriter(dir); ASSERT_TRUE(w.ok()); }
  {
    testing::RawDb raw(dir);
    auto v = raw.Get(raw.meta(), "gap_max_lag");
    ASSERT_TRUE(v.has_value()) << "the writer did not measure the bound again";
    uint64_t lag = 0;
    for (unsigned char c : *v) lag = (lag << 8) | c;
    EXPECT_EQ(lag, 898 * s);
  }
  check("after the writer measured the bound");
}

TEST(Certainty, AnOpenGapCoversEverythingUntilTheGapThatClosesIt) {
  TempDir t;
  auto w = EventLog::OpenWriter(t.path());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(std::vector<Event>{Exec(100, 1), Gap(1000, 1000, 0, 0)}).ok());
  auto open = StateAt(**w, 5000);
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->uncertain);
  ASSERT_TRUE((*w)->Append(std::vector<Event>{Gap(2000, 1000, 2000, 42), ResyncComplete(2100)}).ok());
  auto inside = StateAt(**w, 1500);
  ASSERT_TRUE(inside.ok());
  EXPECT_TRUE(inside->uncertain);
  auto after = StateAt(**w, 2500);
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->uncertain) << "the closed gap still covered a later time";
}

TEST(Certainty, AnOpenGapIsPrintedAsOpenAndAnUnknownCountAsUnknown) {
  TempDir t;
  {
    auto w = EventLog::OpenWriter(t.sub("data"));
    ASSERT_TRUE(w.ok());
    const uint64_t base = 1'764'000'000'000'000'000ull;  // 2025-11-24
    Event down = Gap(base + 3000, base + 2000, base + 2500, 0);
    down.attrs = {{"lost_count", "unknown"}};
    ASSERT_TRUE(
        (*w)->Append(std::vector<Event>{Gap(base + 1000, base + 1000, 0, 0), down}).ok());
  }
  auto r = testing::Replay(t, "events --kind gap --data-dir " + t.sub("data"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(".. (open)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("1970-01-01T00:00:00"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lost=unknown"), std::string::npos) << r.out;
}

// --- Every reader reports corruption the same way. ---

// A log whose events are in a table file: written, then opened once more (the open flushes the
// WAL's records into a table).
std::string MakeLogInTable(const std::string& dir, size_t n) {
  MakeLogInWal(dir, n);
  { auto w = EventLog::OpenWriter(dir); EXPECT_TRUE(w.ok()) << w.status().ToString(); }
  // The biggest table holds the events.
  std::string best;
  for (const auto& p : testing::FilesEndingWith(dir, ".sst")) {
    if (best.empty() || std::filesystem::file_size(p) > std::filesystem::file_size(best)) best = p;
  }
  EXPECT_FALSE(best.empty()) << "no table was written";
  return best;
}

TEST(Recover, ADeletedTableIsSalvagedAroundAndTheHoleIsNamed) {
  TempDir t;
  const std::string dir = t.sub("data");
  const std::string first = MakeLogInTable(dir, 3000);  // records 1 .. 3000
  MakeLogInWal(dir, 1000);                               // 3001 .. 4000, in the WAL ...
  { auto w = EventLog::OpenWriter(dir); ASSERT_TRUE(w.ok()) << w.status().ToString(); }  // ... a table
  ASSERT_TRUE(std::filesystem::remove(first));
  const auto before = Fingerprint(dir);
  auto rep = SalvageLog(dir, t.sub("out"));
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_EQ(Fingerprint(dir), before) << "recover changed the original";
  EXPECT_EQ(rep->records, 1000u);
  EXPECT_EQ(rep->missing(), 3000u);
  ASSERT_EQ(rep->missing_ranges.size(), 1u);
  const MissingRange& hole = rep->missing_ranges[0];
  EXPECT_EQ(hole.first_seq, 1u);
  EXPECT_EQ(hole.last_seq, 3000u);
  EXPECT_FALSE(hole.after.has_value());
  ASSERT_TRUE(hole.before.has_value());
  EXPECT_EQ(hole.before->seq, 3001u);
  EXPECT_TRUE(rep->unusable_files.empty()) << rep->unusable_files.front();
  EXPECT_FALSE(rep->verify.ok()) << "the salvaged log verified although 3000 records are gone";
  auto log = EventLog::OpenReader(t.sub("out"));
  ASSERT_TRUE(log.ok()) << log.status().ToString();

  auto r = testing::Replay(t, "recover --data-dir " + dir + " --out " + t.sub("out2"));
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("LOST: records 1 .. 3000 (3000), at the start of the log"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("INCOMPLETE"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("LOST: MANIFEST"), std::string::npos) << "a replayed MANIFEST called lost\n"
                                                            << r.out;
}

void ExpectEveryReaderRefuses(const TempDir& t, const std::string& dir, const std::string& names) {
  for (const char* cmd : {"info", "state --at now", "events", "diff 2020-01-01T00:00:00Z now",
                          "export --format timesketch --out -"}) {
    auto r = testing::Replay(t, std::string(cmd) + " --data-dir " + dir);
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find(names), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("twin-replay verify"), std::string::npos) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("twin-replay recover"), std::string::npos) << cmd << ": " << r.err;
    EXPECT_EQ(r.err.find("Corruption: Corruption"), std::string::npos) << r.err;
  }
  auto v = testing::Replay(t, "verify --data-dir " + dir);
  EXPECT_EQ(v.code, 1) << v.out << v.err;
}

TEST(ReaderReports, ADeletedTableIsNamedAsItIsInTheDir) {
  TempDir t;
  const std::string dir = t.sub("data");
  const std::string table = MakeLogInTable(dir, 3000);
  ASSERT_TRUE(std::filesystem::remove(table));
  const std::string name = std::filesystem::path(table).filename();
  const auto before = Fingerprint(dir);
  auto w = EventLog::OpenWriter(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("table file " + dir + "/" + name), std::string::npos)
      << w.status().message();
  EXPECT_EQ(w.status().message().find(".ldb,"), std::string::npos);
  EXPECT_EQ(Fingerprint(dir), before);
  ExpectEveryReaderRefuses(t, dir, name);
}

TEST(ReaderReports, FlippedTableBytesAreReportedByEveryReaderAndRefusedByTheWriter) {
  TempDir t;
  const std::string dir = t.sub("data");
  const std::string table = MakeLogInTable(dir, 3000);
  testing::FlipBytes(table, std::filesystem::file_size(table) / 3, 64);
  const std::string name = std::filesystem::path(table).filename();
  auto w = EventLog::OpenWriter(dir);
  ASSERT_FALSE(w.ok()) << "the writer opened a log with a damaged table";
  EXPECT_NE(w.status().message().find(name), std::string::npos) << w.status().message();
  // info is a summary that reads the first and last records only, and says it checked nothing
  // more; verify --quick reads every table block.
  auto info = testing::Replay(t, "info --data-dir " + dir);
  EXPECT_NE(info.out.find("not checked by info"), std::string::npos) << info.out << info.err;
  auto quick = testing::Replay(t, "verify --quick --data-dir " + dir);
  EXPECT_EQ(quick.code, 1) << quick.out << quick.err;
  EXPECT_NE((quick.out + quick.err).find(name), std::string::npos) << quick.out << quick.err;
  EXPECT_EQ((quick.out + quick.err).find("OK"), std::string::npos) << quick.out;
  auto ev = testing::Replay(t, "events --data-dir " + dir);
  EXPECT_EQ(ev.code, 1);
  EXPECT_NE(ev.err.find("twin-replay verify"), std::string::npos) << ev.err;
}

TEST(ReaderReports, AnEditedRecordIsNeverPrintedAsGood) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 200);
  {
    // As `ldb put` would: the 100th record's argv rewritten, its stored chain hash kept.
    testing::RawDb raw(dir);
    auto all = raw.All(raw.events());
    ASSERT_GE(all.size(), 100u);
    auto [key, value] = all[99];
    auto log_event = Synth(200)[99];
    log_event.kind = EventKind::kProcessExec;
    log_event.argv = {"/bin/forged-argv"};
    const std::string rec = EncodeEventToString(log_event);
    raw.Put(raw.events(), key, value.substr(0, 32) + rec);
  }
  auto ev = testing::Replay(t, "events --data-dir " + dir);
  EXPECT_EQ(ev.code, 1) << ev.err;
  EXPECT_EQ(ev.out.find("forged-argv"), std::string::npos) << "the forged record was printed";
  EXPECT_NE(ev.err.find("chain hash mismatch"), std::string::npos) << ev.err;
  auto ex = testing::Replay(t, "export --format timesketch --out - --data-dir " + dir);
  EXPECT_EQ(ex.code, 1) << ex.err;
  EXPECT_EQ(ex.out.find("forged-argv"), std::string::npos) << "the forged record was exported";
  auto since = testing::Replay(t, "events --data-dir " + dir + " --since " +
                                      std::to_string(Synth(200)[99].ts_ns));
  EXPECT_EQ(since.code, 1) << "a scan starting at the forged record showed it";
  EXPECT_EQ(since.out.find("forged-argv"), std::string::npos);
  const std::string first = std::to_string(Synth(200)[0].ts_ns);
  for (const std::string& cmd : {std::string("state --at now"), std::string("state --json --at now"),
                                 "diff " + first + " now"}) {
    auto st = testing::Replay(t, cmd + " --data-dir " + dir);
    EXPECT_EQ(st.out.find("forged-argv"), std::string::npos) << cmd << " printed the forged record\n"
                                                             << st.out;
    EXPECT_EQ(st.code, 1) << cmd << ": " << st.err;
    EXPECT_NE(st.err.find("chain hash mismatch"), std::string::npos) << cmd << ": " << st.err;
  }
}

// verify --quick: OK on a sound log; finds the records removed at the end (the recorded head
// names a record that is gone) and a seal whose record's hash was rewritten; an argv rewritten
// with its stored hash kept is only found by the full verify (the documented limit).
TEST(QuickVerify, FindsATruncatedEndAndAForgedSealButLeavesRecordEditsToVerify) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 2000);
  auto ok = testing::Replay(t, "verify --quick --data-dir " + dir);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK (quick)"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("after 2000 records"), std::string::npos) << ok.out;
  auto js = testing::Replay(t, "verify --quick --json --data-dir " + dir);
  EXPECT_EQ(js.code, 0) << js.err;
  EXPECT_NE(js.out.find("\"quick\":true"), std::string::npos) << js.out;
  auto both = testing::Replay(t, "verify --quick --key twinvk1:00 --data-dir " + dir);
  EXPECT_EQ(both.code, 2) << both.out << both.err;
  EXPECT_NE(both.err.find("cannot be combined"), std::string::npos) << both.err;

  const std::string edited = t.sub("edited");
  MakeLog(edited, 200);
  {
    testing::RawDb raw(edited);
    auto all = raw.All(raw.events());
    auto log_event = Synth(200)[99];
    log_event.argv = {"/bin/forged-argv"};
    raw.Put(raw.events(), all[99].first, all[99].second.substr(0, 32) + EncodeEventToString(log_event));
  }
  EXPECT_EQ(testing::Replay(t, "verify --quick --data-dir " + edited).code, 0)
      << "the quick check is not meant to re-hash records";
  EXPECT_EQ(testing::Replay(t, "verify --data-dir " + edited).code, 1);

  const std::string cut = t.sub("cut");
  MakeLog(cut, 2000);
  {
    testing::RawDb raw(cut);
    auto all = raw.All(raw.events());
    raw.Delete(raw.events(), all.back().first);
  }
  auto c = testing::Replay(t, "verify --quick --data-dir " + cut);
  EXPECT_EQ(c.code, 1) << c.out << c.err;
  EXPECT_NE(c.out.find("removed or added at the end"), std::string::npos) << c.out;

  const std::string sealed = t.sub("sealed");
  {
    LogOptions o;
    o.seal_every_events = 500;
    auto w = EventLog::OpenWriter(sealed, o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto events = Synth(2000);
    for (size_t i = 0; i < 2000; i += 100) {
      ASSERT_TRUE((*w)->Append(std::span(events).subspan(i, 100)).ok());
    }
    ASSERT_TRUE((*w)->Sync().ok());
    auto seals = (*w)->Seals();
    ASSERT_TRUE(seals.ok());
    ASSERT_GE(seals->size(), 2u);
  }
  {
    testing::RawDb raw(sealed);
    auto all = raw.All(raw.events());
    // The 500th record (sealed) rewritten with a fresh chain hash of its own.
    std::string v = all[499].second;
    v[0] = static_cast<char>(v[0] ^ 0xff);
    raw.Put(raw.events(), all[499].first, v);
  }
  auto sq = testing::Replay(t, "verify --quick --data-dir " + sealed);
  EXPECT_EQ(sq.code, 1) << sq.out << sq.err;
  EXPECT_NE(sq.out.find("seal does not match the chain"), std::string::npos) << sq.out;
}

TEST(ReaderReports, AnUnknownSchemaVersionIsRefused) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 10);
  { testing::RawDb raw(dir); raw.Put(raw.meta(), "schema_version", "xyz"); }
  auto r = EventLog::OpenReader(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'xyz'"), std::string::npos) << r.status().message();
  auto w = EventLog::OpenWriter(dir);
  EXPECT_FALSE(w.ok());
  auto info = testing::Replay(t, "info --data-dir " + dir);
  EXPECT_EQ(info.code, 1) << info.err;
}

// The chain's recorded start after retention, overwritten with garbage: every command that relies
// on it names it instead of checking the chain from a zero origin or anchoring a bundle on it.
TEST(ReaderReports, AnUnreadableChainOriginIsNamedByVerifyAndRefusedByBundle) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 10);
  { testing::RawDb raw(dir); raw.Put(raw.meta(), "chain_origin", "{\"ts_ns\":1,\"seq\":"); }
  auto r = EventLog::OpenReader(dir);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto origin = r.value()->Origin();
  ASSERT_FALSE(origin.ok());
  EXPECT_NE(origin.status().message().find("meta:chain_origin"), std::string::npos);
  r.value().reset();
  for (const char* cmd : {"verify", "verify --quick"}) {
    auto v = testing::Replay(t, std::string(cmd) + " --data-dir " + dir);
    EXPECT_EQ(v.code, 1) << cmd << ": " << v.out << v.err;
    EXPECT_NE(v.out.find("meta:chain_origin"), std::string::npos) << cmd << ": " << v.out;
  }
  auto b = testing::Replay(t, "bundle --since 0 --until now --out " + t.sub("case.tar") +
                                  " --data-dir " + dir);
  EXPECT_NE(b.code, 0) << b.out << b.err;
  EXPECT_NE(b.err.find("meta:chain_origin is unreadable"), std::string::npos) << b.err;
}

TEST(ReaderReports, AForeignManifestIsCalledThatWithTheNextStep) {
  TempDir t;
  const std::string dir = t.sub("data");
  MakeLog(dir, 10);
  // Another RocksDB's MANIFEST in place of ours.
  const std::string other = t.sub("other");
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, other, &db).ok());
    delete db;
  }
  std::string ours, theirs;
  std::getline(std::ifstream(dir + "/CURRENT"), ours);
  std::getline(std::ifstream(other + "/CURRENT"), theirs);
  std::filesystem::copy_file(other + "/" + theirs, dir + "/" + ours,
                             std::filesystem::copy_options::overwrite_existing);
  auto r = testing::Replay(t, "state --data-dir " + dir);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("not this log's MANIFEST"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("twin-replay recover"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace twin
