#include "userspace/exe_hash.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <cstring>
#include <map>
#include <memory>

#include "eventlog/state.h"
#include "format/codec.h"
#include "userspace/proc_read.h"

namespace twin::capture {
namespace {

int64_t Ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f) {
    if (fd >= 0) close(fd);
    fd = f;
  }
};

// How the file we can read compares with what the kernel executed.
enum class Match { kNo, kExact, kMetadataChanged };

Match Compare(const struct stat& st, const ExeId& id) {
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_ino) != id.ino ||
      static_cast<uint64_t>(st.st_size) != id.size || Ns(st.st_mtim) != id.mtime_ns)
    return Match::kNo;
  // ctime also moves on chmod, chown and unlink (a binary deleted after exec): the content is
  // unchanged unless its mtime was set back too, which only the ctime would tell.
  return Ns(st.st_ctim) == id.ctime_ns ? Match::kExact : Match::kMetadataChanged;
}

// Hashes up to limit + 1 bytes of fd; false on a read error.
bool HashFd(int fd, uint64_t limit, std::string* hex, uint64_t* bytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return false;
  static thread_local std::vector<char> buf(1 << 18);
  *bytes = 0;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    *bytes += static_cast<uint64_t>(n);
    if (*bytes > limit) return false;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  *hex = HexEncode(std::string_view(reinterpret_cast<const char*>(md), len));
  return true;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

// realpath of a directory, "" when it does not resolve.
std::string ResolveDir(const std::string& dir, std::map<std::string, std::string>* memo) {
  auto it = memo->find(dir);
  if (it != memo->end()) return it->second;
  char buf[PATH_MAX];
  std::string r = realpath(dir.c_str(), buf) ? std::string(buf) : std::string();
  memo->emplace(dir, r);
  return r;
}

uint64_t PathHash(std::string_view dir, std::string_view base) {
  std::string p(dir);
  if (p.empty() || p.back() != '/') p += '/';
  p += base;
  return std::hash<std::string>{}(p);
}

}  // namespace

size_t ExeKeyHash::operator()(const ExeKey& k) const {
  uint64_t h = k.dev * 0x9e3779b97f4a7c15ull;
  for (uint64_t v : {k.ino, k.size, static_cast<uint64_t>(k.mtime_ns),
                     static_cast<uint64_t>(k.ctime_ns)})
    h = (h ^ v) * 0x100000001b3ull + (h >> 29);
  return static_cast<size_t>(h);
}

ExeKey KeyOf(const ExeId& id) { return {id.dev, id.ino, id.size, id.mtime_ns, id.ctime_ns}; }

std::optional<ExeHashCache::Entry> ExeHashCache::Lookup(const ExeKey& k,
                                                        std::string_view path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(k);
  if (it == map_.end() || it->second.path != path) return std::nullopt;
  return it->second;
}

void ExeHashCache::Insert(const ExeKey& k, Entry e) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(k);
  if (it == map_.end() && map_.size() >= capacity_) map_.erase(map_.begin());
  map_.insert_or_assign(k, std::move(e));
}

size_t ExeHashCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return map_.size();
}

void AddFlag(std::string* flags, std::string_view flag) {
  size_t i = 0;
  while (i <= flags->size()) {
    size_t j = flags->find(',', i);
    if (j == std::string::npos) j = flags->size();
    if (std::string_view(*flags).substr(i, j - i) == flag) return;
    i = j + 1;
  }
  if (!flags->empty()) *flags += ',';
  *flags += flag;
}

std::string FlagsFromId(const ExeId& id, std::string_view exe) {
  std::string f;
  if (!id.valid) return f;
  if (id.anon) {
    AddFlag(&f, exe.substr(0, 7) == "/memfd:" ? "memfd" : "anonymous");
  } else if (id.nlink == 0) {
    AddFlag(&f, "deleted");
  }
  if (id.uid != 0 || (id.mode & S_IWOTH) || ((id.mode & S_IWGRP) && id.gid != 0))
    AddFlag(&f, "writable");
  if (!id.anon && id.dir_mode != 0 &&
      (id.dir_uid != 0 || (id.dir_mode & S_IWOTH) || ((id.dir_mode & S_IWGRP) && id.dir_gid != 0)))
    AddFlag(&f, "dir_writable");
  return f;
}

