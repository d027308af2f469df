#!/usr/bin/env bash
# twind's own CPU per exec over an exec storm, after twind has settled (its start-up work done).
# Usage (root): bench/exec_storm/twind_cpu.sh BUILD_DIR [COUNT] [twind flags...]
# e.g. alternate `twind_cpu.sh build 3000` and `twind_cpu.sh build 3000 --no-exe-hash`.
set -euo pipefail
build=${1:?build dir}; count=${2:-3000}; shift $(( $# >= 2 ? 2 : 1 ))
tmp=$(mktemp -d /tmp/twin-cpu-XXXXXX)
"$build/userspace/twind" --foreground --data-dir "$tmp/data" --metrics-addr off --config /dev/null \
  --no-twin "$@" 2>"$tmp/log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 10
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
"$build/bench/exec_storm/exec_storm" "$count" cpu-probe >/dev/null
sleep 1  # the writer drains what the storm left
t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "flags='$*' twind_cpu_us_per_exec=$(( (t1 - t0) * 1000000 / hz / count ))"
