// The BPF probe set, RAII over the bpftool skeleton. Staged like falcosecurity/libs: Open →
// Configure → Load → Attach, each returning a Status, so --check can report the failing stage.
// Thread safety: stages on one thread; Poll() and ReadDrops() may be called from the reader thread
// once attached.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/events.h"
#include "eventlog/status.h"

struct twin_bpf;
struct ring_buffer;
struct bpf_link;

namespace twin::capture {

struct ProbeOptions {
  uint32_t ringbuf_bytes = 8u << 20;  // rounded up to a power of two >= page size
  uint32_t max_args = 4096;           // argv bound in bytes, <= TWIN_ARGS_CAP
  bool force_raw_tp = false;          // skip tp_btf even where it works
  // Wake the reader only once this much data waits (0 = every record; default = ring / 16). The
  // reader then also drains on a timer (Poll + Consume), which bounds latency.
  int64_t wakeup_bytes = -1;
};

enum class HookMode { kTpBtf, kRawTp };

struct HookStatus {
  std::string name;  // e.g. "sched_process_exec"
  std::string program;
  bool attached = false;
  std::string error;
};

// One counter row per CPU, indexed by twin_ev_kind.
using DropTable = std::vector<std::array<uint64_t, TWIN_EV_KIND_MAX>>;

class Probes {
 public:
  using RecordFn = std::function<void(const void* data, size_t size)>;

  Probes();
  ~Probes();
  Probes(const Probes&) = delete;
  Probes& operator=(const Probes&) = delete;

  Status Open();
  Status Configure(const ProbeOptions& options);
  Status Load();
  // Attaches every hook; fails if any hook of the active set cannot attach (capture would be
  // silently incomplete otherwise). hooks() tells which.
  Status Attach();
  // Detaches every hook: nothing more is captured; what is in the ring buffer stays to be polled.
  void Detach();
  // Creates the ring-buffer consumer; fn runs on the thread that calls Poll().
  Status OpenRingBuffer(RecordFn fn);
  // Waits up to timeout_ms for a wakeup, then drains whatever is there (records committed without
  // a wakeup included). Returns records consumed or -errno.
  int Poll(int timeout_ms);
  DropTable ReadDrops() const;

  HookMode mode() const { return mode_; }
  const std::vector<HookStatus>& hooks() const { return hooks_; }
  uint32_t ringbuf_bytes() const { return ringbuf_bytes_; }

 private:
  static int OnRecord(void* ctx, void* data, size_t size);
  twin_bpf* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  RecordFn fn_;
  HookMode mode_ = HookMode::kTpBtf;
  uint32_t ringbuf_bytes_ = 0;
  std::vector<HookStatus> hooks_;
  std::vector<::bpf_link*> links_;
};

// Loads a two-instruction tp_btf program against sched_process_exec: the only reliable test of
// whether BTF-typed tracing attaches here (libbpf_probe_bpf_prog_type says yes too eagerly).
bool ProbeTpBtf(std::string* why);
// Whether sched_process_exit carries the group_dead argument (kernel >= 6.14-ish), from BTF.
bool ExitTracepointHasGroupDead();
// Mounts tracefs at /sys/kernel/tracing and bpffs at /sys/fs/bpf when they are missing.
Status EnsureKernelFilesystems(std::vector<std::string>* actions);
bool IsMounted(const char* path, long magic);
inline constexpr long kTracefsMagic = 0x74726163;
inline constexpr long kBpffsMagic = 0xcafe4a11;

// Routes libbpf's messages to fn (warnings and above unless verbose).
void SetLibbpfLogger(std::function<void(int level, const std::string& msg)> fn, bool verbose);

const char* KindLabel(int raw_kind);  // twin_ev_kind → "exec", "exit", ...

}  // namespace twin::capture
