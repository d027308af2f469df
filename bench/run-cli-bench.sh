#!/usr/bin/env bash
# Whole-process benchmarks of twin-replay (what a user times: process start to exit), next to
# the in-process ones of bench/run-core-bench.sh, on three logs:
#   closed  the 10,000,000-event log that bench/run-core-bench.sh builds (built here if missing)
#   live    a copy of it while bench/log_load appends 10,000 events/s (a compactor following,
#           a snapshot every 10 s, as twind)
#   burst   the same copy right after log_load appended 1,000,000 events as fast as it could
#           (the writer still open, idle), then once more with snapshots cut by the clock only
#           (log_load --snapshot-every 0: the writer before the count bound)
# Commands: info, state --at T, events over a one-minute window (on the live logs `--since -1m
# --limit 60000`), diff T1 T2, verify --quick (all --json, output to /dev/null). Baselines measured in the same run, alternating with each command run:
#   bare_open       RocksDB alone in a process: open the dir read-only with the log's options and
#                   column families, one Get, one seek (bench/bare_open.cc) -- the floor
#   TWIN_CLI_BASELINE=/path/to/older/twin-replay  an older build, the same commands
# and TWIN_CLI_BEFORE_LOG=DIR adds a fourth log (e.g. a copy of the 10 M log as an older writer
# left it). Prints a Markdown table of p50/p90 wall times, p50 CPU times (user+sys of the
# process: what contention on a shared machine inflates least) and ratios.
# Usage: bench/run-cli-bench.sh [build dir]   (TWIN_CLI_CLOSED_ONLY=1: the closed log only)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${1:-$root/build}"
export TWIN_BENCH_DIR="${TWIN_BENCH_DIR:-/var/tmp/safetytwin-bench}"
runs="${TWIN_CLI_RUNS:-11}"
ours="$build/replay/twin-replay"
bare="$build/bench/bare_open"
load="$build/bench/log_load"
big="$TWIN_BENCH_DIR/big-10000000-1000"
live="$TWIN_BENCH_DIR/cli-live"
mkdir -p "$TWIN_BENCH_DIR"
if [[ ! -f "$big/CURRENT" ]]; then
  echo "building the 10 M-event log in $big (once; minutes)" >&2
  "$build/bench/eventlog_bench" --benchmark_filter='BM_StateAt' >/dev/null
fi
results="$TWIN_BENCH_DIR/cli-results.txt"
: >"$results"

