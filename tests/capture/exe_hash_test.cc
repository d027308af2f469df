// Executable hashing (userspace/exe_hash.h) without BPF: the cache keying, the flags taken from
// the exec-time identity, the dpkg file lists, the worker's results checked against sha256sum,
// and the fold of exec / exe_hash records (both fold engines).
#include "userspace/exe_hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "eventlog/codec.h"
#include "eventlog/folder.h"
#include "eventlog/state.h"
#include "tests/common/sha256sum.h"

namespace twin::capture {
namespace {

using twin::testing::Sha256sum;

std::string TempDir() {
  char tmpl[] = "/tmp/twin-exehash-XXXXXX";
  return mkdtemp(tmpl);
}

void WriteFile(const std::string& path, const std::string& bytes, mode_t mode = 0755) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  chmod(path.c_str(), mode);
}

// The identity the probe would report for the file at path.
ExeId IdOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  struct stat dir {};
  EXPECT_EQ(stat(std::filesystem::path(path).parent_path().c_str(), &dir), 0);
  ExeId id;
  id.valid = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  id.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  id.nlink = static_cast<uint32_t>(st.st_nlink);
  id.uid = st.st_uid;
  id.gid = st.st_gid;
  id.mode = st.st_mode;
  id.dir_mode = dir.st_mode;
  id.dir_uid = dir.st_uid;
  id.dir_gid = dir.st_gid;
  return id;
}

Event ExecOf(const std::string& path, int32_t pid, uint64_t ts) {
  Event e;
  e.kind = EventKind::kProcessExec;
  e.ts_ns = ts;
  e.pid = pid;
  e.start_ns = 1000;
  e.exe = path;
  return e;
}

ExeHasher::Clock FixedClock() {
  return [] { return std::make_pair(uint64_t{5'000'000'000}, uint64_t{5'000}); };
}

// A pid with no process: the worker must find the file by its path.
constexpr int32_t kNoSuchPid = 0x3ffffff0;

TEST(ExeHashCache, KeyIsDeviceInodeSizeMtimeCtimeAndThePath) {
  ExeHashCache c(16);
  const ExeKey k{1, 2, 3, 4, 5};
  c.Insert(k, {"/usr/bin/x", "aa", true});
  ASSERT_TRUE(c.Lookup(k, "/usr/bin/x"));
  EXPECT_EQ(c.Lookup(k, "/usr/bin/x")->sha256, "aa");
  EXPECT_FALSE(c.Lookup(k, "/usr/bin/y")) << "the packaged flag is about the path";
  for (int field = 0; field < 5; ++field) {
    ExeKey o = k;
    uint64_t* f[] = {&o.dev, &o.ino, &o.size};
    if (field < 3) *f[field] += 1;
    if (field == 3) o.mtime_ns += 1;
    if (field == 4) o.ctime_ns += 1;
    EXPECT_FALSE(c.Lookup(o, "/usr/bin/x")) << "field " << field;
  }
}

TEST(ExeHashCache, StaysWithinItsCapacity) {
  ExeHashCache c(8);
  for (uint64_t i = 0; i < 100; ++i) c.Insert(ExeKey{1, i, 1, 1, 1}, {"/p", "h", true});
  EXPECT_EQ(c.size(), 8u);
  EXPECT_TRUE(c.Lookup(ExeKey{1, 99, 1, 1, 1}, "/p")) << "the newest entry is kept";
}

