/* Process lifecycle: exec, exit (whole thread groups only) and fork (new thread groups only).
 * Each hook has a tp_btf entry point and a raw_tp twin with the same body; twind autoloads one set
 * after probing tp_btf support. Bodies read through BPF_CORE_READ so that both contexts work. */
#include "common.bpf.h"

/* Set by twind before load. */
const volatile __u32 max_args = 4096;          /* argv bound, <= TWIN_ARGS_CAP */
const volatile __u8 exit_has_group_dead = 1;   /* the kernel passes group_dead to the exit tp */

struct exec_buf {
  char raw[sizeof(struct twin_exec) + TWIN_EXEC_DATA_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct exec_buf);
} exec_scratch SEC(".maps");

/* Path walks run under bpf_loop: an unrolled or bounded walk over 32 components, three times per
 * exec, is more than the verifier accepts. A full d_path is not available to tracing programs here
 * (bpf_d_path needs fentry/LSM), so components are written leaf-first, NUL-terminated, and twind
 * reverses them. */
struct walk_ctx {
  __u32 off;   /* absolute offset in the data area */
  __u32 start; /* where this path began */
  __u32 trunc;
  __u32 _pad;
  struct dentry *dentry;
  struct vfsmount *vfsmnt;
  struct mount *mnt;
  struct kernfs_node *kn;
};

/* The walk state lives in a map, not on the stack: the verifier then sees the offset as a bounded
 * unknown and checks the callback once, instead of iterating it with exact offsets until it gives
 * up ("program too large"). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct walk_ctx);
} walk_state SEC(".maps");

static __always_inline struct walk_ctx *walk(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&walk_state, &zero);
}

static __always_inline char *scratch_data(void) {
  __u32 zero = 0;
  struct exec_buf *b = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!b) return 0;
  return ((struct twin_exec *)b->raw)->data;
}

/* Appends one NUL-terminated name; returns 1 to stop the walk. */
static __always_inline long put_name(struct walk_ctx *w, const void *name) {
  char *data = scratch_data();
  if (!data) return 1;
  __u32 off = w->off;
  if (off - w->start > TWIN_PATH_BUDGET - TWIN_NAME_MAX || off > TWIN_EXEC_DATA_MAX - TWIN_NAME_MAX) {
    w->trunc = 1;
    return 1;
  }
  long n = bpf_probe_read_kernel_str(data + off, TWIN_NAME_MAX, name);
  if (n <= 0) {
    w->trunc = 1;
    return 1;
  }
  w->off = off + n;
  return 0;
}

static long path_step(__u32 i, void *arg) {
  struct walk_ctx *w = walk();
  if (!w) return 1;
  /* Locals, not w->x inside BPF_CORE_READ: the macro would relocate walk_ctx itself. */
  struct dentry *dentry = w->dentry;
  struct vfsmount *vfsmnt = w->vfsmnt;
  struct mount *mnt = w->mnt;
  struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
  struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
  if (dentry == parent && dentry != mnt_root) {
    /* A pseudo file (memfd "memfd:NAME") or a disconnected dentry: its name is all there is. */
    put_name(w, BPF_CORE_READ(dentry, d_name.name));
    return 1;
  }
  if (dentry == mnt_root || dentry == parent) {
    struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
    if (mnt_parent == mnt || !mnt_parent) return 1; /* reached the real root */
    w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = mnt_parent;
    w->vfsmnt = &mnt_parent->mnt;
    return 0;
  }
  if (put_name(w, BPF_CORE_READ(dentry, d_name.name))) return 1;
  w->dentry = parent;
  return 0;
}

static long cgroup_step(__u32 i, void *arg) {
  struct walk_ctx *w = walk();
  if (!w) return 1;
  struct kernfs_node *kn = w->kn;
  if (!kn) return 1;
  struct kernfs_node *parent;
  if (bpf_core_field_exists(kn->__parent))
    parent = BPF_CORE_READ(kn, __parent);
  else
    parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
  if (!parent) return 1; /* the root node's name is not part of the path */
  if (put_name(w, BPF_CORE_READ(kn, name))) return 1;
  w->kn = parent;
  return 0;
}

static __always_inline __u32 put_path(__u32 off, struct dentry *dentry, struct vfsmount *vfsmnt,
                                      __u32 *flags, __u32 trunc_flag) {
  struct walk_ctx *w = walk();
  if (!w) return 0;
  w->off = off;
  w->start = off;
  w->trunc = 0;
  w->dentry = dentry;
  w->vfsmnt = vfsmnt;
  w->mnt = container_of(vfsmnt, struct mount, mnt);
  long n = bpf_loop(TWIN_PATH_DEPTH * 2, path_step, 0, 0);
  if (w->trunc || n >= TWIN_PATH_DEPTH * 2) *flags |= trunc_flag;
  __u32 len = w->off - off;
  return len > TWIN_PATH_BUDGET ? TWIN_PATH_BUDGET : len;
}

