/* Units: cgroup mkdir/rmdir on every hierarchy. twind keeps *.service / *.scope directories of the
 * cgroup v2 hierarchy and of v1 name=systemd; filtering by suffix is cheap there and cgroup churn
 * is low, so the probe stays simple. */
#include "common.bpf.h"

static __always_inline int on_cgroup(struct cgroup *cgrp, const char *path, __u16 kind) {
  /* Too big for the BPF stack: reserve in place. */
  struct twin_cgroup *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    twin_count_drop(kind);
    return 0;
  }
  twin_fill_hdr(&e->hdr, kind);
  e->cgroup_id = BPF_CORE_READ(cgrp, kn, id);
  e->level = BPF_CORE_READ(cgrp, level);
  e->hierarchy_id = BPF_CORE_READ(cgrp, root, hierarchy_id);
  BPF_CORE_READ_STR_INTO(&e->root_name, cgrp, root, name);
  if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), path) < 0) e->path[0] = 0;
  bpf_ringbuf_submit(e, twin_wakeup_flag());
  return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgroup_mkdir_btf, struct cgroup *cgrp, const char *path) {
  return on_cgroup(cgrp, path, TWIN_EV_CGROUP_MKDIR);
}

SEC("raw_tp/cgroup_mkdir")
int BPF_PROG(cgroup_mkdir_raw, struct cgroup *cgrp, const char *path) {
  return on_cgroup(cgrp, path, TWIN_EV_CGROUP_MKDIR);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir_btf, struct cgroup *cgrp, const char *path) {
  return on_cgroup(cgrp, path, TWIN_EV_CGROUP_RMDIR);
}

SEC("raw_tp/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir_raw, struct cgroup *cgrp, const char *path) {
  return on_cgroup(cgrp, path, TWIN_EV_CGROUP_RMDIR);
}
