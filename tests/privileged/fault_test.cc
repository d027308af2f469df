// Real faults against the real twind: a full (small, real) tmpfs filled and freed under it, a
// data dir without CURRENT, a WAL cut while it was down, kill -9 in the middle of a storm. Each
// asserts that nothing disappears without a gap that tells the truth or a refusal that says what
// to do, and that verify fails when something it vouched for is gone.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "eventlog/wal_recovery.h"
#include "tests/common/small_tmpfs.h"
#include "tests/core/fault_test_util.h"
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

uint64_t WallNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

// Runs /bin/true NAME and waits for it.
void RunMarker(const std::string& name) {
  char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(name.c_str()), nullptr};
  char* envp[] = {nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, envp) == 0) WaitStatus(pid);
}

bool WaitForLog(const Twind& t, const std::string& needle, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (t.Log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool IsMarker(const Event& e, const std::string& prefix) {
  return e.kind == EventKind::kProcessExec && e.argv.size() >= 2 && e.argv[1].starts_with(prefix);
}

// Fills the filesystem of path with a file until `leave` bytes are free (0: until ENOSPC).
// Grows (or shrinks) the filler until `leave` bytes are free (0: until ENOSPC). Never truncates
// it whole: the free space must not jump up under twind's disk check.
void Fill(const std::string& path, uint64_t leave) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  std::string chunk(64 << 10, 'f');
  for (;;) {
    struct statvfs sv {};
    ASSERT_EQ(fstatvfs(fd, &sv), 0);
    const uint64_t free_bytes = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
    if (leave && free_bytes < leave) {
      struct stat st {};
      ASSERT_EQ(fstat(fd, &st), 0);
      const uint64_t size = static_cast<uint64_t>(st.st_size);
      ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size - std::min(size, leave - free_bytes))), 0);
      break;
    }
    if (leave && free_bytes == leave) break;
    const size_t n = leave ? std::min<uint64_t>(chunk.size(), free_bytes - leave) : chunk.size();
    if (write(fd, chunk.data(), n) <= 0) break;  // ENOSPC
  }
  close(fd);
}

