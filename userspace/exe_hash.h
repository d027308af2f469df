// Executable integrity: the SHA-256 of each executed binary and the flags an investigator looks
// for (docs/FORENSICS.md, "Executable integrity"). The probe hands over the executed file's
// identity as the kernel saw it at exec (userspace/decode.h ExeId); the hash is computed on a
// worker thread of its own, never on the capture path:
//   * cache hit (same dev, inode, size, mtime, ctime, path): the exec record itself carries
//     exe_hash=ok, exe_sha256 and exe_flags (a map lookup on the writer thread);
//   * miss: the exec record says exe_hash=pending and a job is queued; the worker writes an
//     exe_hash record naming the exec (pid, start_ns, exec_ts_ns) when it is done;
//   * queue full, or a file above max_file_bytes: the exec record says exe_hash=queue_full or
//     too_large at once. Nothing ever waits for the worker.
// The worker reads the file through /proc/<pid>/exe while the process lives (the very inode it
// runs, deleted or memfd included), else by its path opened O_PATH; either way it hashes only a
// regular file whose inode, size, mtime and ctime are those the kernel reported at exec, and
// checks them again after reading, so a hash is never of another file than the one executed.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eventlog/event.h"
#include "userspace/decode.h"
#include "userspace/exe_hash_options.h"

namespace twin::capture {


// The cache key: the executed file's identity. A rewrite (new inode, or the same inode written:
// size/mtime/ctime move; ctime cannot be set back from userspace) is a new key.
struct ExeKey {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const ExeKey&) const = default;
};
struct ExeKeyHash {
  size_t operator()(const ExeKey& k) const;
};
ExeKey KeyOf(const ExeId& id);

// Bounded map ExeKey -> (path, sha256, packaged). A hit needs the same key and the same path
// (the packaged flag is about the path). Thread-safe. At capacity an arbitrary entry goes.
class ExeHashCache {
 public:
  struct Entry {
    std::string path;
    std::string sha256;  // hex
    bool packaged = false;
  };
  explicit ExeHashCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}
  std::optional<Entry> Lookup(const ExeKey& k, std::string_view path) const;
  void Insert(const ExeKey& k, Entry e);
  size_t size() const;

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<ExeKey, Entry, ExeKeyHash> map_;
};

// The flags that follow from the exec-time identity alone (comma-separated, fixed order):
// deleted (no link left at exec), memfd / anonymous (a pseudo file: exe "/memfd:NAME" or
// another name), writable (owner not root, or group-writable by a non-root group, or
// world-writable), dir_writable (its directory is owned by a non-root user, or group-writable by
// a non-root group, or world-writable, sticky or not).
std::string FlagsFromId(const ExeId& id, std::string_view exe);
// Adds a flag to a comma list if absent.
void AddFlag(std::string* flags, std::string_view flag);

// The paths dpkg's file lists (<dpkg_dir>/info/*.list) name, directories resolved (/bin/x is
// /usr/bin/x on a merged-/usr system), kept as 64-bit hashes. Rebuilt when the status file
// changes. Worker thread only.
class DpkgFiles {
 public:
  explicit DpkgFiles(std::string dpkg_dir) : dir_(std::move(dpkg_dir)) {}
  // Whether dpkg knows the path; nullopt when there is no readable dpkg database.
  std::optional<bool> Owns(const std::string& path);
  size_t paths() const { return hashes_.size(); }

 private:
  void Load();
  std::string dir_;
  bool loaded_ = false, ok_ = false;
  int64_t status_mtime_ns_ = -1;
  uint64_t status_ino_ = 0;
  std::unordered_set<uint64_t> hashes_;
};

struct ExeHashCounters {
  uint64_t hits = 0, queued = 0, queue_full = 0, too_large = 0, hashed = 0, unavailable = 0,
           bytes_hashed = 0;
};

class ExeHasher {
 public:
  // now_ns stamps the follow-up records (wall ns, boot ns).
  using Clock = std::function<std::pair<uint64_t, uint64_t>()>;
  ExeHasher(ExeHashOptions o, Clock clock);
  ~ExeHasher();  // stops the worker; queued jobs are dropped (their execs say "pending")
  ExeHasher(const ExeHasher&) = delete;
  ExeHasher& operator=(const ExeHasher&) = delete;

  // Writer thread, for each exec record before it is written: adds the integrity attrs and, on a
  // miss, queues the hash. Never blocks on the worker.
  void OnExec(Event* exec, const ExeId& id);
  // A process found running without an exec record (the /proc resync at start-up or after a
  // gap): its executable's identity is read from /proc/<pid>/exe now, and its hash arrives as an
  // exe_hash record naming since_ns (the image's time in the state) like an exec's would; a
  // full queue is said in such a record at once. Writer thread; a stat and a readlink.
  void OnRunning(int32_t pid, uint64_t start_ns, uint64_t since_ns, const std::string& exe,
                 bool exe_truncated);
  // The finished exe_hash records (moves them out), in completion order.
  void TakeResults(std::vector<Event>* out);
  ExeHashCounters counters() const;

  // Waits until the worker has nothing queued (tests).
  void WaitIdle();

 private:
  struct Job {
    int32_t pid = 0;
    uint64_t start_ns = 0;
    uint64_t exec_ts_ns = 0;
    std::string exe;
    bool path_usable = true;  // false: exe is a tail of the real path (exe_truncated)
    ExeId id;
    std::string flags;  // from the identity
  };
  void Worker();
  Event Complete(const Job& j);

  ExeHashOptions o_;
  Clock clock_;
  ExeHashCache cache_;
  DpkgFiles dpkg_;  // worker only
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> jobs_;
  bool busy_ = false;
  bool stop_ = false;
  std::vector<Event> results_;
  ExeHashCounters ctr_;
  std::thread worker_;
};

}  // namespace twin::capture
