# Shared by the main-job tests: a throwaway copy of this machine in a systemd-nspawn container,
# in which the product is installed and run exactly as the README says, by the commands a user
# types. The container's root is an overlay on this machine's own root (tmpfs upper layer), so it
# has the packages, the checkout and its build, the cached twin image -- and none of the product's
# installed state: that is removed from the copy first, so the README's main command meets a
# machine that has never run safetytwin. Nothing the test does reaches this machine's own files.
#
# Sourced by bash scripts with `set -euo pipefail`. Exit code 77 = skip (CTest SKIP_RETURN_CODE);
# with SAFETYTWIN_NO_SKIP=1 a missing capability is a failure instead.

ST_SRC=${ST_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ST_NAME=""
ST_BASE=""
ST_ROOT=""
ST_NSPAWN_PID=""
ST_LEADER=""
ST_T0=$(date +%s)

say() { printf '[%s +%ss] %s\n' "${ST_TEST:-system}" "$(( $(date +%s) - ST_T0 ))" "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
skip_or_fail() {
  if [[ -n "${SAFETYTWIN_NO_SKIP:-}" && "${SAFETYTWIN_NO_SKIP}" != 0 ]]; then
    fail "capability missing and SAFETYTWIN_NO_SKIP is set: $*"
  fi
  say "SKIP: $*"
  exit 77
}

st_require() {
  [[ "$(id -u)" == 0 ]] || skip_or_fail "needs root"
  command -v systemd-nspawn >/dev/null || skip_or_fail "systemd-nspawn missing (package systemd-container)"
  [[ -e /sys/kernel/btf/vmlinux ]] || skip_or_fail "kernel BTF missing"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip_or_fail "no overlayfs"
  [[ -x "${TWIN_BUILD_DIR:-$ST_SRC/build}/userspace/twind" ]] || fail "build the project first (scripts/build.sh)"
}

# Every process of ours, the container included, in one cgroup of its own: two nspawn launchers
# must not share one, and teardown kills whatever is left in it.
st_own_cgroup() {
  local cg=/sys/fs/cgroup/unified
  [[ -d "$cg" ]] || cg=/sys/fs/cgroup
  ST_CGROUP="$cg/safetytwin-test-$ST_NAME"
  # An earlier run's cgroups (the container's own, the unit cgroups a test made in it) would be
  # seen by the next twind as running units: start from none.
  st_rm_cgroups
  mkdir -p "$ST_CGROUP"
  echo $$ > "$ST_CGROUP/cgroup.procs"
}

st_rm_cgroups() {
  [[ -n "${ST_CGROUP:-}" && -d "$ST_CGROUP" ]] || return 0
  local parent; parent=$(dirname "$ST_CGROUP")
  echo $$ > "$parent/cgroup.procs" 2>/dev/null || true
  find "$ST_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

st_make_root() {
  ST_NAME="$1"
  ST_BASE="/run/safetytwin-test/$ST_NAME"
  st_cleanup_root
  mkdir -p "$ST_BASE"
  mount -t tmpfs -o size=16G,mode=0755 "st-$ST_NAME" "$ST_BASE"
  mkdir -p "$ST_BASE/upper" "$ST_BASE/work" "$ST_BASE/root"
  mount -t overlay "st-$ST_NAME" -o "lowerdir=/,upperdir=$ST_BASE/upper,workdir=$ST_BASE/work" "$ST_BASE/root"
  ST_ROOT="$ST_BASE/root"
  local r="$ST_ROOT"
  systemd-id128 new > "$r/etc/machine-id"
  echo "st-$ST_NAME" > "$r/etc/hostname"
  # Never been here: no binaries, config, log, keys, unit, overlays or twin domains of ours.
  rm -rf "$r/usr/local/sbin/twind" "$r/usr/local/bin/twin-replay" "$r/usr/local/share/safetytwin" \
         "$r/usr/local/share/doc/safetytwin" "$r/etc/safetytwin" "$r/var/lib/safetytwin" \
         "$r/var/cache/safetytwin" "$r/var/log/safetytwin" "$r/var/tmp/safetytwin" \
         "$r/etc/systemd/system/safetytwin.service" "$r/etc/systemd/system/safetytwin.service.d" \
         "$r/etc/systemd/system/multi-user.target.wants/safetytwin.service" \
         "$r/var/lib/libvirt/images/safetytwin"
  rm -f "$r"/etc/libvirt/qemu/*.xml
  rm -rf "$r"/var/lib/libvirt/qemu/snapshot/* "$r"/var/lib/libvirt/qemu/domain-* "$r"/run/*
  # The container's environment, not the product's: libvirtd here cannot use cgroup
  # controllers (they are the host's v1 hierarchies), so it must not try.
  printf '\n# safetytwin test container: no delegated cgroup controllers\ncgroup_controllers = [ ]\n' \
    >> "$r/etc/libvirt/qemu.conf"
  # The checkout, its build and the cached twin image are bound in at the same paths: the overlay
  # cannot show other file systems, and the container mounts its own /tmp (a checkout under /tmp
  # would be invisible otherwise).
  ST_BINDS=("--bind=$ST_SRC")
  local build="${TWIN_BUILD_DIR:-$ST_SRC/build}"
  [[ "$build" == "$ST_SRC"/* || ! -d "$build" ]] || ST_BINDS+=("--bind=$build")
  # The image cache is seen through the overlay (writes to its lock stay in the copy) unless it
  # is on another file system.
  if [[ -d /var/lib/safetytwin-images && "$(stat -c %d /var/lib/safetytwin-images)" != "$(stat -c %d /)" ]]; then
    ST_BINDS+=("--bind=/var/lib/safetytwin-images")
  fi
}

# st_boot systemd|daemon: PID 1 is systemd (the product installs its unit) or a plain stub init
# (no systemd: the product daemonizes). Private network: loopback only, ports are the container's.
st_boot() {
  local mode="$1" payload=()
  if [[ "$mode" == systemd ]]; then payload=(-b); else payload=(--as-pid2 /bin/sleep infinity); fi
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -q -D "$ST_ROOT" -M "st-$ST_NAME" \
    --console=pipe --register=no --keep-unit --private-network \
    --system-call-filter='bpf perf_event_open' --capability=CAP_BPF,CAP_PERFMON,CAP_IPC_LOCK \
    --bind=/sys/kernel/tracing --bind=/sys/fs/bpf "${ST_BINDS[@]}" "${payload[@]}" \
    > "$ST_BASE/console.log" 2>&1 < /dev/null &
  ST_NSPAWN_PID=$!
  trap st_teardown EXIT
  trap "exit 143" TERM INT
  local i
  for i in $(seq 1 300); do
    ST_LEADER=$(pgrep -P "$ST_NSPAWN_PID" | head -1 || true)
    if [[ -n "$ST_LEADER" ]]; then
      if [[ "$mode" != systemd ]]; then
        # nspawn's short-lived setup child comes first; ready = the stub init runs our sleep.
        if [[ "$(ps -o comm= --ppid "$ST_LEADER" 2>/dev/null)" == sleep ]] && st_in /bin/true 2>/dev/null; then
          say "container st-$ST_NAME: up (no systemd)"; return 0
        fi
        sleep 0.2; continue
      fi
      local st
      st=$(nsenter -t "$ST_LEADER" -a systemctl is-system-running 2>/dev/null || true)
      case "$st" in running|degraded) say "container st-$ST_NAME: systemd $st"; return 0 ;; esac
    fi
    kill -0 "$ST_NSPAWN_PID" 2>/dev/null || { cat "$ST_BASE/console.log" >&2; fail "nspawn exited"; }
    sleep 0.2
  done
  cat "$ST_BASE/console.log" >&2
  fail "container did not come up in 60 s"
}

# Run a command inside the container as a root shell there would (its namespaces, its root).
# A clean root login environment, not this test's (no PATH entries from a developer's home).
st_in() {
  nsenter -t "$ST_LEADER" -a -- env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${TWIN_BUILD_DIR:+TWIN_BUILD_DIR="$TWIN_BUILD_DIR"} "$@"
}
st_sh() { st_in /bin/bash -c "$1"; }

st_teardown() {
  local rc=$?
  if [[ -n "${ST_KEEP:-}" ]]; then say "ST_KEEP set: container st-$ST_NAME left at $ST_ROOT"; return; fi
  if [[ -n "$ST_NSPAWN_PID" ]] && kill -0 "$ST_NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$ST_NSPAWN_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$ST_NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ST_NSPAWN_PID" 2>/dev/null || true
  fi
  st_cleanup_root
  st_rm_cgroups
  return $rc
}

st_cleanup_root() {
  [[ -n "$ST_BASE" ]] || return 0
  umount -l "$ST_BASE/root" 2>/dev/null || true
  umount -l "$ST_BASE" 2>/dev/null || true
  rmdir "$ST_BASE" 2>/dev/null || true
}

# st_wait SECONDS DESCRIPTION CMD...: retry CMD every 3 s until it succeeds (a deadline for a
# hung run, not a performance assertion).
st_wait() {
  local secs="$1" what="$2"; shift 2
  local end=$(( $(date +%s) + secs ))
  while (( $(date +%s) < end )); do
    if "$@" >/dev/null 2>&1; then say "$what: yes"; return 0; fi
    sleep 3
  done
  return 1
}

# A command in the container's twin VM through its guest agent; prints stdout, exits as it did.
st_guest() {
  local domain="$1"; shift
  st_in python3 "$ST_SRC/tests/system/guest_exec.py" "$domain" "$@"
}

# st_expect_unit_in_twin UNIT PORT DIAG_CMD: the host unit comes up in the twin (guest agent),
# running, with its unit file byte-exact, listening on 127.0.0.1:PORT. DIAG_CMD prints the
# product's log when it does not.
st_expect_unit_in_twin() {
  local unit="$1" port="$2" diag="$3"
  in_twin_active() { [[ "$(st_guest safetytwin /bin/systemctl is-active "$unit")" == active* ]]; }
  st_wait 900 "$unit active in the twin" in_twin_active || {
    "$diag" | tail -40 >&2
    st_in /usr/local/bin/twin-replay events --since -20m --kind unit_start,twin | tail -20 >&2
    fail "the host unit $unit never came up in the twin"; }
  local host_sum
  host_sum=$(st_in sha256sum "/etc/systemd/system/$unit" | cut -d' ' -f1)
  same_file() {
    [[ "$(st_guest safetytwin /usr/bin/sha256sum "/etc/systemd/system/$unit" | cut -d' ' -f1)" == "$host_sum" ]]
  }
  st_wait 300 "$unit's file in the twin is byte-exact ($host_sum)" same_file || {
    st_guest safetytwin /bin/cat "/etc/systemd/system/$unit" >&2 || true
    fail "$unit's file differs in the twin"; }
  listening() {
    st_guest safetytwin /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=5)"
  }
  st_wait 120 "the twin's $unit listens on 127.0.0.1:$port" listening || fail "no listener on $port in the twin"
}

replay() { st_in /usr/local/bin/twin-replay "$@"; }

# st_wait_twin_in_sync DIAG_CMD: the twin booted and its first delta run succeeded (a TCG boot
# takes minutes here).
st_wait_twin_in_sync() {
  local diag="$1"
  in_sync() { replay events --kind twin --since -1h --json | python3 -c '
import json, sys
sys.exit(0 if any(e["attrs"].get("action") == "delta_run" and e["attrs"].get("status") == "ok"
                  for e in map(json.loads, sys.stdin)) else 1)'; }
  st_wait 900 "twin booted and its first delta run succeeded" in_sync || {
    "$diag" | tail -40 >&2; fail "the twin never came in line with the host"; }
}
