#include "eventlog/folder.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <vector>

#include "eventlog/batch_pipe.h"
#include "eventlog/codec_fb.h"
#include "eventlog/fold_core.h"

namespace twin {
namespace {

using FbString = flatbuffers::String;

std::string_view View(const FbString* s) {
  return s ? std::string_view(s->data(), s->size()) : std::string_view();
}

// A process whose image is a reference: to the event record that set it, or to a process of
// the base state the folder started from.
struct LazyProcess {
  int32_t pid = 0;
  uint64_t start_ns = 0;
  int32_t ppid = 0;
  uint64_t parent_start_ns = 0;
  uint64_t since_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  const fb::Event* record = nullptr;
  const Process* base = nullptr;
  const fb::Event* integrity = nullptr;  // an exe_hash record completing the image
};

// The verified-record view for the fold core.
struct RecordView {
  const fb::Event* e;
  EventKind kind() const { return static_cast<EventKind>(e->kind()); }
  uint64_t ts_ns() const { return e->ts_ns(); }
  int32_t pid() const { return e->pid(); }
  int32_t ppid() const { return e->ppid(); }
  uint64_t start_ns() const { return e->start_ns(); }
  uint64_t parent_start_ns() const { return e->parent_start_ns(); }
  uint8_t proto() const { return e->proto(); }
  uint8_t family() const { return e->family(); }
  uint16_t port() const { return e->port(); }
  uint64_t sock_inode() const { return e->sock_inode(); }
  int32_t result() const { return e->result(); }
  uint64_t gap_start_ns() const { return e->gap_start_ns(); }
  ResyncOp resync_op() const { return static_cast<ResyncOp>(e->resync_op()); }
  ResyncEntity resync_entity() const { return static_cast<ResyncEntity>(e->resync_entity()); }
  std::string_view comm() const { return View(e->comm()); }
  std::string_view addr() const { return View(e->addr()); }
  std::string_view unit() const { return View(e->unit()); }
  std::string_view cgroup() const { return View(e->cgroup()); }
  std::string_view unit_file_path() const { return View(e->unit_file_path()); }
  std::string_view unit_file_sha256() const { return View(e->unit_file_sha256()); }
  std::string_view unit_file_content() const { return View(e->unit_file_content()); }
  HostFacts host() const { return DecodeHost(e->host()); }
  std::string_view attr(std::string_view k) const {
    if (const auto* kvs = e->attrs()) {
      for (const auto* kv : *kvs)
        if (View(kv->k()) == k) return View(kv->v());
    }
    return {};
  }
};

void SetImageFrom(LazyProcess& p, const RecordView& v) {
  p.uid = v.e->uid();
  p.gid = v.e->gid();
  p.record = v.e;
  p.base = nullptr;
  p.integrity = nullptr;  // the image's own record carries its integrity attrs, if any
}

void SetIntegrityFrom(LazyProcess& p, const RecordView& v) { p.integrity = v.e; }

std::string_view ExeOf(const LazyProcess& p) {
  if (p.record) return View(p.record->exe());
  return p.base ? std::string_view(p.base->exe) : std::string_view();
}
std::string_view ExeHashOf(const LazyProcess& p) {
  if (p.integrity) return RecordView{p.integrity}.attr(kAttrExeHash);
  if (p.record) return RecordView{p.record}.attr(kAttrExeHash);
  return p.base ? std::string_view(p.base->exe_hash) : std::string_view();
}

void ReadIntegrity(const fb::Event* e, Process* p) {
  const RecordView v{e};
  p->exe_sha256 = v.attr(kAttrExeSha256);
  p->exe_hash = v.attr(kAttrExeHash);
  p->exe_flags = v.attr(kAttrExeFlags);
}

Process Materialize(const LazyProcess& l) {
  Process p;
  if (l.record) {
    const fb::Event* e = l.record;
    p.comm = View(e->comm());
    p.exe = View(e->exe());
    p.cwd = View(e->cwd());
    if (const auto* argv = e->argv()) {
      p.argv.reserve(argv->size());
      for (const FbString* a : *argv) p.argv.emplace_back(View(a));
    }
    p.argv_truncated = e->argv_truncated();
    p.exe_truncated = e->exe_truncated();
    p.cwd_truncated = e->cwd_truncated();
    p.cgroup = View(e->cgroup());
    p.unit = View(e->unit());
    p.container_id = View(e->container_id());
    ReadIntegrity(e, &p);
  } else if (l.base) {
    p = *l.base;
  }
  if (l.integrity) ReadIntegrity(l.integrity, &p);
  p.pid = l.pid;
  p.start_ns = l.start_ns;
  p.ppid = l.ppid;
  p.parent_start_ns = l.parent_start_ns;
  p.uid = l.uid;
  p.gid = l.gid;
  p.since_ns = l.since_ns;
  return p;
}

// Copies of the records that set a process image, in large chunks.
class RecordArena {
 public:
  static constexpr size_t kChunk = 1 << 20;
  const char* Copy(std::string_view bytes) {
    const size_t need = (bytes.size() + 7) & ~size_t{7};
    if (chunks_.empty() || used_ + need > chunk_size_) {
      chunk_size_ = std::max(kChunk, need);
      chunks_.emplace_back(new char[chunk_size_]);
      used_ = 0;
      total_ += chunk_size_;
    }
    char* dst = chunks_.back().get() + used_;
    std::memcpy(dst, bytes.data(), bytes.size());
    used_ += need;
    return dst;
  }
  size_t bytes() const { return total_; }