// Holds the free space at `leave` bytes while waiting for twind to log `needle`: twind's own
// files change meanwhile (an obsolete WAL unlinked a moment later frees megabytes), and a free
// space measured once would drift back over the threshold under test.
bool HoldFreeUntilLogged(const Twind& t, const std::string& filler, uint64_t leave,
                         const std::string& needle, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    Fill(filler, leave);
    if (t.Log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string WriteConfig(const std::string& dir, const std::string& text) {
  const std::string p = dir + "/twind.toml";
  std::ofstream(p) << text;
  return p;
}

struct Outcome {
  std::vector<KeyedEvent> events;
  size_t markers = 0;
};

Outcome Read(const std::string& dir, const std::string& prefix) {
  Outcome o;
  o.events = ReadAll(dir);
  for (const auto& ke : o.events) o.markers += IsMarker(ke.event, prefix);
  return o;
}

TEST(FaultDiskFull, AfterEnospcTwindReopensTheLogItselfAndRecordsTheTrueGap) {
  TWIN_REQUIRE_BPF();
  SmallTmpfs fs("48m");
  ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
  const std::string side = MakeTempDir("fault-enospc");
  // min_free_bytes = 0: no low-disk stop, the write itself fails with ENOSPC.
  Twind twind(fs.sub("data"), side + "/twind.log");
  twind.set_config(WriteConfig(side, "min_free_bytes = 0\n"));
  ASSERT_TRUE(twind.Start());
  const std::string tag = "twin-enospc-" + std::to_string(getpid());

  Fill(fs.sub("filler"), 0);
  const uint64_t full_ns = WallNow();
  size_t during = 0;
  for (; during < 200000 && twind.Log().find("event log writing stopped") == std::string::npos;
       ++during) {
    RunMarker(tag + "-full-" + std::to_string(during));
  }
  ASSERT_TRUE(WaitForLog(twind, "event log writing stopped", 5)) << twind.Log();
  const uint64_t stopped_ns = WallNow();  // RocksDB's preallocated WAL filled up before this
  for (int i = 0; i < 300; ++i, ++during) RunMarker(tag + "-full-" + std::to_string(during));

  ASSERT_TRUE(std::filesystem::remove(fs.sub("filler")));
  const uint64_t freed_ns = WallNow();
  ASSERT_TRUE(WaitForLog(twind, "event log writing resumed", 30)) << twind.Log();
  const uint64_t resumed_ns = WallNow();
  for (int i = 0; i < 200; ++i) RunMarker(tag + "-after-" + std::to_string(i));
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return IsMarker(e, tag + "-after-199");
  }, 10000)) << "capture did not go on after the disk was freed";
  ASSERT_EQ(twind.Stop(), 0);

  Outcome after = Read(twind.data_dir(), tag + "-after-");
  EXPECT_EQ(after.markers, 200u) << "execs after the disk was freed were lost";
  const Outcome full = Read(twind.data_dir(), tag + "-full-");
  const Event* gap = nullptr;
  for (const auto& ke : after.events) {
    if (ke.event.kind == EventKind::kGap &&
        ke.event.reason.find("write failed") != std::string::npos) {
      gap = &ke.event;
    }
  }
  ASSERT_NE(gap, nullptr) << "no gap for the write outage\n" << twind.Log();
  // The window starts at the last record written: after the disk filled, before twind said so.
  EXPECT_GE(gap->gap_start_ns + 5'000'000'000ull, full_ns);
  EXPECT_LE(gap->gap_start_ns, stopped_ns);
  EXPECT_GE(gap->gap_end_ns, freed_ns);
  EXPECT_GT(gap->lost, 0u);
  EXPECT_GE(full.markers + gap->lost, during)
      << "markers neither written nor counted in the gap";
  std::cout << "ENOSPC cost: " << during << " execs while the disk was full, " << full.markers
            << " of them written, the gap counts " << gap->lost << " events over "
            << (gap->gap_end_ns - gap->gap_start_ns) / 1e9 << " s; writing resumed "
            << (resumed_ns - freed_ns) / 1e9 << " s after the disk was freed" << std::endl;
  EXPECT_EQ(after.events.back().event.kind, EventKind::kDaemonStop);
  auto log = EventLog::OpenReader(twind.data_dir());
  ASSERT_TRUE(log.ok());
  VerifyReport v = (*log)->Verify();
  EXPECT_TRUE(v.ok()) << v.problems.front().key << ": " << v.problems.front().what;
  auto mid = StateAt(**log, gap->gap_start_ns + (gap->gap_end_ns - gap->gap_start_ns) / 2);
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->uncertain) << "state in the middle of the outage said certain";
}

