/* Sockets: bind (enter+exit, so the result is known), listen (inet_sock_set_state → LISTEN paired
 * with sys_exit_listen, because LISTEN is set before the port check can still fail) and listener
 * close (LISTEN → CLOSE of a socket whose listen() succeeded). TCP and UDP, IPv4 and IPv6. */
#include "common.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_LISTEN 10
#define TCP_CLOSE 7
#define S_IFMT 00170000
#define S_IFSOCK 0140000

struct bind_args {
  __u8 sa[28]; /* sockaddr_in6 is the largest we care about */
  __u32 addrlen;
  struct sock *sk;
  __u64 inode;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct bind_args);
} bind_pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64); /* pid_tgid */
  __type(value, struct sock *);
} listen_pending SEC(".maps");

/* Sockets whose listen() succeeded, so that a LISTEN → CLOSE after a failed port check is not
 * reported as a listener close. The address is kept too: by the time LISTEN → CLOSE fires the
 * port has already been released (skc_num reads 0). */
struct listen_info {
  __u8 addr[16];
  __u64 inode;
  __u16 family;
  __u16 port;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64); /* struct sock * */
  __type(value, struct listen_info);
} listening SEC(".maps");

static __always_inline struct file *fd_file(int fd) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
  unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
  if (fd < 0 || (unsigned int)fd >= max) return 0;
  struct file *f = 0;
  bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
  return f;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int bind_enter(struct trace_event_raw_sys_enter *ctx) {
  struct bind_args a = {};
  int fd = (int)ctx->args[0];
  void *uaddr = (void *)ctx->args[1];
  a.addrlen = (__u32)ctx->args[2];
  struct file *f = fd_file(fd);
  if (!f) return 0;
  umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
  if ((mode & S_IFMT) != S_IFSOCK) return 0;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  a.sk = sk;
  __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (fam != AF_INET && fam != AF_INET6) return 0;
  __u16 proto = BPF_CORE_READ(sk, sk_protocol);
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return 0;
  a.inode = BPF_CORE_READ(f, f_inode, i_ino);
  /* Constant sizes keep the verifier simple: sockaddr_in6 (28) or sockaddr_in (16). */
  long err = a.addrlen >= 28 ? bpf_probe_read_user(a.sa, 28, uaddr)
                             : bpf_probe_read_user(a.sa, 16, uaddr);
  if (err != 0) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  bpf_map_update_elem(&bind_pending, &id, &a, BPF_ANY);
  return 0;
}

static __always_inline void fill_sock_common(struct twin_sock *e, struct sock *sk) {
  e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e->proto = BPF_CORE_READ(sk, sk_protocol);
  e->port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (e->family == AF_INET) {
    __u32 a4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __builtin_memcpy(e->addr, &a4, 4);
  } else {
    BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
  }
}

SEC("tracepoint/syscalls/sys_exit_bind")
int bind_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct bind_args *a = bpf_map_lookup_elem(&bind_pending, &id);
  if (!a) return 0;
  struct twin_sock e = {};
  twin_fill_hdr(&e.hdr, TWIN_EV_BIND);
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  e.start_boottime = twin_leader_start(task);
  e.uid = (__u32)bpf_get_current_uid_gid();
  e.result = (__s32)ctx->ret;
  e.sock_inode = a->inode;
  bpf_get_current_comm(e.comm, sizeof(e.comm));
  struct sock *sk = a->sk;
  e.proto = BPF_CORE_READ(sk, sk_protocol);
  /* Address as requested by the caller; the port as assigned by the kernel when bind succeeded
   * (port 0 asks for an ephemeral one). */
  __u16 fam = 0;
  __builtin_memcpy(&fam, a->sa, 2);
  e.family = fam;
  __u16 nport = 0;
  __builtin_memcpy(&nport, a->sa + 2, 2);
  e.port = __builtin_bswap16(nport);
  if (fam == AF_INET) {
    __builtin_memcpy(e.addr, a->sa + 4, 4);
  } else if (fam == AF_INET6) {
    __builtin_memcpy(e.addr, a->sa + 8, 16);
  } else {
    e.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  }
  if (e.result == 0) e.port = BPF_CORE_READ(sk, __sk_common.skc_num);
  bpf_map_delete_elem(&bind_pending, &id);
  twin_output(&e, sizeof(e), TWIN_EV_BIND);
  return 0;
}

static __always_inline int on_set_state(struct sock *sk, int oldstate, int newstate) {
  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) return 0;
  if (newstate == TCP_LISTEN) {
    __u64 id = bpf_get_current_pid_tgid();
    bpf_map_update_elem(&listen_pending, &id, &sk, BPF_ANY);
    return 0;
  }
  if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
    __u64 key = (__u64)sk;
    struct listen_info *li = bpf_map_lookup_elem(&listening, &key);
    if (!li) return 0; /* listen() failed: never listened */
    struct twin_sock e = {};
    twin_fill_hdr(&e.hdr, TWIN_EV_LISTEN_CLOSE);
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e.start_boottime = twin_leader_start(task);
    e.uid = (__u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(e.comm, sizeof(e.comm));
    e.proto = IPPROTO_TCP;
    e.family = li->family;
    e.port = li->port;
    e.sock_inode = li->inode;
    __builtin_memcpy(e.addr, li->addr, 16);
    bpf_map_delete_elem(&listening, &key);
    twin_output(&e, sizeof(e), TWIN_EV_LISTEN_CLOSE);
  }
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(set_state_btf, const struct sock *sk, const int oldstate, const int newstate) {
  return on_set_state((struct sock *)sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(set_state_raw, const struct sock *sk, const int oldstate, const int newstate) {
  return on_set_state((struct sock *)sk, oldstate, newstate);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int listen_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct sock **skp = bpf_map_lookup_elem(&listen_pending, &id);
  if (!skp) return 0;
  struct sock *sk = *skp;
  bpf_map_delete_elem(&listen_pending, &id);
  if (ctx->ret != 0) return 0;
  struct twin_sock e = {};
  twin_fill_hdr(&e.hdr, TWIN_EV_LISTEN);
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  e.start_boottime = twin_leader_start(task);
  e.uid = (__u32)bpf_get_current_uid_gid();
  bpf_get_current_comm(e.comm, sizeof(e.comm));
  fill_sock_common(&e, sk);
  e.sock_inode = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
  __u64 key = (__u64)sk;
  struct listen_info li = {.inode = e.sock_inode, .family = e.family, .port = e.port};
  __builtin_memcpy(li.addr, e.addr, 16);
  bpf_map_update_elem(&listening, &key, &li, BPF_ANY);
  twin_output(&e, sizeof(e), TWIN_EV_LISTEN);
  return 0;
}