static __always_inline __u32 put_cgroup(__u32 off, struct task_struct *task, __u32 *flags) {
  struct walk_ctx *w = walk();
  if (!w) return 0;
  w->off = off;
  w->start = off;
  w->trunc = 0;
  w->kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
  long n = bpf_loop(TWIN_PATH_DEPTH, cgroup_step, 0, 0);
  if (w->trunc || n >= TWIN_PATH_DEPTH) *flags |= TWIN_EXEC_CGROUP_TRUNC;
  __u32 len = w->off - off;
  return len > TWIN_PATH_BUDGET ? TWIN_PATH_BUDGET : len;
}

/* The identity of the executed file (see struct twin_exe_id): a few loads, no walk. */
static __always_inline void put_exe_id(struct twin_exec *e, struct file *exe) {
  struct inode *inode = BPF_CORE_READ(exe, f_inode);
  struct dentry *dentry = BPF_CORE_READ(exe, f_path.dentry);
  if (!inode) return;
  struct twin_exe_id *id = &e->exe_id;
  id->dev = BPF_CORE_READ(inode, i_sb, s_dev);
  id->ino = BPF_CORE_READ(inode, i_ino);
  id->size = BPF_CORE_READ(inode, i_size);
  if (bpf_core_field_exists(inode->i_mtime_sec)) {
    id->mtime_sec = BPF_CORE_READ(inode, i_mtime_sec);
    id->mtime_nsec = BPF_CORE_READ(inode, i_mtime_nsec);
    id->ctime_sec = BPF_CORE_READ(inode, i_ctime_sec);
    id->ctime_nsec = BPF_CORE_READ(inode, i_ctime_nsec);
  } else {
    struct inode___old *o = (void *)inode;
    id->mtime_sec = BPF_CORE_READ(o, i_mtime.tv_sec);
    id->mtime_nsec = BPF_CORE_READ(o, i_mtime.tv_nsec);
    id->ctime_sec = BPF_CORE_READ(o, __i_ctime.tv_sec);
    id->ctime_nsec = BPF_CORE_READ(o, __i_ctime.tv_nsec);
  }
  id->nlink = BPF_CORE_READ(inode, __i_nlink);
  id->mode = BPF_CORE_READ(inode, i_mode);
  id->uid = BPF_CORE_READ(inode, i_uid.val);
  id->gid = BPF_CORE_READ(inode, i_gid.val);
  struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
  if (parent == dentry) {
    /* A pseudo file (memfd_create, an anonymous shmem file): its own parent, on no path. */
    e->flags |= TWIN_EXEC_EXE_ANON;
    id->dir_mode = 0;
    id->dir_uid = 0;
    id->dir_gid = 0;
  } else {
    id->dir_mode = BPF_CORE_READ(parent, d_inode, i_mode);
    id->dir_uid = BPF_CORE_READ(parent, d_inode, i_uid.val);
    id->dir_gid = BPF_CORE_READ(parent, d_inode, i_gid.val);
  }
  e->flags |= TWIN_EXEC_EXE_ID;
}

