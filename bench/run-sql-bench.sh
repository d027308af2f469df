#!/usr/bin/env bash
# Whole-process benchmarks of twin-replay sql (process start to exit, --json to /dev/null), as
# bench/run-cli-bench.sh measures the other commands, on a synthetic log of N events written by
# bench/log_load --burst N (clock-stamped, a snapshot every 100,000 events; built once):
#   children of X at T        sql over `processes` at T (one fold) filtered by parent_id
#   children of X in a window sql over `events` (the time range, kinds and parent_process_id
#                             pushed down), the second before T (~70,000 events of the burst)
#   who listened on P at T    sql: listeners at T joined with processes at T on the owner's id
# next to, in the same runs and alternating with them: bare_open (RocksDB alone: open, one Get,
# one seek -- the floor), `state --at T` (what answering either state question took before sql:
# the whole state, filtered by the caller), `tree --at T --id X` and `events --since --until
# --kind fork,exec` over the same second. Each run picks a new random T (and the X and P alive
# then). Prints a Markdown table of p50/p90 wall and p50 CPU (user+sys) ms.
# Usage: bench/run-sql-bench.sh [build dir]   (TWIN_SQL_BENCH_EVENTS=10000000, TWIN_CLI_RUNS=11)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${1:-$root/build}"
export TWIN_BENCH_DIR="${TWIN_BENCH_DIR:-/var/tmp/safetytwin-bench}"
events="${TWIN_SQL_BENCH_EVENTS:-10000000}"
runs="${TWIN_CLI_RUNS:-11}"
ours="$build/replay/twin-replay"
bare="$build/bench/bare_open"
load="$build/bench/log_load"
log="$TWIN_BENCH_DIR/sql-burst-$events"
mkdir -p "$TWIN_BENCH_DIR"
if [[ ! -f "$log/CURRENT" ]]; then
  echo "writing the $events-event log in $log (once)" >&2
  fifo="$TWIN_BENCH_DIR/sql-ready"
  rm -f "$fifo"
  mkfifo "$fifo"
  "$load" --data-dir "$log" --burst "$events" >"$fifo" &
  writer=$!
  read -r _ <"$fifo"
  kill -TERM "$writer"
  wait "$writer" || true
  rm -f "$fifo"
fi

python3 - "$log" "$runs" "$ours" "$bare" "$events" <<'PY'
import json, random, resource, subprocess, sys, time
d, runs, ours, bare, events = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = random.Random(16)
def out(argv):
    return subprocess.run([ours, "--data-dir", d] + argv, check=True, capture_output=True).stdout
info = json.loads(out(["info", "--json"]))
snaps = json.loads(out(["sql", "SELECT ts_ns FROM snapshots", "--json"]))
lo, hi = snaps[0]["ts_ns"], snaps[-1]["ts_ns"] + 1
times, cpu = {}, {}
def run(name, argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter() - t0) * 1000
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{name}: {argv[1:]} failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    times.setdefault(name, []).append(dt)
    cpu.setdefault(name, []).append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
def pick(t):
    # The parent with the most children alive at t, and a port listened on at t (not timed).
    x = json.loads(out(["sql", f"SELECT parent_id, count(*) AS n FROM processes WHERE at = {t} "
                       "AND parent_id IS NOT NULL GROUP BY parent_id ORDER BY n DESC LIMIT 1", "--json"]))
    p = json.loads(out(["sql", f"SELECT port FROM listeners WHERE at = {t} LIMIT 1", "--json"]))
    return (x[0]["parent_id"] if x else None), (p[0]["port"] if p else None)
for _ in range(2):  # warm the page cache
    subprocess.run([ours, "--data-dir", d, "info", "--json"], stdout=subprocess.DEVNULL)
done = 0
while done < runs:
    t = rng.randrange(lo, hi)
    x, port = pick(t)
    if x is None or port is None:
        continue
    w0 = t - 10**9  # a burst log holds ~70,000 events a second: about the lead's one-minute window
    cmds = {
        "bare_open (floor)": [bare, d],
        "sql: children of X at T": [ours, "--data-dir", d, "sql", "--json",
            f"SELECT id, pid, cmdline FROM processes WHERE at = {t} AND parent_id = '{x}'"],
        "baseline: state --at T": [ours, "--data-dir", d, "state", "--at", str(t), "--json"],
        "baseline: tree --at T --id X": [ours, "--data-dir", d, "tree", "--at", str(t), "--id", x, "--json"],
        "sql: who listened on P at T": [ours, "--data-dir", d, "sql", "--json",
            "SELECT l.address, l.port, l.protocol, l.pid, p.path, p.cmdline FROM listeners l "
            "LEFT JOIN processes p ON p.id = l.process_id AND p.at = l.at "
            f"WHERE l.at = {t} AND l.port = {port}"],
        "sql: children of X in the second before T": [ours, "--data-dir", d, "sql", "--json",
            f"SELECT datetime, kind, process_id, cmdline FROM events WHERE ts_ns BETWEEN {w0} AND {t} "
            f"AND kind IN ('fork', 'exec') AND parent_process_id = '{x}'"],
        "baseline: events --since T-1s --until T --kind fork,exec": [ours, "--data-dir", d, "events",
            "--since", str(w0), "--until", str(t), "--kind", "fork,exec", "--json"],
    }
    items = list(cmds.items())
    if done % 2:
        items.reverse()
    for name, argv in items:
        run(name, argv)
    done += 1
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]
print(f"log: {events:,} events ({info['events']:,} in the log), {len(snaps)} snapshots, {runs} runs, random T")
print("| command | p50 wall ms | p90 wall ms | p50 CPU ms (user+sys) |")
print("|---|---|---|---|")
for name in cmds:
    print(f"| {name} | {pct(times[name], 0.5):.1f} | {pct(times[name], 0.9):.1f} | {pct(cpu[name], 0.5):.1f} |")
PY
