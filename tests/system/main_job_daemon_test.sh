#!/usr/bin/env bash
# The README's main command where systemd is not PID 1 (these dev/CI machines): in a container
# copy of this machine whose PID 1 is a plain init, a local unprivileged user first squats what
# they can (the metrics port, the old /var/tmp run-bundle path); then `scripts/run.sh` must still
# start twind as a daemon (umask 077) and bring up the twin; a host unit (cgroup + unit file +
# a process listening in it) must appear in the twin with its exact unit file and its listener;
# `scripts/run.sh --stop` stops twind with a daemon_stop in the log.
set -euo pipefail
ST_TEST=main-job-daemon
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
st_require
ST_NAME=daemon
st_own_cgroup
st_make_root daemon
st_boot daemon

# What an unprivileged local user can do before twind starts.
st_in setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c '
import socket, time, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9464)); s.listen(1)
os.makedirs("/var/tmp/safetytwin", exist_ok=True)
time.sleep(100000)' &
squatter=$!
sleep 1
st_in python3 -c 'import socket; socket.create_connection(("127.0.0.1", 9464), timeout=2)' || fail "squatter not listening"

say "README main command in the container: scripts/run.sh (no systemd)"
st_sh "cd '$ST_SRC' && scripts/run.sh" > "$ST_BASE/run.out" 2>&1 || { cat "$ST_BASE/run.out" >&2; st_sh 'tail -30 /var/log/safetytwin/twind.log' >&2 || true; fail "scripts/run.sh failed"; }
tail -8 "$ST_BASE/run.out" >&2
pid=$(st_in cat /run/safetytwin/twind.pid)
st_in kill -0 "$pid" || fail "twind (pid $pid) is not running"
twlog() { st_in cat /var/log/safetytwin/twind.log; }
twlog | grep -q 'metrics on 127.0.0.1:9464 unavailable' || { twlog | tail -20 >&2; fail "no warning about the squatted metrics port"; }
st_in curl -sf --unix-socket /run/safetytwin/metrics.sock http://twind/metrics | grep -q twind_events_written_total \
  || fail "metrics not served on the unix socket"
say "twind runs (pid $pid) although the metrics port was taken; metrics on the unix socket"

st_wait_twin_in_sync twlog
# The overlays qemu opens are reachable whatever twind's umask (the bug this test was born of).
st_sh 'stat -c "%a %n" /var/lib/libvirt/images/safetytwin /var/lib/libvirt/images/safetytwin/safetytwin' >&2

# A host unit the way the capture sees one without systemd: a *.service cgroup, its unit file,
# and a process in it that listens.
st_sh "printf '[Unit]\nDescription=daemon-mode probe\n[Service]\nExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 18081\n' > /etc/systemd/system/st-dprobe.service"
st_sh 'cg=/sys/fs/cgroup; [[ -d $cg/unified ]] && cg=$cg/unified; mkdir -p $cg/st-dprobe.service
  (echo $BASHPID > $cg/st-dprobe.service/cgroup.procs; exec setsid python3 -m http.server --bind 127.0.0.1 18081 >/dev/null 2>&1) &
  sleep 1'
st_expect_unit_in_twin st-dprobe.service 18081 twlog

st_sh "cd '$ST_SRC' && scripts/run.sh --stop" >&2
st_in kill -0 "$pid" 2>/dev/null && fail "twind still running after run.sh --stop"
replay events --kind daemon_stop --since -30m --json | grep -q SIGTERM || fail "no daemon_stop after run.sh --stop"
kill "$squatter" 2>/dev/null || true
say "PASS"