 private:
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_size_ = 0, used_ = 0, total_ = 0;
};

bool SetsImage(const fb::Event* e) {
  switch (static_cast<EventKind>(e->kind())) {
    case EventKind::kProcessExec:
    case EventKind::kProcessFork:
    case EventKind::kExeHash:  // kept as a process's integrity record
      return true;
    case EventKind::kResync:
      return static_cast<ResyncEntity>(e->resync_entity()) == ResyncEntity::kProcess &&
             static_cast<ResyncOp>(e->resync_op()) == ResyncOp::kUpsert;
    default:
      return false;
  }
}

}  // namespace

struct StateFolder::Impl {
  BasicState<LazyProcess> state;
  std::deque<Process> base;  // images the lazy processes may point at (stable addresses)
  RecordArena arena;
  size_t max_arena_bytes = 0;

  void Adopt(std::map<ProcKey, Process>&& procs) {
    for (auto& [k, p] : procs) {
      base.push_back(std::move(p));
      const Process& b = base.back();
      LazyProcess l{b.pid, b.start_ns, b.ppid, b.parent_start_ns, b.since_ns, b.uid, b.gid,
                    nullptr, &b};
      state.processes.emplace_hint(state.processes.end(), k, l);
    }
  }

  void Init(State base) {
    state = BasicState<LazyProcess>{};
    this->base.clear();
    arena = RecordArena();
    state.ts_ns = base.ts_ns;
    state.last_key = base.last_key;
    state.events_folded = base.events_folded;
    state.units = std::move(base.units);
    state.listeners = std::move(base.listeners);
    state.host = std::move(base.host);
    state.packages = std::move(base.packages);
    state.config_files = std::move(base.config_files);
    state.users = std::move(base.users);
    state.groups = std::move(base.groups);
    state.unit_config = std::move(base.unit_config);
    state.uncertain = base.uncertain;
    state.uncertain_since_ns = base.uncertain_since_ns;
    Adopt(std::move(base.processes));
  }

  // `e` is the verified root of `record`. Records that set an image are copied into the arena
  // (the caller's bytes do not outlive the call).
  void ApplyVerified(const EventKey& key, std::string_view record, const fb::Event* e) {
    if (SetsImage(e)) {
      if (arena.bytes() >= max_arena_bytes) Reclaim();
      e = flatbuffers::GetRoot<fb::Event>(arena.Copy(record));
    }
    fold::Apply(state, RecordView{e}, key);
  }