TEST(FaultDiskFull, OnASmallFilesystemWritingStopsBeforeEnospcAndResumes) {
  TWIN_REQUIRE_BPF();
  SmallTmpfs fs("48m");
  ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
  const std::string side = MakeTempDir("fault-lowdisk");
  Twind twind(fs.sub("data"), side + "/twind.log");  // the default thresholds
  ASSERT_TRUE(twind.Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // one disk check
  EXPECT_EQ(twind.Log().find("writing stopped"), std::string::npos)
      << "twind stopped writing on an empty 48 MB filesystem\n" << twind.Log();
  const std::string tag = "twin-lowdisk-" + std::to_string(getpid());

  // 48 MB: writing stops below 4 MiB free, the warning comes below 8 MiB. Between the two:
  // warned, still writing.
  ASSERT_TRUE(HoldFreeUntilLogged(twind, fs.sub("filler"), 6 << 20,
                                  "free space on the data dir's filesystem is low", 10))
      << "no warning before the threshold\n" << twind.Log();
  EXPECT_EQ(twind.Log().find("writing stopped"), std::string::npos)
      << "writing stopped with 6 MiB of 48 MB free\n" << twind.Log();
  ASSERT_TRUE(HoldFreeUntilLogged(twind, fs.sub("filler"), 2 << 20,
                                  "event log writing stopped (low disk", 10)) << twind.Log();
  for (int i = 0; i < 100; ++i) RunMarker(tag + "-low-" + std::to_string(i));
  std::filesystem::remove(fs.sub("filler"));
  ASSERT_TRUE(WaitForLog(twind, "event log writing resumed", 10)) << twind.Log();
  for (int i = 0; i < 100; ++i) RunMarker(tag + "-after-" + std::to_string(i));
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [&](const Event& e) {
    return IsMarker(e, tag + "-after-99");
  }, 10000)) << twind.Log();
  ASSERT_EQ(twind.Stop(), 0);

  const Outcome after = Read(twind.data_dir(), tag + "-after-");
  const Outcome low = Read(twind.data_dir(), tag + "-low-");
  EXPECT_EQ(after.markers, 100u);
  const Event* open = nullptr;
  const Event* closed = nullptr;
  for (const auto& ke : after.events) {
    if (ke.event.kind != EventKind::kGap) continue;
    if (ke.event.reason.starts_with("low disk: writing stopped")) open = &ke.event;
    if (ke.event.reason.starts_with("low disk:") && ke.event.gap_end_ns != 0) closed = &ke.event;
  }
  std::string gaps;
  for (const auto& ke : after.events) {
    if (ke.event.kind == EventKind::kGap) {
      gaps += "gap " + std::to_string(ke.event.gap_start_ns) + ".." +
              std::to_string(ke.event.gap_end_ns) + " " + ke.event.reason + "\n";
    }
  }
  ASSERT_NE(open, nullptr) << "no open low-disk gap; gaps:\n" << gaps << twind.Log();
  ASSERT_NE(closed, nullptr) << "no closed low-disk gap; gaps:\n" << gaps << twind.Log();
  EXPECT_EQ(open->gap_end_ns, 0u);
  EXPECT_EQ(closed->gap_start_ns, open->gap_start_ns);
  EXPECT_GE(low.markers + closed->lost, 100u);
  EXPECT_EQ(after.events.back().event.kind, EventKind::kDaemonStop);
  std::cout << "low-disk stop cost: " << 100 - low.markers << " of 100 execs not written, the gap "
            << "counts " << closed->lost << " events over "
            << (closed->gap_end_ns - closed->gap_start_ns) / 1e9 << " s" << std::endl;
}

TEST(FaultDiskFull, SigtermWhileWritingIsStoppedForLowDiskStillWritesTheGapAndTheStop) {
  TWIN_REQUIRE_BPF();
  SmallTmpfs fs("48m");
  ASSERT_TRUE(fs.mounted()) << "mount tmpfs: " << fs.error();
  const std::string side = MakeTempDir("fault-lowstop");
  Twind twind(fs.sub("data"), side + "/twind.log");  // the default thresholds
  ASSERT_TRUE(twind.Start());
  const std::string tag = "twin-lowstop-" + std::to_string(getpid());
  ASSERT_TRUE(HoldFreeUntilLogged(twind, fs.sub("filler"), 2 << 20,
                                  "event log writing stopped (low disk", 10)) << twind.Log();
  for (int i = 0; i < 100; ++i) RunMarker(tag + "-low-" + std::to_string(i));
  // The disk is still below the threshold: the stop is paid from the reserve.
  ASSERT_EQ(twind.Stop(), 0);
  EXPECT_EQ(twind.Log().find("daemon_stop not written"), std::string::npos) << twind.Log();

  const Outcome low = Read(twind.data_dir(), tag + "-low-");
  ASSERT_FALSE(low.events.empty());
  EXPECT_EQ(low.events.back().event.kind, EventKind::kDaemonStop)
      << "no daemon_stop although the log could take it\n" << twind.Log();
  const Event* open = nullptr;
  const Event* closed = nullptr;
  for (const auto& ke : low.events) {
    if (ke.event.kind != EventKind::kGap || !ke.event.reason.starts_with("low disk:")) continue;
    (ke.event.gap_end_ns == 0 ? open : closed) = &ke.event;
  }
  ASSERT_NE(open, nullptr);
  ASSERT_NE(closed, nullptr) << "the low-disk gap was left open at the stop";
  EXPECT_EQ(closed->gap_start_ns, open->gap_start_ns);
  EXPECT_GE(low.markers + closed->lost, 100u) << "markers neither written nor counted";

  // The next start knows the previous run stopped cleanly, and the state after it is certain.
  ASSERT_TRUE(std::filesystem::remove(fs.sub("filler")));
  ASSERT_TRUE(twind.Start());
  const uint64_t after_start = WallNow();
  ASSERT_EQ(twind.Stop(), 0);
  bool said_clean = false;
  for (const auto& ke : ReadAll(twind.data_dir())) {
    said_clean |= ke.event.kind == EventKind::kGap &&
                  ke.event.reason.starts_with("daemon was stopped");
  }
  EXPECT_TRUE(said_clean) << "the restart did not see the clean stop";
  auto log = EventLog::OpenReader(twind.data_dir());
  ASSERT_TRUE(log.ok());
  auto st = StateAt(**log, after_start);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->uncertain) << "the closed low-disk gap still covers the next run";
  VerifyReport v = (*log)->Verify();
  EXPECT_TRUE(v.ok()) << v.problems.front().key << ": " << v.problems.front().what;
}

