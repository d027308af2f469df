#!/usr/bin/env bash
# Event-log benchmarks against RocksDB's own db_bench, in the same run, same machine.
#   1. our append (WAL on, fsync=interval, batches of 100 and 1000 events)
#   2. db_bench --benchmarks=fillseq at the same value size and batch sizes (WAL on, no sync)
#   3. compaction of a 100,000-event window, fold throughput
#   4. state --at T on a 10,000,000-event log vs folding from the start
# Prints a Markdown table of results and ratios. Usage: bench/run-core-bench.sh [build dir]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${1:-$root/build}"
bench="$build/bench/eventlog_bench"
export TWIN_BENCH_DIR="${TWIN_BENCH_DIR:-/var/tmp/safetytwin-bench}"
mkdir -p "$TWIN_BENCH_DIR"
out="$TWIN_BENCH_DIR/results.json"
filter="${TWIN_BENCH_FILTER:-BM_Append|BM_Fold|BM_CompactWindow|BM_StateAt|BM_FullFold}"
"$bench" --benchmark_filter="$filter" --benchmark_format=json >"$out"
value_bytes=$(python3 -c "import json;d=json.load(open('$out'));print(int([b for b in d['benchmarks'] if b['name'].startswith('BM_Append')][0]['value_bytes']))")
declare -A dbb
for batch in 100 1000; do
  rm -rf "$TWIN_BENCH_DIR/db_bench"
  line=$(db_bench --benchmarks=fillseq --num=2000000 --value_size="$value_bytes" --key_size=16 \
    --batch_size="$batch" --db="$TWIN_BENCH_DIR/db_bench" --disable_wal=false --sync=false \
    --compression_type=lz4 --write_buffer_size=67108864 2>/dev/null | grep '^fillseq')
  dbb[$batch]=$(awk '{for(i=1;i<=NF;i++) if($i=="ops/sec") print $(i-1)}' <<<"$line")
done
rm -rf "$TWIN_BENCH_DIR/db_bench"
python3 - "$out" "${dbb[100]}" "${dbb[1000]}" "$value_bytes" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
dbb = {100: float(sys.argv[2]), 1000: float(sys.argv[3])}
vb = sys.argv[4]
b = {x['name'].split('/')[0] + ('/' + x['name'].split('/')[1] if x['name'].startswith('BM_Append') else ''): x for x in d['benchmarks']}
print(f"| measurement | result | baseline (same run) | ratio |")
print(f"|---|---|---|---|")
for batch in (100, 1000):
    a = b[f'BM_Append/{batch}']['items_per_second']
    print(f"| append, batch {batch}, WAL on, fsync=interval ({vb} B values) | {a:,.0f} events/s | db_bench fillseq batch {batch}: {dbb[batch]:,.0f} ops/s | {a/dbb[batch]:.2f}x |")
f = b['BM_Fold']
print(f"| fold (decoded events) | {f['items_per_second']:,.0f} events/s | | |")
c = b['BM_CompactWindow']
print(f"| compaction of a 10 s window of 100,000 events | {c['real_time']:.1f} ms | target < 50 ms | |")
if 'BM_StateAt' in b and 'BM_FullFold' in b:
    s, ff = b['BM_StateAt'], b['BM_FullFold']
    print(f"| state --at T, {int(s['log_events']):,}-event log, random T | p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms | fold from start: mean {ff['real_time']:.0f} ms | {ff['real_time']/s['p50_ms']:.0f}x faster (p50) |")
PY