TEST(ExeHashFlags, FromTheExecTimeIdentity) {
  ExeId id;
  id.valid = true;
  id.nlink = 1;
  id.mode = S_IFREG | 0755;
  id.dir_mode = S_IFDIR | 0755;
  EXPECT_EQ(FlagsFromId(id, "/usr/bin/true"), "");
  ExeId w = id;
  w.uid = 1000;  // owned by a user
  EXPECT_EQ(FlagsFromId(w, "/home/u/x"), "writable");
  w = id;
  w.mode = S_IFREG | 0775;
  w.gid = 50;
  EXPECT_EQ(FlagsFromId(w, "/x"), "writable");
  w.gid = 0;  // group-writable by root's group only
  EXPECT_EQ(FlagsFromId(w, "/x"), "");
  w = id;
  w.mode = S_IFREG | 0757;
  EXPECT_EQ(FlagsFromId(w, "/x"), "writable");
  w = id;
  w.dir_mode = S_IFDIR | 01777;  // /tmp
  EXPECT_EQ(FlagsFromId(w, "/tmp/x"), "dir_writable");
  w = id;
  w.nlink = 0;
  EXPECT_EQ(FlagsFromId(w, "/x"), "deleted");
  w = id;
  w.anon = true;
  w.nlink = 0;
  w.dir_mode = 0;
  EXPECT_EQ(FlagsFromId(w, "/memfd:payload"), "memfd");
  EXPECT_EQ(FlagsFromId(w, "/[anon]"), "anonymous");
  std::string f = "memfd";
  AddFlag(&f, "memfd");
  AddFlag(&f, "deleted");
  EXPECT_EQ(f, "memfd,deleted");
}

TEST(DpkgFiles, OwnsWhatTheListsNameThroughDirectorySymlinks) {
  const std::string d = TempDir();
  std::filesystem::create_directories(d + "/dpkg/info");
  std::filesystem::create_directories(d + "/usr/bin");
  std::filesystem::create_symlink("usr/bin", d + "/bin");  // a merged /usr
  WriteFile(d + "/dpkg/status", "Package: tool\nStatus: install ok installed\n");
  WriteFile(d + "/dpkg/info/tool.list", "/.\n" + d + "/bin\n" + d + "/bin/tool\n");
  DpkgFiles f(d + "/dpkg");
  EXPECT_EQ(f.Owns(d + "/usr/bin/tool"), std::optional<bool>(true));
  EXPECT_EQ(f.Owns(d + "/bin/tool"), std::optional<bool>(true));
  EXPECT_EQ(f.Owns(d + "/usr/bin/other"), std::optional<bool>(false));
  DpkgFiles none(d + "/nowhere");
  EXPECT_EQ(none.Owns(d + "/usr/bin/tool"), std::nullopt) << "no database: nothing concluded";
  std::filesystem::remove_all(d);
}

