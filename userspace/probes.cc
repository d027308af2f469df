#include "userspace/probes.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "twin.skel.h"

namespace twin::capture {
namespace {

std::string Errno(int err) { return std::strerror(err < 0 ? -err : err); }

std::function<void(int, const std::string&)>& LibbpfSink() {
  static std::function<void(int, const std::string&)> sink;
  return sink;
}
bool g_libbpf_verbose = false;

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_libbpf_verbose) return 0;
  char buf[2048];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  std::string msg(buf, n > 0 ? std::min<size_t>(n, sizeof(buf) - 1) : 0);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (LibbpfSink()) LibbpfSink()(static_cast<int>(level), msg);
  return 0;
}

uint32_t RoundRingbuf(uint32_t bytes) {
  uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  uint32_t v = page;
  while (v < bytes && v < (1u << 30)) v <<= 1;
  return v;
}

struct HookDef {
  const char* hook;
  bpf_program* (*btf)(twin_bpf*);
  bpf_program* (*raw)(twin_bpf*);  // null: classic tracepoint, used in both modes
};

#define PROG(name) [](twin_bpf* s) { return s->progs.name; }
const HookDef kHooks[] = {
    {"sched_process_exec", PROG(exec_btf), PROG(exec_raw)},
    {"sched_process_exit", PROG(exit_btf), PROG(exit_raw)},
    {"sched_process_fork", PROG(fork_btf), PROG(fork_raw)},
    {"syscalls:sys_enter_bind", PROG(bind_enter), nullptr},
    {"syscalls:sys_exit_bind", PROG(bind_exit), nullptr},
    {"sock:inet_sock_set_state", PROG(set_state_btf), PROG(set_state_raw)},
    {"syscalls:sys_exit_listen", PROG(listen_exit), nullptr},
    {"cgroup:cgroup_mkdir", PROG(cgroup_mkdir_btf), PROG(cgroup_mkdir_raw)},
    {"cgroup:cgroup_rmdir", PROG(cgroup_rmdir_btf), PROG(cgroup_rmdir_raw)},
};
#undef PROG

}  // namespace

void SetLibbpfLogger(std::function<void(int, const std::string&)> fn, bool verbose) {
  LibbpfSink() = std::move(fn);
  g_libbpf_verbose = verbose;
  libbpf_set_print(LibbpfPrint);
}

const char* KindLabel(int k) {
  switch (k) {
    case TWIN_EV_EXEC: return "exec";
    case TWIN_EV_EXIT: return "exit";
    case TWIN_EV_FORK: return "fork";
    case TWIN_EV_BIND: return "bind";
    case TWIN_EV_LISTEN: return "listen";
    case TWIN_EV_LISTEN_CLOSE: return "listener_close";
    case TWIN_EV_CGROUP_MKDIR: return "cgroup_mkdir";
    case TWIN_EV_CGROUP_RMDIR: return "cgroup_rmdir";
    default: return "unknown";
  }
}

bool IsMounted(const char* path, long magic) {
  struct statfs st {};
  if (statfs(path, &st) != 0) return false;
  return static_cast<long>(st.f_type) == magic;
}

Status EnsureKernelFilesystems(std::vector<std::string>* actions) {
  struct Fs {
    const char* path;
    const char* type;
    long magic;
  };
  const Fs kFs[] = {{"/sys/kernel/tracing", "tracefs", kTracefsMagic},
                    {"/sys/fs/bpf", "bpf", kBpffsMagic}};
  for (const Fs& fs : kFs) {
    if (IsMounted(fs.path, fs.magic)) continue;
    mkdir(fs.path, 0700);  // usually exists; an error shows up in mount() below
    if (mount(fs.type, fs.path, fs.type, 0, nullptr) != 0) {
      return Status::Unavailable(std::string("cannot mount ") + fs.type + " at " + fs.path + ": " +
                                 Errno(errno));
    }
    if (actions) actions->push_back(std::string("mounted ") + fs.type + " at " + fs.path);
  }
  return Status::Ok();
}

bool ExitTracepointHasGroupDead() {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) return false;
  bool result = false;
  int id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_process_exit", BTF_KIND_TYPEDEF);
  if (id > 0) {
    const btf_type* t = btf__type_by_id(vmlinux, id);
    t = btf__type_by_id(vmlinux, t->type);  // pointer
    if (t && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);
    if (t && btf_is_func_proto(t)) result = btf_vlen(t) >= 3;  // (void*, task, bool)
  }
  btf__free(vmlinux);
  return result;
}