  // Long folds (a full replay) would keep every exec record alive: once the arena is big,
  // materialise the live processes and drop the records and the old base.
  void Reclaim() {
    std::map<ProcKey, Process> live;
    for (const auto& [k, l] : state.processes) live.emplace_hint(live.end(), k, Materialize(l));
    state.processes.clear();
    base.clear();
    arena = RecordArena();
    Adopt(std::move(live));
  }
};

StateFolder::StateFolder(State base, size_t max_arena_bytes) : impl_(std::make_unique<Impl>()) {
  impl_->max_arena_bytes = max_arena_bytes;
  impl_->Init(std::move(base));
}

StateFolder::~StateFolder() = default;

Status StateFolder::Apply(const EventKey& key, std::string_view record, EventKind* kind) {
  Status error;
  const fb::Event* e = VerifiedEvent(record, &error);
  if (!e) return error;
  if (kind) *kind = static_cast<EventKind>(e->kind());
  impl_->ApplyVerified(key, record, e);
  return Status::Ok();
}

State StateFolder::Finish() {
  BasicState<LazyProcess>& s = impl_->state;
  State out;
  out.ts_ns = s.ts_ns;
  out.last_key = s.last_key;
  out.events_folded = s.events_folded;
  for (const auto& [k, l] : s.processes) {
    out.processes.emplace_hint(out.processes.end(), k, Materialize(l));
  }
  out.units = std::move(s.units);
  out.listeners = std::move(s.listeners);
  out.host = std::move(s.host);
  out.packages = std::move(s.packages);
  out.config_files = std::move(s.config_files);
  out.users = std::move(s.users);
  out.groups = std::move(s.groups);
  out.unit_config = std::move(s.unit_config);
  out.uncertain = s.uncertain;
  out.uncertain_since_ns = s.uncertain_since_ns;
  const size_t max_arena = impl_->max_arena_bytes;
  impl_ = std::make_unique<Impl>();
  impl_->max_arena_bytes = max_arena;
  return out;
}

// The pipeline behind FoldRange and FoldRangeOnto: this thread iterates RocksDB and copies
// the records into batches; a second thread runs `prepare` (if any), then verifies and folds
// the batches. Without `prepare` the second thread starts only once a range fills a batch.
static Status FoldPipelined(const EventLog& log, const EventKey& from, const EventKey& to,
                            StateFolder::Impl& impl, const std::function<Status()>& prepare,
                            bool check_chain) {
  static constexpr size_t kBatchRecords = 4096;
  BatchPipe pipe;
  std::thread worker;
  std::atomic<bool> failed{false};
  Status failure;  // written by the folding side, read after the join
  auto fold_batch = [&](const Batch& b) {
    if (failed.load(std::memory_order_relaxed)) return;
    for (const Batch::Item& i : b.items) {
      const std::string_view record = b.Record(i);
      Status error;
      const fb::Event* e = VerifiedEvent(record, &error);
      if (!e) {
        failure = RecordCorruption(i.key, error);
        failed.store(true);
        return;
      }
      impl.ApplyVerified(i.key, record, e);
    }
  };
  auto start_worker = [&] {
    worker = std::thread([&] {
      if (prepare) {
        Status p = prepare();
        if (!p.ok()) {
          failure = p;
          failed.store(true);
        }
      }
      while (auto b = pipe.Pop()) {
        fold_batch(*b);
        pipe.Recycle(std::move(b));
      }
    });
  };
  if (prepare) start_worker();
  auto batch = pipe.Fresh();
  Status s = log.ScanRecords(from, to, [&](const EventKey& k, std::string_view record) {
    if (failed.load(std::memory_order_relaxed)) return false;
    batch->Add(k, record);
    if (batch->items.size() == kBatchRecords) {
      if (!worker.joinable()) start_worker();
      pipe.Push(std::move(batch));
      batch = pipe.Fresh();
    }
    return true;
  }, nullptr, check_chain);
  if (worker.joinable()) {
    pipe.Push(std::move(batch));
    pipe.Close();
    worker.join();
  } else {
    fold_batch(*batch);
  }
  if (!failure.ok()) return failure;
  return s;
}

Status FoldRange(const EventLog& log, const EventKey& from, const EventKey& to,
                 StateFolder& folder, bool check_chain) {
  return FoldPipelined(log, from, to, *folder.impl_, nullptr, check_chain);
}

Result<State> FoldRangeOnto(const EventLog& log, const EventKey& from, const EventKey& to,
                            const std::function<Result<State>()>& load_base, bool check_chain) {
  StateFolder folder;
  Status s = FoldPipelined(log, from, to, *folder.impl_, [&]() -> Status {
    auto base = load_base();
    if (!base.ok()) return base.status();
    folder.impl_->Init(std::move(base).value());
    return Status::Ok();
  }, check_chain);
  if (!s.ok()) return s;
  return folder.Finish();
}

struct FoldFeed::Impl {
  struct Item {
    std::unique_ptr<Batch> batch;                 // records, or
    std::promise<Result<State>>* cut = nullptr;  // a cut request
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;
  std::vector<std::unique_ptr<Batch>> spare;  // folded batches, reused: no fresh pages per push
  std::optional<State> base;  // handed to the worker once
  bool stop = false;
  std::thread worker;
  // Worker-only.
  StateFolder folder;
  bool based = false;
  Status failure;