static __always_inline int on_exec(struct task_struct *task, pid_t old_pid) {
  __u32 zero = 0;
  struct exec_buf *b = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!b) return 0;
  struct twin_exec *e = (struct twin_exec *)b->raw;
  twin_fill_hdr(&e->hdr, TWIN_EV_EXEC);
  e->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
  struct task_struct *parent = BPF_CORE_READ(task, real_parent);
  e->ppid = BPF_CORE_READ(parent, tgid);
  e->parent_start_boottime = BPF_CORE_READ(parent, group_leader, start_boottime);
  __u64 ugid = bpf_get_current_uid_gid();
  e->uid = (__u32)ugid;
  e->gid = ugid >> 32;
  e->old_pid = old_pid;
  e->cgroup_id = bpf_get_current_cgroup_id();
  e->flags = 0;
  bpf_get_current_comm(e->comm, sizeof(e->comm));

  /* argv of the new image: exec has just copied it onto the new stack, so it is resident. */
  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
  __u64 len = arg_end > arg_start ? arg_end - arg_start : 0;
  e->args_full_len = len;
  __u32 bound = max_args;
  if (bound > TWIN_ARGS_CAP) bound = TWIN_ARGS_CAP;
  if (len > bound) {
    len = bound;
    e->flags |= TWIN_EXEC_ARGV_TRUNC;
  }
  if (len > TWIN_ARGS_CAP) len = TWIN_ARGS_CAP; /* for the verifier */
  if (len > 0 && bpf_probe_read_user(e->data, len, (void *)arg_start) != 0) {
    len = 0;
    e->flags |= TWIN_EXEC_ARGV_TRUNC;
  }
  e->argv_len = len;
  __u32 off = len;

  struct file *exe = BPF_CORE_READ(mm, exe_file);
  __u32 n = 0;
  __builtin_memset(&e->exe_id, 0, sizeof(e->exe_id));
  if (exe) {
    put_exe_id(e, exe);
    n = put_path(off, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt),
                 &e->flags, TWIN_EXEC_EXE_TRUNC);
  }
  e->exe_len = n;
  off += n;
  if (off > TWIN_ARGS_CAP + TWIN_PATH_BUDGET) return 0;

  struct fs_struct *fs = BPF_CORE_READ(task, fs);
  n = put_path(off, BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), &e->flags,
               TWIN_EXEC_CWD_TRUNC);
  e->cwd_len = n;
  off += n;
  if (off > TWIN_ARGS_CAP + 2 * TWIN_PATH_BUDGET) return 0;

  n = put_cgroup(off, task, &e->flags);
  e->cgroup_len = n;
  off += n;

  __u64 size = sizeof(struct twin_exec) + off;
  /* Keep the clamp: clang otherwise folds it away and the verifier sees an unbounded size. */
  asm volatile("" : "+r"(size));
  if (size > sizeof(*b)) size = sizeof(*b);
  twin_output(b, size, TWIN_EV_EXEC);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  return on_exec(p, old_pid);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) {
  return on_exec(p, old_pid);
}

static __always_inline int on_exit(struct task_struct *p, int group_dead) {
  /* The tracepoint fires per thread; the process is gone when the last thread leaves. Kernels
   * without the group_dead argument fall back to the leader's exit. */
  if (exit_has_group_dead) {
    if (!group_dead) return 0;
  } else if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid)) {
    return 0;
  }
  struct twin_exit e = {};
  twin_fill_hdr(&e.hdr, TWIN_EV_EXIT);
  e.hdr.pid = BPF_CORE_READ(p, tgid);
  e.start_boottime = twin_leader_start(p);
  struct signal_struct *sig = BPF_CORE_READ(p, signal);
  unsigned int sflags = BPF_CORE_READ(sig, flags);
  /* A group exit (exit_group, fatal signal) reports the group's code, as wait() would. */
  if (sflags & 0x00000004 /* SIGNAL_GROUP_EXIT */)
    e.exit_code = BPF_CORE_READ(sig, group_exit_code);
  else
    e.exit_code = BPF_CORE_READ(p, exit_code);
  e.ppid = BPF_CORE_READ(p, real_parent, tgid);
  BPF_CORE_READ_STR_INTO(&e.comm, p, comm);
  twin_output(&e, sizeof(e), TWIN_EV_EXIT);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p, bool group_dead) {
  return on_exit(p, exit_has_group_dead ? group_dead : 0);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *p, bool group_dead) {
  return on_exit(p, exit_has_group_dead ? group_dead : 0);
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child) {
  int child_pid = BPF_CORE_READ(child, pid);
  int child_tgid = BPF_CORE_READ(child, tgid);
  if (child_pid != child_tgid) return 0; /* a new thread, not a new process */
  struct twin_fork e = {};
  twin_fill_hdr(&e.hdr, TWIN_EV_FORK);
  e.hdr.pid = child_tgid;
  e.hdr.tid = child_pid;
  e.start_boottime = BPF_CORE_READ(child, start_boottime);
  /* The parent of record is the child's real_parent (CLONE_PARENT makes it the caller's parent). */
  struct task_struct *rp = BPF_CORE_READ(child, real_parent);
  e.ppid = BPF_CORE_READ(rp, tgid);
  e.parent_start_boottime = twin_leader_start(rp);
  __u64 ugid = bpf_get_current_uid_gid();
  e.uid = (__u32)ugid;
  e.gid = ugid >> 32;
  e.cgroup_id = bpf_get_current_cgroup_id();
  BPF_CORE_READ_STR_INTO(&e.comm, child, comm);
  twin_output(&e, sizeof(e), TWIN_EV_FORK);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child) {
  return on_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child) {
  return on_fork(parent, child);
}
