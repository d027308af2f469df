/* Maps and helpers shared by the probe files. The maps are defined once (maps.bpf.c) and declared
 * extern elsewhere; `bpftool gen object` links the files into one object and one skeleton, so all
 * probes share one ring buffer and one drop-counter array. */
#ifndef SAFETYTWIN_BPF_COMMON_BPF_H_
#define SAFETYTWIN_BPF_COMMON_BPF_H_

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

#ifdef TWIN_DEFINE_MAPS
#define TWIN_MAP_DECL
#else
#define TWIN_MAP_DECL extern
#endif

TWIN_MAP_DECL struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024); /* resized by twind before load */
} events SEC(".maps");

/* Failed ring-buffer writes per CPU per kind: the ring buffer has no loss callback. */
TWIN_MAP_DECL struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, TWIN_EV_KIND_MAX);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

static __always_inline void twin_count_drop(__u32 kind) {
  __u64 *v = bpf_map_lookup_elem(&drops, &kind);
  if (v) *v += 1; /* per-CPU slot: no atomics needed */
}

/* Waking the reader costs an irq_work per record (measured ~10 us per exec/exit/fork with
 * bpf_stats on this VM), so records are committed without a wakeup until this much data waits;
 * the reader also polls on a short timer, which bounds latency. 0 = wake on every record. */
extern const volatile __u32 wakeup_bytes;

static __always_inline __u64 twin_wakeup_flag(void) {
  if (wakeup_bytes == 0) return 0;
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                        : BPF_RB_NO_WAKEUP;
}

/* Copies rec into the ring buffer; a full buffer is counted, never an error for the hook. */
static __always_inline void twin_output(void *rec, __u64 size, __u32 kind) {
  if (bpf_ringbuf_output(&events, rec, size, twin_wakeup_flag()) != 0) twin_count_drop(kind);
}

static __always_inline void twin_fill_hdr(struct twin_hdr *h, __u16 kind) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  h->kind = kind;
  h->cpu = (__u16)bpf_get_smp_processor_id();
  h->pid = pid_tgid >> 32;
  h->tid = (__u32)pid_tgid;
  h->_pad = 0;
  h->ts_boot_ns = bpf_ktime_get_boot_ns();
}

static __always_inline __u64 twin_leader_start(struct task_struct *t) {
  return BPF_CORE_READ(t, group_leader, start_boottime);
}



/* Before 6.15 kernfs_node's parent pointer was called "parent". */
struct kernfs_node___old {
  struct kernfs_node *parent;
} __attribute__((preserve_access_index));
/* Before 6.11 the inode's times were struct timespec64 (ctime "__i_ctime" from 6.6). */
struct inode___old {
  struct timespec64 i_mtime;
  struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));
#endif /* SAFETYTWIN_BPF_COMMON_BPF_H_ */