void DpkgFiles::Load() {
  struct stat st {};
  const std::string status = dir_ + "/status";
  const bool have = stat(status.c_str(), &st) == 0;
  const int64_t mt = have ? Ns(st.st_mtim) : -2;
  const uint64_t ino = have ? static_cast<uint64_t>(st.st_ino) : 0;
  if (loaded_ && mt == status_mtime_ns_ && ino == status_ino_) return;
  loaded_ = true;
  status_mtime_ns_ = mt;
  status_ino_ = ino;
  hashes_.clear();
  ok_ = false;
  if (!have) return;
  const std::string info = dir_ + "/info";
  std::unique_ptr<DIR, decltype(&closedir)> d(opendir(info.c_str()), closedir);
  if (!d) return;
  std::map<std::string, std::string> memo;
  while (struct dirent* ent = readdir(d.get())) {
    const std::string_view name = ent->d_name;
    if (name.size() < 6 || name.substr(name.size() - 5) != ".list") continue;
    bool read_ok = false;
    const std::string body = ReadFileLimited(info + "/" + std::string(name), 64u << 20, &read_ok);
    if (!read_ok) continue;
    size_t i = 0;
    while (i < body.size()) {
      size_t j = body.find('\n', i);
      if (j == std::string::npos) j = body.size();
      const std::string line = body.substr(i, j - i);
      i = j + 1;
      if (line.size() < 2 || line[0] != '/') continue;
      const size_t slash = line.rfind('/');
      const std::string dir = slash == 0 ? std::string("/") : line.substr(0, slash);
      const std::string real = ResolveDir(dir, &memo);
      const std::string_view base = std::string_view(line).substr(slash + 1);
      hashes_.insert(PathHash(dir, base));
      if (!real.empty() && real != dir) hashes_.insert(PathHash(real, base));
    }
  }
  ok_ = true;
}

std::optional<bool> DpkgFiles::Owns(const std::string& path) {
  if (dir_.empty()) return std::nullopt;
  Load();
  if (!ok_) return std::nullopt;
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return false;
  const std::string_view base = std::string_view(path).substr(slash + 1);
  if (hashes_.count(PathHash(DirOf(path), base))) return true;
  std::map<std::string, std::string> memo;
  const std::string real = ResolveDir(DirOf(path), &memo);
  return !real.empty() && hashes_.count(PathHash(real, base)) > 0;
}

ExeHasher::ExeHasher(ExeHashOptions o, Clock clock)
    : o_(std::move(o)), clock_(std::move(clock)), cache_(o_.cache_entries), dpkg_(o_.dpkg_dir) {
  worker_ = std::thread([this] { Worker(); });
}

ExeHasher::~ExeHasher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void ExeHasher::OnExec(Event* e, const ExeId& id) {
  std::string flags = FlagsFromId(id, e->exe);
  std::string_view status;
  std::string sha;
  if (!id.valid) {
    status = "unavailable";
  } else if (id.size > o_.max_file_bytes) {
    status = "too_large";
    std::lock_guard<std::mutex> l(mu_);
    ++ctr_.too_large;
  } else if (auto hit = cache_.Lookup(KeyOf(id), e->exe)) {
    status = "ok";
    sha = std::move(hit->sha256);
    if (!hit->packaged && !id.anon) AddFlag(&flags, "unpackaged");
    std::lock_guard<std::mutex> l(mu_);
    ++ctr_.hits;
  } else {
    std::lock_guard<std::mutex> l(mu_);
    if (jobs_.size() >= o_.queue) {
      status = "queue_full";
      ++ctr_.queue_full;
    } else {
      status = "pending";
      ++ctr_.queued;
      jobs_.push_back(Job{e->pid, e->start_ns, e->ts_ns, e->exe, !e->exe_truncated, id, flags});
      cv_.notify_one();
    }
  }
  AddIntegrityAttrs(status, sha, flags, e);
}

void ExeHasher::OnRunning(int32_t pid, uint64_t start_ns, uint64_t since_ns,
                          const std::string& exe, bool exe_truncated) {
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  struct stat st {};
  if (stat(link.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // gone, or a kernel thread
  ExeId id;
  id.valid = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = Ns(st.st_mtim);
  id.ctime_ns = Ns(st.st_ctim);
  id.nlink = static_cast<uint32_t>(st.st_nlink);
  id.uid = st.st_uid;
  id.gid = st.st_gid;
  id.mode = st.st_mode;
  id.anon = exe.rfind("/memfd:", 0) == 0 && st.st_nlink == 0;
  struct stat dir {};
  if (!id.anon && st.st_nlink > 0 && !exe.empty() && exe[0] == '/' &&
      stat(DirOf(exe).c_str(), &dir) == 0) {
    id.dir_mode = dir.st_mode;
    id.dir_uid = dir.st_uid;
    id.dir_gid = dir.st_gid;
  }
  Job j{pid, start_ns, since_ns, exe, !exe_truncated, id, FlagsFromId(id, exe)};
  std::lock_guard<std::mutex> l(mu_);
  if (id.size > o_.max_file_bytes || jobs_.size() >= o_.queue) {
    const bool large = id.size > o_.max_file_bytes;
    ++(large ? ctr_.too_large : ctr_.queue_full);
    Event r;
    r.kind = EventKind::kExeHash;
    std::tie(r.ts_ns, r.boottime_ns) = clock_();
    r.pid = pid;
    r.start_ns = start_ns;
    r.exe = exe;
    r.attrs.emplace_back(kAttrExecTs, std::to_string(since_ns));
    AddIntegrityAttrs(large ? "too_large" : "queue_full", "", j.flags, &r);
    results_.push_back(std::move(r));
    return;
  }
  ++ctr_.queued;
  jobs_.push_back(std::move(j));
  cv_.notify_one();
}

void ExeHasher::TakeResults(std::vector<Event>* out) {
  std::lock_guard<std::mutex> l(mu_);
  for (Event& e : results_) out->push_back(std::move(e));
  results_.clear();
}

ExeHashCounters ExeHasher::counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return ctr_;
}

void ExeHasher::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [&] { return jobs_.empty() && !busy_; });
}

