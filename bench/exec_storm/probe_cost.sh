#!/usr/bin/env bash
# In-kernel cost per event of twind's probes vs libbpf-tools execsnoop, from BPF run-time stats
# (kernel.bpf_stats_enabled): immune to the run-to-run noise of wall-clock storms on a shared box.
# Usage (root): bench/exec_storm/probe_cost.sh BUILD_DIR [COUNT]
set -euo pipefail
build=${1:?build dir}; count=${2:-3000}
tmp=$(mktemp -d /tmp/twin-probe-cost-XXXXXX)
prev=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() { sysctl -qw kernel.bpf_stats_enabled="$prev"; rm -rf "$tmp"; }
tw=""; es=""
trap 'cleanup; [[ -n "$tw" ]] && kill -TERM "$tw" 2>/dev/null; [[ -n "$es" ]] && kill -INT "$es" 2>/dev/null; true' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
report() {
  bpftool prog show -j | python3 -c '
import json, sys
want = sys.argv[1].split(",")
for p in json.load(sys.stdin):
    if p.get("name") in want and p.get("run_cnt"):
        us = p["run_time_ns"] / p["run_cnt"] / 1000
        print("| %s | %s | %d | %.1f |" % (sys.argv[2], p["name"], p["run_cnt"], us))
' "$1" "$2"
}
echo "| tool | program | runs | µs per run |"
echo "|---|---|---:|---:|"
"$build/userspace/twind" --foreground --data-dir "$tmp/data" --metrics-addr off --config /dev/null --no-twin \
  2>"$tmp/twind.log" & tw=$!
sleep 3
"$build/bench/exec_storm/exec_storm" "$count" probe-cost >/dev/null
report exec_btf,exit_btf,fork_btf twind
kill -TERM "$tw"; wait "$tw"; tw=""
/usr/sbin/execsnoop >/dev/null 2>&1 & es=$!
sleep 2
"$build/bench/exec_storm/exec_storm" "$count" probe-cost >/dev/null
report tracepoint__syscalls__sys_enter_execve,tracepoint__syscalls__sys_exit_execve execsnoop
kill -INT "$es"; wait "$es" || true; es=""