TEST(FaultDataDir, TwindRefusesADataDirWithoutCurrentEveryTimeAndTouchesNothing) {
  TWIN_REQUIRE_BPF();
  const std::string dir = MakeTempDir("fault-current");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  for (int i = 0; i < 100; ++i) RunMarker("twin-current-" + std::to_string(i));
  ASSERT_EQ(twind.Stop(), 0);
  const uint64_t before_count = ReadAll(twind.data_dir()).size();
  ASSERT_TRUE(std::filesystem::remove(twind.data_dir() + "/CURRENT"));
  const auto before = Fingerprint(twind.data_dir());
  for (int attempt = 0; attempt < 2; ++attempt) {  // the unit restarts it after a failure
    EXPECT_FALSE(twind.Start({}, 10)) << "twind started on a log without CURRENT";
  }
  EXPECT_NE(twind.Log().find("CURRENT file is missing"), std::string::npos) << twind.Log();
  EXPECT_NE(twind.Log().find("twin-replay recover"), std::string::npos);
  EXPECT_EQ(Fingerprint(twind.data_dir()), before) << "a refused start changed the data dir";
  EXPECT_GT(before_count, 100u);
}

TEST(FaultWal, TwindOnACutWalRecordsTheLossTrulyAndSaysSoAtStart) {
  TWIN_REQUIRE_BPF();
  const std::string dir = MakeTempDir("fault-wal");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  for (int i = 0; i < 500; ++i) RunMarker("twin-wal-" + std::to_string(i));
  ASSERT_TRUE(WaitForEvent(twind.data_dir(), [](const Event& e) {
    return IsMarker(e, "twin-wal-499");
  }));
  // Killed, so that the records stay in the WAL (a clean stop flushes them into a table) and the
  // group commit has synced the anchor.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  twind.Stop(SIGKILL);
  const std::string wal = NewestWal(twind.data_dir());
  ASSERT_FALSE(wal.empty()) << "nothing in the WAL to cut";
  TruncateTo(wal, std::filesystem::file_size(wal) / 2);

  auto verify_cut = [&] {
    auto log = EventLog::OpenReader(twind.data_dir());
    EXPECT_TRUE(log.ok());
    return log.ok() ? (*log)->Verify() : VerifyReport{};
  };
  EXPECT_FALSE(verify_cut().ok()) << "verify passed on a cut WAL";

  ASSERT_TRUE(twind.Start());
  EXPECT_NE(twind.Log().find("the event log was damaged while twind was not running"),
            std::string::npos) << twind.Log();
  ASSERT_EQ(twind.Stop(), 0);
  const auto events = ReadAll(twind.data_dir());
  const Event* loss = nullptr;
  const Event* down = nullptr;
  for (const auto& ke : events) {
    if (ke.event.kind != EventKind::kGap) continue;
    if (ke.event.reason.starts_with("log damaged:")) loss = &ke.event;
    else if (loss && !down) down = &ke.event;
  }
  ASSERT_NE(loss, nullptr) << "no gap for the records the cut took";
  EXPECT_GT(loss->lost, 0u);
  EXPECT_NE(loss->reason.find("records after key"), std::string::npos) << loss->reason;
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->reason.find("no clean stop recorded"), std::string::npos)
      << "the downtime gap claims the previous run did not stop cleanly: " << down->reason;
  VerifyReport v = verify_cut();
  EXPECT_FALSE(v.ok()) << "verify vouches for a log that lost records";
}