void ExeHasher::Worker() {
  pthread_setname_np(pthread_self(), "twind-exehash");
  // Hashing yields to capture: the thread's own nice value (Linux threads have one each).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job j = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    l.unlock();
    Event r = Complete(j);
    l.lock();
    if (AttrOf(r, kAttrExeHash) == "ok") ++ctr_.hashed;
    else ++ctr_.unavailable;
    results_.push_back(std::move(r));
    busy_ = false;
    if (jobs_.empty()) idle_cv_.notify_all();
  }
}

Event ExeHasher::Complete(const Job& j) {
  Event r;
  r.kind = EventKind::kExeHash;
  std::tie(r.ts_ns, r.boottime_ns) = clock_();
  r.pid = j.pid;
  r.start_ns = j.start_ns;
  r.exe = j.exe;
  std::string flags = j.flags;
  std::string status, sha, reason, via;
  const ExeKey key = KeyOf(j.id);
  bool packaged_known = false, packaged = false;
  if (auto hit = cache_.Lookup(key, j.exe)) {
    // An earlier job hashed the same file.
    status = "ok";
    sha = hit->sha256;
    packaged_known = true;
    packaged = hit->packaged;
    via = "cache";
  } else {
    Fd fd;
    Match m = Match::kNo;
    struct stat st {};
    // The very file the process runs, while it lives: deleted and memfd binaries included.
    const std::string proc_exe = "/proc/" + std::to_string(j.pid) + "/exe";
    fd.reset(open(proc_exe.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.fd >= 0 && fstat(fd.fd, &st) == 0) m = Compare(st, j.id);
    if (m != Match::kNo) {
      via = "proc";
      if (st.st_nlink == 0 && !j.id.anon) AddFlag(&flags, "deleted");
    } else if (!j.id.anon && j.path_usable && !j.exe.empty() && j.exe[0] == '/') {
      // The process is gone (or runs something else now): the path, if it still names the
      // executed inode. O_PATH first, so that nothing but a regular file is ever opened to read.
      fd.reset(-1);
      Fd p(open(j.exe.c_str(), O_PATH | O_CLOEXEC));
      if (p.fd >= 0 && fstat(p.fd, &st) == 0 && (m = Compare(st, j.id)) != Match::kNo) {
        const std::string self = "/proc/self/fd/" + std::to_string(p.fd);
        fd.reset(open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
        via = "path";
        if (fd.fd < 0) m = Match::kNo;
      } else {
        m = Match::kNo;
      }
    }
    if (m == Match::kNo || fd.fd < 0) {
      status = "unavailable";
      reason = j.id.anon ? "the process exited; an anonymous file has no path"
                         : "the process exited or exec'd again and the path names another file";
    } else {
      uint64_t bytes = 0;
      struct stat after {};
      if (!HashFd(fd.fd, o_.max_file_bytes, &sha, &bytes)) {
        status = "error";
        reason = bytes > o_.max_file_bytes ? "file grew past max_file_bytes while read"
                                           : std::string("read failed: ") + strerror(errno);
        sha.clear();
      } else if (fstat(fd.fd, &after) != 0 || Compare(after, j.id) == Match::kNo ||
                 bytes != j.id.size) {
        status = "unavailable";
        reason = "the file changed while it was read";
        sha.clear();
      } else {
        status = "ok";
        if (m == Match::kMetadataChanged || Compare(after, j.id) != Match::kExact)
          AddFlag(&flags, "ctime_changed");
        std::lock_guard<std::mutex> l(mu_);
        ctr_.bytes_hashed += bytes;
      }
    }
    if (status == "ok" && !j.id.anon && j.path_usable && !j.exe.empty()) {
      if (auto owns = dpkg_.Owns(j.exe)) {
        packaged_known = true;
        packaged = *owns;
      }
      if (m == Match::kExact)
        cache_.Insert(key, {j.exe, sha, packaged_known ? packaged : true});
    }
  }
  if (packaged_known && !packaged && !j.id.anon) AddFlag(&flags, "unpackaged");
  r.attrs.emplace_back(kAttrExecTs, std::to_string(j.exec_ts_ns));
  AddIntegrityAttrs(status, sha, flags, &r);
  if (!reason.empty()) r.attrs.emplace_back("exe_hash_reason", reason);
  if (!via.empty()) r.attrs.emplace_back("hashed_via", via);
  r.attrs.emplace_back("dev", std::to_string(j.id.dev));
  r.attrs.emplace_back("ino", std::to_string(j.id.ino));
  r.attrs.emplace_back("size", std::to_string(j.id.size));
  r.attrs.emplace_back("mtime_ns", std::to_string(j.id.mtime_ns));
  r.attrs.emplace_back("ctime_ns", std::to_string(j.id.ctime_ns));
  return r;
}

}  // namespace twin::capture