# measure LABEL DIR T_LO T_HI: every command on DIR, ours / the baseline / bare_open alternating.
# T_LO..T_HI is the span state --at and diff pick from; the events window is its last minute.
measure() {
  python3 - "$1" "$2" "$3" "$4" "$runs" "$ours" "$bare" "${TWIN_CLI_BASELINE:-}" >>"$results" <<'PY'
import random, resource, subprocess, sys, time
label, d, lo, hi, runs, ours, bare, base = sys.argv[1:]
lo, hi, runs = int(lo), int(hi), int(runs)
relative_minute = not label.startswith("closed")
rng = random.Random(7)
def cmds(t, t2):
    return {
        "info": ["info", "--json"],
        "state --at T": ["state", "--at", str(t), "--json"],
        # A closed log's last minute (60,000 events at 1,000/s); on a live one the user's own
        # words, its first 60,000 events (a minute at 10,000 events/s is 600,000).
        "events, one minute": (["events", "--since", "-1m", "--limit", "60000", "--json"]
                               if relative_minute else
                               ["events", "--since", str(hi - 60 * 10**9), "--until", str(hi), "--json"]),
        "diff T1 T2": ["diff", str(t2), str(t), "--json"],
        "verify --quick": ["verify", "--quick", "--json"],
    }
binaries = [("ours", ours)] + ([("baseline", base)] if base else [])
times = {}
cpu = {}
failed = {}
def run(argv, key=None):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        if key and key[0] == "baseline":  # an older build's failure is a result: counted
            failed.setdefault(key, []).append(r.stderr.decode(errors='replace').strip())
            return None
        sys.exit(f"{argv[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    if key:
        cpu.setdefault(key, []).append(
            (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    return dt
for _ in range(2):  # warm the page cache
    run([bare, d])
    for _, b in binaries:
        subprocess.run([b, "--data-dir", d, "info", "--json"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
for i in range(runs):
    t = rng.randrange(lo, hi)
    t2 = rng.randrange(lo, t + 1)
    times.setdefault(("bare_open", "open"), []).append(run([bare, d], ("bare_open", "open")))
    for name, argv in cmds(t, t2).items():
        order = binaries[:] if i % 2 == 0 else binaries[::-1]
        for who, b in order:
            dt = run([b, "--data-dir", d] + argv, (who, name))
            if dt is not None:
                times.setdefault((who, name), []).append(dt)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]
floor = pct(times[("bare_open", "open")], 0.5)
floor_cpu = pct(cpu[("bare_open", "open")], 0.5)
print(f"| {label} | bare_open (RocksDB alone: open, one Get, one seek) | {floor:.1f} | {pct(times[('bare_open', 'open')], 0.9):.1f} | {floor_cpu:.1f} | 1.00x | |")
for name in cmds(lo, lo):
    o, oc = times[("ours", name)], cpu[("ours", name)]
    cmp = ""
    if base and ("baseline", name) in times:
        bt, bc = times[("baseline", name)], cpu[("baseline", name)]
        cmp = (f"p50 {pct(bt, 0.5):.1f} ms wall, {pct(bc, 0.5):.1f} ms CPU: "
               f"**{pct(bt, 0.5) / pct(o, 0.5):.1f}x** wall, {pct(bc, 0.5) / pct(oc, 0.5):.1f}x CPU")
    if ("baseline", name) in failed:
        f = failed[("baseline", name)]
        cmp += f" (the baseline failed {len(f)} of {runs} runs: {f[0][:90]}...)"
    print(f"| {label} | {name} | {pct(o, 0.5):.1f} | {pct(o, 0.9):.1f} | {pct(oc, 0.5):.1f} | {pct(o, 0.5) / floor:.2f}x | {cmp} |")
PY
}

# span LOG: "first_ns last_ns" of the log (from twin-replay info).
span() {
  "$ours" --data-dir "$1" events --limit 1 --json | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['ts_ns'])"
  "$ours" --data-dir "$1" info --json | python3 -c "
import json, sys, datetime
last = json.load(sys.stdin)['last']
s, frac = last.rstrip('Z').split('.')
t = datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp()) * 10**9 + int(frac.ljust(9, '0')))"
}
span_of() { span "$1" | tr '\n' ' '; }

read -r lo hi <<<"$(span_of "$big")"
measure "closed 10 M log" "$big" "$lo" "$hi"
if [[ -n "${TWIN_CLI_BEFORE_LOG:-}" ]]; then
  read -r lo hi <<<"$(span_of "$TWIN_CLI_BEFORE_LOG")"
  measure "closed 10 M log as TWIN_CLI_BEFORE_LOG left it" "$TWIN_CLI_BEFORE_LOG" "$lo" "$hi"
fi

print_results() {
  echo "| log | command | p50 wall ms | p90 wall ms | p50 CPU ms (user+sys) | p50 wall / bare_open | the baseline (same runs, alternating) |"
  echo "|---|---|---|---|---|---|---|"
  cat "$results"
}
# TWIN_CLI_CLOSED_ONLY=1: the closed log only (minutes instead of a quarter of an hour).
if [[ "${TWIN_CLI_CLOSED_ONLY:-0}" == 1 ]]; then
  print_results
  exit 0
fi

writer=""
stop_writer() {
  if [[ -n "$writer" ]]; then kill -TERM "$writer" 2>/dev/null || true; wait "$writer" || true; fi
  writer=""
}
trap stop_writer EXIT
rm -rf "$live"
cp -a "$big" "$live"
# wait_ready FIFO: the writer prints "ready" when its load is in place.
fifo="$TWIN_BENCH_DIR/cli-ready"
rm -f "$fifo"
mkfifo "$fifo"
"$load" --data-dir "$live" --rate 10000 ${TWIN_CLI_SNAPSHOT_EVERY:+--snapshot-every "$TWIN_CLI_SNAPSHOT_EVERY"} >"$fifo" &
writer=$!
read -r _ <"$fifo"
sleep "${TWIN_CLI_LIVE_WARMUP_S:-20}"  # a few flushes and snapshots into the run
read -r lo hi <<<"$(span_of "$live")"
measure "live log, writer at 10,000 events/s" "$live" "$((hi - 15 * 10**9))" "$hi"
stop_writer

"$load" --data-dir "$live" --burst 1000000 ${TWIN_CLI_SNAPSHOT_EVERY:+--snapshot-every "$TWIN_CLI_SNAPSHOT_EVERY"} >"$fifo" &
writer=$!
read -r _ <"$fifo"
read -r lo hi <<<"$(span_of "$live")"
measure "right after a 1 M-event burst (writer open)" "$live" "$((hi - 5 * 10**9))" "$hi"
stop_writer

# The same burst with snapshots cut by the clock only (every 10 s, as the writer did before it
# also cut every kSnapshotEveryEvents events): what readers fold without the count bound.
"$load" --data-dir "$live" --burst 1000000 --snapshot-every 0 >"$fifo" &
writer=$!
read -r _ <"$fifo"
read -r lo hi <<<"$(span_of "$live")"
measure "right after a 1 M-event burst, snapshots by the clock only" "$live" "$((hi - 5 * 10**9))" "$hi"
stop_writer
rm -f "$fifo"
rm -rf "$live"

print_results
