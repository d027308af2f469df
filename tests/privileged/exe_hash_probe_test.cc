// Executable integrity on real execs captured by the real probes and twind: hashes equal
// sha256sum's, a binary rewritten between two execs has two hashes, a binary deleted after exec
// and a memfd exec are flagged, and the folded state carries the hash (docs/FORENSICS.md).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "eventlog/state.h"
#include "tests/common/sha256sum.h"
#include "tests/privileged/harness.h"

namespace twin::testing {
namespace {

bool HasFlag(std::string_view flags, std::string_view f) {
  return ("," + std::string(flags) + ",").find("," + std::string(f) + ",") != std::string::npos;
}

// The integrity twind recorded for the exec of pid: the exec record's own, or the exe_hash
// record completing it. nullopt until one says "ok" (or anything final but pending).
struct Integrity {
  std::string status, sha256, flags;
};
std::optional<Integrity> WaitForHash(const std::string& dir, pid_t pid, const std::string& exe,
                                     int timeout_ms = 15000) {
  std::optional<Integrity> got;
  auto ev = WaitForEvent(
      dir,
      [&](const Event& e) {
        if (e.pid != pid || e.exe != exe) return false;
        if (e.kind != EventKind::kProcessExec && e.kind != EventKind::kExeHash) return false;
        const std::string_view st = AttrOf(e, kAttrExeHash);
        if (st.empty() || st == "pending") return false;
        got = Integrity{std::string(st), std::string(AttrOf(e, kAttrExeSha256)),
                        std::string(AttrOf(e, kAttrExeFlags))};
        return true;
      },
      timeout_ms);
  return ev ? got : std::nullopt;
}

class ExeHashProbe : public ::testing::Test {
 protected:
  void SetUp() override {
    TWIN_REQUIRE_BPF();
    dir_ = MakeTempDir("exehash");
    bins_ = MakeTempDir("exehash-bin");  // 0700, root's: not a writable directory
    ASSERT_FALSE(dir_.empty());
    ASSERT_FALSE(bins_.empty());
    twind_ = std::make_unique<Twind>(dir_);
    ASSERT_TRUE(twind_->Start());
  }
  void TearDown() override {
    if (twind_) twind_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::remove_all(bins_, ec);
    std::filesystem::remove(dir_ + ".log", ec);
  }
  std::string dir_, bins_;
  std::unique_ptr<Twind> twind_;
};

TEST_F(ExeHashProbe, HashEqualsSha256sumAndARewriteBetweenTwoExecsIsTwoHashes) {
  const std::string tool = bins_ + "/tool";
  std::filesystem::copy_file("/usr/bin/true", tool);
  pid_t a = SpawnAs({tool}, "/", -1, -1);
  ASSERT_EQ(WaitStatus(a), 0);
  auto h1 = WaitForHash(dir_, a, tool);
  ASSERT_TRUE(h1) << twind_->Log();
  EXPECT_EQ(h1->status, "ok");
  EXPECT_EQ(h1->sha256, Sha256sum(tool));
  EXPECT_TRUE(HasFlag(h1->flags, "unpackaged")) << h1->flags;
  EXPECT_FALSE(HasFlag(h1->flags, "writable")) << h1->flags;
  EXPECT_FALSE(HasFlag(h1->flags, "dir_writable")) << h1->flags;
  EXPECT_FALSE(HasFlag(h1->flags, "ctime_changed")) << "the kernel's identity is stat's" << h1->flags;

  // Rewritten in place (same path, same inode): the next exec has the new content's hash.
  std::filesystem::copy_file("/usr/bin/false", tool,
                             std::filesystem::copy_options::overwrite_existing);
  pid_t b = SpawnAs({tool}, "/", -1, -1);
  WaitStatus(b);
  auto h2 = WaitForHash(dir_, b, tool);
  ASSERT_TRUE(h2) << twind_->Log();
  EXPECT_EQ(h2->status, "ok");
  EXPECT_EQ(h2->sha256, Sha256sum(tool));
  EXPECT_NE(h2->sha256, h1->sha256);

  // A binary dpkg owns, run twice: the second exec finds the hash in the cache in time.
  pid_t c = SpawnAs({"/usr/bin/true"}, "/", -1, -1);
  WaitStatus(c);
  auto h3 = WaitForHash(dir_, c, "/usr/bin/true");
  ASSERT_TRUE(h3) << twind_->Log();
  EXPECT_EQ(h3->sha256, Sha256sum("/usr/bin/true"));
  EXPECT_FALSE(HasFlag(h3->flags, "unpackaged")) << h3->flags;
  pid_t d = SpawnAs({"/usr/bin/true"}, "/", -1, -1);
  WaitStatus(d);
  auto exec = WaitForEvent(dir_, [&](const Event& e) {
    return e.kind == EventKind::kProcessExec && e.pid == d;
  });
  ASSERT_TRUE(exec);
  EXPECT_EQ(AttrOf(*exec, kAttrExeHash), "ok") << "cache hit: the exec record carries the hash";
  EXPECT_EQ(AttrOf(*exec, kAttrExeSha256), h3->sha256);
}

TEST_F(ExeHashProbe, BinaryDeletedAfterExecIsFlaggedInEventsAndState) {
  const std::string vanish = bins_ + "/vanish";
  std::filesystem::copy_file("/usr/bin/sleep", vanish);
  const std::string sum = Sha256sum(vanish);
  pid_t p = SpawnAs({vanish, "60"}, "/", -1, -1);
  auto h = WaitForHash(dir_, p, vanish);
  ASSERT_TRUE(h) << twind_->Log();
  EXPECT_EQ(h->sha256, sum);
  EXPECT_FALSE(HasFlag(h->flags, "deleted")) << "hashed before the unlink";
  ASSERT_EQ(unlink(vanish.c_str()), 0);
  // The periodic reconcile (every compaction, 1 s here) sees "(deleted)" and says so.
  auto later = WaitForEvent(dir_, [&](const Event& e) {
    return e.kind == EventKind::kExeHash && e.pid == p && HasFlag(AttrOf(e, kAttrExeFlags), "deleted");
  }, 15000);
  ASSERT_TRUE(later) << twind_->Log();
  EXPECT_EQ(AttrOf(*later, kAttrExeSha256), sum);
  EXPECT_EQ(AttrOf(*later, "noticed_by"), "reconcile");
  {
    auto log = EventLog::OpenReader(dir_);
    ASSERT_TRUE(log.ok());
    auto st = StateAt(**log, UINT64_MAX);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    const auto it = st->processes.find(ProcKey{p, ProcStartNs(p)});
    ASSERT_NE(it, st->processes.end());
    EXPECT_EQ(it->second.exe_hash, "ok");
    EXPECT_EQ(it->second.exe_sha256, sum);
    EXPECT_TRUE(HasFlag(it->second.exe_flags, "deleted")) << it->second.exe_flags;
  }
  kill(p, SIGKILL);
  WaitStatus(p);
}

// The exe path is bytes from the host: a name with shell syntax, a newline and a template is
// opened as it is (never through a shell) and its hash is sha256sum's.
TEST_F(ExeHashProbe, HostileExePathIsHashedAsBytes) {
  const std::string name = "x;$(touch pwned)`id`\n{{ lookup('pipe','id') }} '\"";
  const std::string bin = bins_ + "/" + name;
  std::filesystem::copy_file("/usr/bin/true", bin);
  pid_t p = SpawnAs({bin}, bins_, -1, -1);
  ASSERT_EQ(WaitStatus(p), 0);
  auto h = WaitForHash(dir_, p, bin);
  ASSERT_TRUE(h) << twind_->Log();
  EXPECT_EQ(h->status, "ok");
  EXPECT_EQ(h->sha256, Sha256sum(bin));
  EXPECT_FALSE(std::filesystem::exists(bins_ + "/pwned"));
  EXPECT_FALSE(std::filesystem::exists("/pwned"));
}

// A process running before twind starts has no exec record: the start-up resync finds it and
// its executable is hashed all the same; its binary already deleted is flagged.
TEST_F(ExeHashProbe, ProcessRunningBeforeStartUpIsHashedToo) {
  ASSERT_EQ(twind_->Stop(), 0);
  const std::string old = bins_ + "/old";
  std::filesystem::copy_file("/usr/bin/sleep", old);
  const std::string sum = Sha256sum(old);
  pid_t p = SpawnAs({old, "60"}, "/", -1, -1);
  pid_t q = SpawnAs({"/usr/bin/sleep", "60"}, "/", -1, -1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both have exec'd
  ASSERT_EQ(unlink(old.c_str()), 0);
  ASSERT_TRUE(twind_->Start());
  auto h = WaitForHash(dir_, p, old);
  ASSERT_TRUE(h) << twind_->Log();
  EXPECT_EQ(h->status, "ok");
  EXPECT_EQ(h->sha256, sum);
  EXPECT_TRUE(HasFlag(h->flags, "deleted")) << h->flags;
  auto hq = WaitForHash(dir_, q, "/usr/bin/sleep");
  ASSERT_TRUE(hq) << twind_->Log();
  EXPECT_EQ(hq->sha256, Sha256sum("/usr/bin/sleep"));
  EXPECT_FALSE(HasFlag(hq->flags, "deleted")) << hq->flags;
  kill(p, SIGKILL);
  kill(q, SIGKILL);
  WaitStatus(p);
  WaitStatus(q);
}

TEST_F(ExeHashProbe, MemfdExecIsHashedThroughProcAndFlagged) {
  const std::string sum = Sha256sum("/usr/bin/sleep");
  pid_t p = fork();
  if (p == 0) {
    int fd = memfd_create("payload", MFD_CLOEXEC);
    std::ifstream in("/usr/bin/sleep", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (fd < 0 || write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      _exit(126);
    char* argv[] = {const_cast<char*>("payload"), const_cast<char*>("60"), nullptr};
    char* envp[] = {nullptr};
    fexecve(fd, argv, envp);
    _exit(127);
  }
  auto h = WaitForHash(dir_, p, "/memfd:payload");
  ASSERT_TRUE(h) << twind_->Log();
  EXPECT_EQ(h->status, "ok");
  EXPECT_EQ(h->sha256, sum);
  EXPECT_TRUE(HasFlag(h->flags, "memfd")) << h->flags;
  EXPECT_FALSE(HasFlag(h->flags, "unpackaged")) << "no path: dpkg is not asked";
  kill(p, SIGKILL);
  WaitStatus(p);
}

}  // namespace
}  // namespace twin::testing