  // The records come from this process's own FlatBuffers builder (EventLog::Append), not from
  // disk: the kind is checked, the verifier is not run again.
  void Fold(const Batch& b) {
    if (!failure.ok()) return;
    for (const Batch::Item& i : b.items) {
      const std::string_view record = b.Record(i);
      const fb::Event* e =
          record.size() < 12 ? nullptr : flatbuffers::GetRoot<fb::Event>(record.data());
      if (!e || e->kind() == 0 || e->kind() > kEventKindMax) {
        failure = RecordCorruption(i.key, Status::Corruption("committed record is malformed"));
        return;
      }
      folder.impl_->ApplyVerified(i.key, record, e);
    }
  }

  void Run() {
    while (true) {
      Item item;
      {
        std::unique_lock<std::mutex> l(mu);
        // Records wait for the base; cut requests and stop do not.
        cv.wait(l, [&] {
          return stop || (!queue.empty() && (based || base || queue.front().cut));
        });
        if (stop) return;
        if (!based && base) {
          folder.impl_->Init(std::move(*base));
          base.reset();
          based = true;
        }
        item = std::move(queue.front());
        queue.pop_front();
      }
      if (item.batch) {
        Fold(*item.batch);
        item.batch->Clear();
        std::lock_guard<std::mutex> l(mu);
        if (spare.size() < 8) spare.push_back(std::move(item.batch));
      } else if (!failure.ok()) {
        item.cut->set_value(failure);
      } else if (!based) {
        item.cut->set_value(Status::InvalidArgument("fold feed has no base state"));
      } else {
        State s = folder.Finish();
        folder.impl_->Init(s);
        item.cut->set_value(std::move(s));
      }
    }
  }
};

FoldFeed::FoldFeed() : impl_(std::make_unique<Impl>()) {
  impl_->worker = std::thread([p = impl_.get()] { p->Run(); });
}

FoldFeed::~FoldFeed() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
}

void FoldFeed::Push(std::span<const EventLog::CommittedRecord> records) {
  if (records.empty()) return;
  std::unique_ptr<Batch> b;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (!impl_->spare.empty()) {
      b = std::move(impl_->spare.back());
      impl_->spare.pop_back();
    }
  }
  if (!b) b = std::make_unique<Batch>();
  for (const auto& r : records) b->Add(r.key, r.record);
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->queue.push_back({std::move(b), nullptr});
  }
  impl_->cv.notify_one();
}

void FoldFeed::SetBase(State base) {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->base = std::move(base);
  }
  impl_->cv.notify_one();
}

Result<State> FoldFeed::Cut() {
  std::promise<Result<State>> done;
  auto f = done.get_future();
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->queue.push_back({nullptr, &done});
  }
  impl_->cv.notify_one();
  return f.get();
}

}  // namespace twin