// A storm of /bin/true MARKER-N execs, each with the wall-clock times before and after its
// posix_spawn (which returns once the child has exec'd: the exec happened in that window).
class MarkerStorm {
 public:
  explicit MarkerStorm(std::string tag) : tag_(std::move(tag)), thread_([this] { Run(); }) {}
  ~MarkerStorm() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  struct Spawn {
    uint64_t before_ns, after_ns;
  };
  const std::vector<Spawn>& spawns() const { return spawns_; }  // after Stop()
  std::string Name(size_t i) const { return tag_ + "-" + std::to_string(i); }
  // The index of a captured exec of this storm, or -1.
  long IndexOf(const Event& e) const {
    if (!IsMarker(e, tag_ + "-")) return -1;
    return std::strtol(e.argv[1].c_str() + tag_.size() + 1, nullptr, 10);
  }

 private:
  void Run() {
    for (size_t i = 0; !stop_; ++i) {
      const uint64_t before = WallNow();
      RunMarker(Name(i));
      spawns_.push_back({before, WallNow()});
    }
  }
  std::string tag_;
  std::atomic<bool> stop_{false};
  std::vector<Spawn> spawns_;
  std::thread thread_;
};

TEST(FaultCrash, StateInTheDowntimeAfterKillNineIsUncertainAndTheCountUnknown) {
  TWIN_REQUIRE_BPF();
  const std::string dir = MakeTempDir("fault-kill");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  MarkerStorm storm("twin-kill-" + std::to_string(getpid()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const uint64_t kill_ns = WallNow();
  twind.Stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const uint64_t restart_ns = WallNow();
  ASSERT_TRUE(twind.Start());
  storm.Stop();
  ASSERT_EQ(twind.Stop(), 0);
  auto log = EventLog::OpenReader(twind.data_dir());
  ASSERT_TRUE(log.ok());
  auto mid = StateAt(**log, kill_ns + (restart_ns - kill_ns) / 2);
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->uncertain) << "state in the downtime said certain";
  const Event* down = nullptr;
  std::vector<bool> captured(storm.spawns().size(), false);
  const auto events = ReadAll(twind.data_dir());
  for (const auto& ke : events) {
    const long i = storm.IndexOf(ke.event);
    if (i >= 0 && static_cast<size_t>(i) < captured.size()) captured[i] = true;
    if (ke.event.kind == EventKind::kGap && ke.event.gap_end_ns >= restart_ns && !down)
      down = &ke.event;
  }
  ASSERT_NE(down, nullptr) << "no gap for the downtime";
  bool unknown = false;
  for (const auto& [k, v] : down->attrs) unknown |= k == "lost_count" && v == "unknown";
  EXPECT_TRUE(unknown) << "the downtime gap does not say its count is unknown";
  EXPECT_LE(down->gap_start_ns, kill_ns);
  // What the kill cost: the execs done before the kill that are not in the log. Each of them
  // lies inside the downtime gap (its exec may be after the gap's start); none is lost silently.
  size_t lost_before_kill = 0;
  uint64_t earliest_lost = UINT64_MAX;
  for (size_t i = 0; i < captured.size(); ++i) {
    const auto& sp = storm.spawns()[i];
    if (captured[i] || sp.after_ns >= kill_ns) continue;
    ++lost_before_kill;
    earliest_lost = std::min(earliest_lost, sp.before_ns);
    EXPECT_GE(sp.after_ns, down->gap_start_ns)
        << storm.Name(i) << " was exec'd before the gap's start and is not in the log";
  }
  std::cout << "kill -9 cost: " << lost_before_kill << " execs of the last "
            << (lost_before_kill ? (kill_ns - earliest_lost) / 1e6 : 0.0)
            << " ms before the kill not captured; the gap starts "
            << (kill_ns - down->gap_start_ns) / 1e6 << " ms before the kill" << std::endl;
  EXPECT_TRUE((*log)->Verify().ok());
}

TEST(FaultRestart, NothingARunRecordsIsOlderThanItsStartOrThePreviousRun) {
  TWIN_REQUIRE_BPF();
  const std::string dir = MakeTempDir("fault-order");
  Twind twind(dir + "/data");
  ASSERT_TRUE(twind.Start());
  MarkerStorm storm("twin-order-" + std::to_string(getpid()));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_EQ(twind.Stop(), 0);  // a clean restart under load ...
  ASSERT_TRUE(twind.Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  twind.Stop(SIGKILL);  // ... and one after kill -9
  ASSERT_TRUE(twind.Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  storm.Stop();
  ASSERT_EQ(twind.Stop(), 0);

  const auto events = ReadAll(twind.data_dir());
  std::vector<size_t> starts;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].event.kind == EventKind::kDaemonStart) starts.push_back(i);
  }
  ASSERT_EQ(starts.size(), 3u);
  uint64_t worst_inversion = 0;
  for (size_t i = 1; i < events.size(); ++i) {
    const uint64_t a = events[i - 1].event.ts_ns, b = events[i].event.ts_ns;
    if (b < a) worst_inversion = std::max(worst_inversion, a - b);
  }
  for (size_t s = 1; s < starts.size(); ++s) {
    const Event& start = events[starts[s]].event;
    const size_t next = s + 1 < starts.size() ? starts[s + 1] : events.size();
    for (size_t i = 0; i < starts[s]; ++i) {
      ASSERT_LE(events[i].event.ts_ns, start.ts_ns)
          << "a record of an earlier run is later than the next daemon_start: "
          << KindName(events[i].event.kind) << " at " << events[i].event.ts_ns;
    }
    bool downtime = false;
    for (size_t i = starts[s] + 1; i < next; ++i) {
      const Event& e = events[i].event;
      ASSERT_GE(e.ts_ns, start.ts_ns) << "run " << s << ": " << KindName(e.kind) << " at "
                                      << e.ts_ns << " is older than its daemon_start at "
                                      << start.ts_ns << " by " << (start.ts_ns - e.ts_ns) / 1e6
                                      << " ms";
      if (e.kind == EventKind::kGap && e.gap_end_ns == start.ts_ns) downtime = true;
    }
    EXPECT_TRUE(downtime) << "the downtime gap does not end at the daemon_start";
  }
  // Nothing disappears without a gap: every exec of the storm is in the log, or its exec (some
  // time between the spawn's start and its return) may lie inside a gap's window.
  std::vector<bool> captured(storm.spawns().size(), false);
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  for (const auto& ke : events) {
    const long i = storm.IndexOf(ke.event);
    if (i >= 0 && static_cast<size_t>(i) < captured.size()) captured[i] = true;
    if (ke.event.kind == EventKind::kGap) {
      gaps.emplace_back(ke.event.gap_start_ns,
                        ke.event.gap_end_ns ? ke.event.gap_end_ns : UINT64_MAX);
    }
  }
  size_t uncaptured = 0;
  for (size_t i = 0; i < captured.size(); ++i) {
    if (captured[i]) continue;
    ++uncaptured;
    const auto& sp = storm.spawns()[i];
    bool covered = false;
    for (const auto& [b, e] : gaps) covered |= b <= sp.after_ns && sp.before_ns <= e;
    EXPECT_TRUE(covered) << storm.Name(i) << " (spawned " << sp.before_ns << " .. " << sp.after_ns
                         << ") is neither in the log nor in a gap";
    if (!covered) break;
  }
  std::cout << uncaptured << " of " << captured.size() << " execs not captured (all in gaps); "
            << "largest time inversion between adjacent records: " << worst_inversion / 1e6
            << " ms over " << events.size() << " records" << std::endl;
}

}  // namespace
}  // namespace twin::testing