TEST(ExeHasher, HashEqualsSha256sumThenHitsTheCacheAndARewriteIsANewHash) {
  const std::string d = TempDir();
  const std::string bin = d + "/tool";
  WriteFile(bin, std::string(300000, 'a') + "first");
  ExeHashOptions o;
  o.dpkg_dir = d + "/no-dpkg";
  ExeHasher h(o, FixedClock());

  Event e1 = ExecOf(bin, kNoSuchPid, 1'000);
  const ExeId id1 = IdOf(bin);
  h.OnExec(&e1, id1);
  EXPECT_EQ(AttrOf(e1, kAttrExeHash), "pending");
  h.WaitIdle();
  std::vector<Event> r;
  h.TakeResults(&r);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].kind, EventKind::kExeHash);
  EXPECT_EQ(r[0].pid, kNoSuchPid);
  EXPECT_EQ(AttrOf(r[0], kAttrExecTs), "1000");
  EXPECT_EQ(AttrOf(r[0], kAttrExeHash), "ok");
  EXPECT_EQ(AttrOf(r[0], "hashed_via"), "path");
  const std::string first = std::string(AttrOf(r[0], kAttrExeSha256));
  EXPECT_EQ(first, Sha256sum(bin));

  // The same file again: the exec record carries the hash itself, no job.
  Event e2 = ExecOf(bin, kNoSuchPid, 2'000);
  h.OnExec(&e2, id1);
  EXPECT_EQ(AttrOf(e2, kAttrExeHash), "ok");
  EXPECT_EQ(AttrOf(e2, kAttrExeSha256), first);
  EXPECT_EQ(h.counters().hits, 1u);

  // Rewritten in place (same inode, same size): a new identity, a new hash.
  WriteFile(bin, std::string(300000, 'a') + "other");
  const ExeId id3 = IdOf(bin);
  ASSERT_EQ(id3.ino, id1.ino);
  Event e3 = ExecOf(bin, kNoSuchPid, 3'000);
  h.OnExec(&e3, id3);
  EXPECT_EQ(AttrOf(e3, kAttrExeHash), "pending");
  h.WaitIdle();
  r.clear();
  h.TakeResults(&r);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(AttrOf(r[0], kAttrExeSha256), Sha256sum(bin));
  EXPECT_NE(AttrOf(r[0], kAttrExeSha256), first);

  // The old identity no longer matches the file: never a hash of another file than executed.
  Event e4 = ExecOf(bin, kNoSuchPid, 4'000);
  ExeId stale = id1;
  stale.mtime_ns -= 1;  // a key the cache does not hold, for a file that is not there any more
  h.OnExec(&e4, stale);
  h.WaitIdle();
  r.clear();
  h.TakeResults(&r);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(AttrOf(r[0], kAttrExeHash), "unavailable");
  EXPECT_EQ(AttrOf(r[0], kAttrExeSha256), "");
  std::filesystem::remove_all(d);
}

TEST(ExeHasher, QueueFullAndTooLargeAreSaidInTheExecRecordAtOnce) {
  const std::string d = TempDir();
  const std::string bin = d + "/tool";
  WriteFile(bin, "0123456789");
  ExeHashOptions o;
  o.queue = 0;  // every miss finds the queue full
  o.dpkg_dir = d;
  {
    ExeHasher h(o, FixedClock());
    Event e = ExecOf(bin, kNoSuchPid, 1);
    h.OnExec(&e, IdOf(bin));
    EXPECT_EQ(AttrOf(e, kAttrExeHash), "queue_full");
    EXPECT_EQ(h.counters().queue_full, 1u);
  }
  o.queue = 8;
  o.max_file_bytes = 9;
  ExeHasher h(o, FixedClock());
  Event e = ExecOf(bin, kNoSuchPid, 1);
  h.OnExec(&e, IdOf(bin));
  EXPECT_EQ(AttrOf(e, kAttrExeHash), "too_large");
  h.WaitIdle();
  std::vector<Event> r;
  h.TakeResults(&r);
  EXPECT_TRUE(r.empty()) << "a file above the cap is never read";
  std::filesystem::remove_all(d);
}

TEST(ExeHasher, UnpackagedBinaryIsFlaggedAndAPackagedOneIsNot) {
  const std::string d = TempDir();
  std::filesystem::create_directories(d + "/dpkg/info");
  WriteFile(d + "/dpkg/status", "Package: tool\n");
  WriteFile(d + "/dpkg/info/tool.list", d + "/packaged\n");
  WriteFile(d + "/packaged", "p");
  WriteFile(d + "/dropped", "d");
  ExeHashOptions o;
  o.dpkg_dir = d + "/dpkg";
  ExeHasher h(o, FixedClock());
  Event a = ExecOf(d + "/packaged", kNoSuchPid, 1), b = ExecOf(d + "/dropped", kNoSuchPid, 2);
  h.OnExec(&a, IdOf(d + "/packaged"));
  h.OnExec(&b, IdOf(d + "/dropped"));
  h.WaitIdle();
  std::vector<Event> r;
  h.TakeResults(&r);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(AttrOf(r[0], kAttrExeFlags).find("unpackaged"), std::string_view::npos);
  EXPECT_NE(AttrOf(r[1], kAttrExeFlags).find("unpackaged"), std::string_view::npos);
  // The cache remembers it for the next exec of the same file.
  Event c = ExecOf(d + "/dropped", kNoSuchPid, 3);
  h.OnExec(&c, IdOf(d + "/dropped"));
  EXPECT_EQ(AttrOf(c, kAttrExeHash), "ok");
  EXPECT_NE(AttrOf(c, kAttrExeFlags).find("unpackaged"), std::string_view::npos);
  std::filesystem::remove_all(d);
}

// Both fold engines: the exec's own attrs, an exe_hash completing the exec it names, one naming
// an older exec ignored, a fork inheriting the image's hash, a snapshot round trip.
TEST(ExeHashFold, ExeHashRecordCompletesOnlyTheExecItNames) {
  std::vector<std::pair<EventKey, Event>> evs;
  auto push = [&](Event e) { evs.push_back({EventKey{e.ts_ns, evs.size() + 1}, std::move(e)}); };
  Event x = ExecOf("/usr/bin/a", 10, 100);
  AddIntegrityAttrs("pending", "", "writable", &x);
  push(x);
  Event early;  // forked while the hash was pending: the same image
  early.kind = EventKind::kProcessFork;
  early.ts_ns = 120;
  early.pid = 12;
  early.start_ns = 1500;
  early.ppid = 10;
  early.parent_start_ns = 1000;
  push(early);
  Event h;
  h.kind = EventKind::kExeHash;
  h.ts_ns = 150;
  h.pid = 10;
  h.start_ns = 1000;
  h.exe = "/usr/bin/a";
  h.attrs = {{std::string(kAttrExecTs), "100"}};
  AddIntegrityAttrs("ok", std::string(64, 'a'), "writable,unpackaged", &h);
  push(h);
  Event f;
  f.kind = EventKind::kProcessFork;
  f.ts_ns = 160;
  f.pid = 11;
  f.start_ns = 2000;
  f.ppid = 10;
  f.parent_start_ns = 1000;
  push(f);
  Event y = ExecOf("/usr/bin/b", 10, 200);  // the same process execs again
  AddIntegrityAttrs("pending", "", "", &y);
  push(y);
  Event late = h;  // the first exec's hash arriving after the second exec
  late.ts_ns = 250;
  push(late);

  State ref;
  StateFolder folder;
  for (auto& [k, e] : evs) {
    Fold(ref, e, k);
    ASSERT_TRUE(folder.Apply(k, EncodeEventToString(e)).ok());
  }
  const State lazy = folder.Finish();
  EXPECT_EQ(ref, lazy);
  const Process& p10 = ref.processes.at(ProcKey{10, 1000});
  EXPECT_EQ(p10.exe, "/usr/bin/b");
  EXPECT_EQ(p10.exe_hash, "pending") << "the late hash is of /usr/bin/a, not of this image";
  EXPECT_EQ(p10.exe_sha256, "");
  const Process& p11 = ref.processes.at(ProcKey{11, 2000});
  EXPECT_EQ(p11.exe, "/usr/bin/a");
  EXPECT_EQ(p11.exe_hash, "ok");
  EXPECT_EQ(p11.exe_sha256, std::string(64, 'a'));
  EXPECT_EQ(p11.exe_flags, "writable,unpackaged");
  EXPECT_EQ(ref.processes.at(ProcKey{12, 1500}), ([&] {
              Process c = p11;
              c.pid = 12;
              c.start_ns = 1500;
              c.since_ns = 120;
              return c;
            }()))
      << "a child forked while the hash was pending gets it with its parent";
  // Snapshots keep the fields; a resync upsert of the process carries them whole.
  Snapshot snap;
  snap.state = ref;
  State back;
  ASSERT_TRUE(DecodeSnapshotState(EncodeSnapshot(snap), &back).ok());
  EXPECT_EQ(back.processes.at(ProcKey{11, 2000}), p11);
  Event re = ProcessEvent(EventKind::kResync, p11);
  re.resync_op = ResyncOp::kUpsert;
  re.resync_entity = ResyncEntity::kProcess;
  State s2;
  Fold(s2, re, EventKey{1, 1});
  EXPECT_EQ(s2.processes.at(ProcKey{11, 2000}).exe_sha256, p11.exe_sha256);
}

}  // namespace
}  // namespace twin::capture