bool ProbeTpBtf(std::string* why) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (!vmlinux) {
    if (why) *why = "no kernel BTF";
    return false;
  }
  int id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_process_exec", BTF_KIND_TYPEDEF);
  btf__free(vmlinux);
  if (id <= 0) {
    if (why) *why = "btf_trace_sched_process_exec not in BTF";
    return false;
  }
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},  // r0 = 0
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},                   // exit
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP,
              .attach_btf_id = static_cast<__u32>(id));
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "twin_probe", "GPL", insns, 2, &opts);
  if (fd < 0) {
    if (why) *why = "tp_btf load refused: " + Errno(errno);
    return false;
  }
  int lfd = bpf_raw_tracepoint_open(nullptr, fd);
  bool ok = lfd >= 0;
  if (!ok && why) *why = "tp_btf attach refused: " + Errno(errno);
  if (lfd >= 0) close(lfd);
  close(fd);
  return ok;
}

Probes::Probes() = default;

Probes::~Probes() {
  if (rb_) ring_buffer__free(rb_);
  for (bpf_link* l : links_) bpf_link__destroy(l);
  if (skel_) twin_bpf__destroy(skel_);
}

Status Probes::Open() {
  skel_ = twin_bpf__open();
  if (!skel_) return Status::Unavailable("opening the BPF skeleton failed: " + Errno(errno));
  return Status::Ok();
}

Status Probes::Configure(const ProbeOptions& options) {
  if (!skel_) return Status::InvalidArgument("Configure before Open");
  std::string why;
  mode_ = (!options.force_raw_tp && ProbeTpBtf(&why)) ? HookMode::kTpBtf : HookMode::kRawTp;
  for (const HookDef& h : kHooks) {
    if (!h.raw) continue;
    bpf_program__set_autoload(h.btf(skel_), mode_ == HookMode::kTpBtf);
    bpf_program__set_autoload(h.raw(skel_), mode_ == HookMode::kRawTp);
  }
  ringbuf_bytes_ = RoundRingbuf(options.ringbuf_bytes);
  int err = bpf_map__set_max_entries(skel_->maps.events, ringbuf_bytes_);
  if (err) return Status::InvalidArgument("ring buffer size: " + Errno(err));
  skel_->rodata->max_args = std::min<uint32_t>(options.max_args, TWIN_ARGS_CAP);
  skel_->rodata->wakeup_bytes = options.wakeup_bytes >= 0
                                    ? static_cast<uint32_t>(options.wakeup_bytes)
                                    : ringbuf_bytes_ / 16;
  skel_->rodata->exit_has_group_dead = ExitTracepointHasGroupDead() ? 1 : 0;
  return Status::Ok();
}

Status Probes::Load() {
  int err = twin_bpf__load(skel_);
  if (err) return Status::Unavailable("loading BPF programs failed: " + Errno(err));
  return Status::Ok();
}

Status Probes::Attach() {
  hooks_.clear();
  std::string failed;
  for (const HookDef& h : kHooks) {
    bpf_program* p = (mode_ == HookMode::kRawTp && h.raw) ? h.raw(skel_) : h.btf(skel_);
    HookStatus hs;
    hs.name = h.hook;
    hs.program = bpf_program__name(p);
    bpf_link* link = bpf_program__attach(p);
    if (!link) {
      hs.error = Errno(errno);
      failed += (failed.empty() ? "" : ", ") + hs.name + " (" + hs.error + ")";
    } else {
      hs.attached = true;
      links_.push_back(link);
    }
    hooks_.push_back(std::move(hs));
  }
  if (!failed.empty()) return Status::Unavailable("hooks failed to attach: " + failed);
  return Status::Ok();
}

void Probes::Detach() {
  for (bpf_link* l : links_) bpf_link__destroy(l);
  links_.clear();
  for (HookStatus& h : hooks_) h.attached = false;
}

int Probes::OnRecord(void* ctx, void* data, size_t size) {
  static_cast<Probes*>(ctx)->fn_(data, size);
  return 0;
}

Status Probes::OpenRingBuffer(RecordFn fn) {
  fn_ = std::move(fn);
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Probes::OnRecord, this, nullptr);
  if (!rb_) return Status::Unavailable("ring buffer consumer: " + Errno(errno));
  return Status::Ok();
}

int Probes::Poll(int timeout_ms) {
  if (!rb_) return -EINVAL;
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0) return n;
  int m = ring_buffer__consume(rb_);
  return m < 0 ? m : n + m;
}

DropTable Probes::ReadDrops() const {
  int ncpu = libbpf_num_possible_cpus();
  DropTable table(ncpu > 0 ? ncpu : 0);
  if (!skel_ || ncpu <= 0) return table;
  std::vector<uint64_t> values(ncpu);
  for (uint32_t k = 0; k < TWIN_EV_KIND_MAX; ++k) {
    if (bpf_map__lookup_elem(skel_->maps.drops, &k, sizeof(k), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0) {
      continue;
    }
    for (int c = 0; c < ncpu; ++c) table[c][k] = values[c];
  }
  return table;
}

}  // namespace twin::capture
