/* Plain-C records shared by the BPF probes and twind. Kernel → userspace ABI only: these never
 * reach the disk (twind converts them into twin::Event), so they may change between builds, but
 * probes and reader are always built together from this header. */
#ifndef SAFETYTWIN_BPF_EVENTS_H_
#define SAFETYTWIN_BPF_EVENTS_H_

#ifndef __VMLINUX_H__
#include <linux/types.h> /* userspace; BPF code gets the types from vmlinux.h */
#endif

#define TWIN_COMM_LEN 16
/* Hard capacity of the argv region; the configured bound (default 4 KiB) is <= this. */
#define TWIN_ARGS_CAP 16384
/* Path regions: leaf-first NUL-terminated components, reversed and joined in userspace. */
#define TWIN_PATH_BUDGET 2048
#define TWIN_PATH_DEPTH 32
#define TWIN_NAME_MAX 256
#define TWIN_CGROUP_PATH_MAX 512
#define TWIN_CGROUP_ROOT_NAME 64

enum twin_ev_kind {
  TWIN_EV_EXEC = 1,
  TWIN_EV_EXIT = 2,
  TWIN_EV_FORK = 3,
  TWIN_EV_BIND = 4,
  TWIN_EV_LISTEN = 5,
  TWIN_EV_LISTEN_CLOSE = 6,
  TWIN_EV_CGROUP_MKDIR = 7,
  TWIN_EV_CGROUP_RMDIR = 8,
  TWIN_EV_KIND_MAX = 9, /* size of the per-CPU drop counter array */
};

struct twin_hdr {
  __u16 kind;
  __u16 cpu;
  __u32 pid; /* thread-group id */
  __u32 tid;
  __u32 _pad;
  __u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
};

enum twin_exec_flags {
  TWIN_EXEC_ARGV_TRUNC = 1,
  TWIN_EXEC_EXE_TRUNC = 2,
  TWIN_EXEC_CWD_TRUNC = 4,
  TWIN_EXEC_CGROUP_TRUNC = 8,
  TWIN_EXEC_EXE_ID = 16,   /* the exe_* identity fields below are set */
  TWIN_EXEC_EXE_ANON = 32, /* the exe is a pseudo file (memfd, anonymous): no path reaches it */
};

/* The executed file as the kernel saw it at exec (mm->exe_file's inode): twind's hash cache key
 * and the check that the file it reads later is still this one. dev is the kernel's encoding
 * (major << 20 | minor). */
struct twin_exe_id {
  __u64 dev;
  __u64 ino;
  __u64 size;
  __s64 mtime_sec;
  __s64 ctime_sec;
  __u32 mtime_nsec;
  __u32 ctime_nsec;
  __u32 nlink;
  __u32 uid;  /* owner of the file */
  __u32 gid;
  __u32 dir_uid; /* owner of the directory holding it (its dentry's parent) */
  __u16 mode;
  __u16 dir_mode;
  __u32 dir_gid;
};

/* Followed by data: argv bytes (argv_len), exe components (exe_len), cwd components (cwd_len),
 * cgroup components (cgroup_len). Variable length: only the used bytes are sent. */
struct twin_exec {
  struct twin_hdr hdr;
  __u64 start_boottime;
  __u64 parent_start_boottime;
  __u64 cgroup_id;
  __u32 ppid;
  __u32 uid;
  __u32 gid;
  __u32 old_pid;
  __u32 flags;
  __u32 args_full_len; /* bytes the argv really had */
  __u16 argv_len;
  __u16 exe_len;
  __u16 cwd_len;
  __u16 cgroup_len;
  char comm[TWIN_COMM_LEN];
  struct twin_exe_id exe_id;
  char data[];
};

#define TWIN_EXEC_DATA_MAX (TWIN_ARGS_CAP + 3 * TWIN_PATH_BUDGET + TWIN_NAME_MAX)

struct twin_exit {
  struct twin_hdr hdr;
  __u64 start_boottime;
  __u32 exit_code; /* raw wait status: (code << 8) | core (0x80) | signal */
  __u32 ppid;
  char comm[TWIN_COMM_LEN];
};

struct twin_fork {
  struct twin_hdr hdr; /* pid/tid = the child */
  __u64 start_boottime;
  __u64 parent_start_boottime;
  __u64 cgroup_id;
  __u32 ppid;
  __u32 uid;
  __u32 gid;
  __u32 _pad;
  char comm[TWIN_COMM_LEN];
};

/* bind, listen and listener close. */
struct twin_sock {
  struct twin_hdr hdr;
  __u64 start_boottime; /* of the calling process */
  __u64 sock_inode;
  __s32 result; /* bind: 0 or -errno */
  __u32 uid;
  __u16 family;
  __u16 proto;
  __u16 port; /* host order */
  __u16 _pad;
  __u8 addr[16];
  char comm[TWIN_COMM_LEN];
};

struct twin_cgroup {
  struct twin_hdr hdr;
  __u64 cgroup_id;
  __s32 hierarchy_id; /* 0 = the cgroup v2 (default) hierarchy */
  __s32 level;
  char root_name[TWIN_CGROUP_ROOT_NAME]; /* "systemd" for the v1 name=systemd hierarchy */
  char path[TWIN_CGROUP_PATH_MAX];       /* relative to the hierarchy root, "/a/b.service" */
};

#endif /* SAFETYTWIN_BPF_EVENTS_H_ */
