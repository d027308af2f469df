#!/usr/bin/env bash
# Event-log benchmarks against RocksDB's own db_bench, in the same run, same machine.
#   1. our append (WAL on, fsync=interval, batches of 100 and 1000 events)
#   2. db_bench --benchmarks=fillseq at the same value size and batch sizes (WAL on, no sync),
#      with RocksDB's defaults and with the event log's own RocksDB settings; at batch 1000 also
#      append with fsync=never and RocksDB alone writing the same records with the log's options
#      (BM_RocksDbLayout), which splits the gap into what RocksDB costs and what we add
#   3. compaction of a 100,000-event window (following the log, and cold), the raw scan of such a
#      window, append with a following compactor, fold throughput
#   4. state --at T on a 10,000,000-event log vs folding from the start
# Prints a Markdown table of results and ratios. Usage: bench/run-core-bench.sh [build dir]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${1:-$root/build}"
bench="$build/bench/eventlog_bench"
export TWIN_BENCH_DIR="${TWIN_BENCH_DIR:-/var/tmp/safetytwin-bench}"
mkdir -p "$TWIN_BENCH_DIR"
out="$TWIN_BENCH_DIR/results.json"
filter="${TWIN_BENCH_FILTER:-BM_Append/1000/|BM_AppendFollowed|BM_Fold|BM_CompactWindow|BM_ScanWindowRaw|BM_StateAt|BM_FullFold}"
pairs="${TWIN_BENCH_PAIRS:-5}"
# The machines are shared and their speed drifts over minutes, so append and db_bench run as
# interleaved runs (ours, then db_bench twice, same batch size) and each ratio is the median of
# the runs' ratios.
"$bench" --benchmark_filter="$filter" --benchmark_format=json >"$out"
value_bytes=$(python3 -c "import json;d=json.load(open('$out'));print(int([b for b in d['benchmarks'] if b['name'].startswith('BM_Append')][0]['value_bytes']))")
pairs_file="$TWIN_BENCH_DIR/append-pairs.txt"
: >"$pairs_file"
# db_bench runs twice per pair: with the settings above (LZ4, 64 MB memtables, otherwise
# RocksDB's defaults as packaged by Debian) and with every RocksDB setting the event log uses
# for its events (16 KB blocks, up to 4 memtables, two flushes at once, and the hardware CRC32C of
# eventlog/rocksdb_crc32c.cc through LD_PRELOAD): the table shows the ratio against both.
preload="$build/bench/libtwin_crc32c_preload.so"
db_bench_ops() {  # batch, "tuned" or ""
  local env_args=() tuned_args=()
  if [[ "$2" == tuned ]]; then
    env_args=(LD_PRELOAD="$preload")
    tuned_args=(--block_size=16384 --max_write_buffer_number=4 --max_background_flushes=2)
  fi
  rm -rf "$TWIN_BENCH_DIR/db_bench"
  env "${env_args[@]}" db_bench --benchmarks=fillseq --num=2000000 --value_size="$value_bytes" \
    --key_size=16 --batch_size="$1" --db="$TWIN_BENCH_DIR/db_bench" --disable_wal=false \
    --sync=false --compression_type=lz4 --write_buffer_size=67108864 "${tuned_args[@]}" \
    2>/dev/null | awk '/^fillseq/{for(i=1;i<=NF;i++) if($i=="ops/sec") print $(i-1)}'
}
# Batch 1000 also runs, in the same process as our append: append with fsync=never (like
# db_bench --sync=false) and RocksDB alone doing the same writes with the log's options and
# column families (BM_RocksDbLayout/5) or the events column family alone (/1).
for batch in 100 1000; do
  for ((i = 0; i < pairs; i++)); do
    if [[ $batch == 1000 ]]; then
      ours_filter="BM_Append/1000/|BM_AppendNoSync/1000|BM_RocksDbLayout"
    else
      ours_filter="BM_Append/$batch/"
    fi
    ours=$("$bench" --benchmark_filter="$ours_filter" --benchmark_format=json | python3 -c "
import json, sys
r = {b['name'].split('/min_time')[0]: b['items_per_second'] for b in json.load(sys.stdin)['benchmarks']}
print(' '.join(str(r.get(k, 0)) for k in ('BM_Append/$batch', 'BM_AppendNoSync/1000', 'BM_RocksDbLayout/5', 'BM_RocksDbLayout/1')))")
    read -r append nosync layout5 layout1 <<<"$ours"
    theirs=$(db_bench_ops "$batch" "")
    theirs_hw=$(db_bench_ops "$batch" tuned)
    echo "$batch $append $theirs $theirs_hw $nosync $layout5 $layout1" >>"$pairs_file"
  done
done
rm -rf "$TWIN_BENCH_DIR/db_bench"
python3 - "$out" "$pairs_file" "$value_bytes" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
pairs = {}
for line in open(sys.argv[2]):
    batch, *vals = line.split()
    pairs.setdefault(int(batch), []).append([float(v) for v in vals])
vb = sys.argv[3]
b = {x['name'].split('/')[0] + ('/' + x['name'].split('/')[1] if x['name'].startswith('BM_Append') else ''): x for x in d['benchmarks']}

def row(what, p, num, den, den_what, unit="ops/s", num_unit="events/s"):
    ours = statistics.median(x[num] for x in p)
    theirs = statistics.median(x[den] for x in p)
    ratios = sorted(x[num] / x[den] for x in p)
    print(f"| {what}, median of {len(p)} interleaved runs | {ours:,.0f} {num_unit} | {den_what}: {theirs:,.0f} {unit} | {statistics.median(ratios):.2f}x (runs {', '.join(f'{r:.2f}' for r in ratios)}) |")

# columns: 0 append (fsync=interval), 1 db_bench defaults, 2 db_bench with the log's settings,
# 3 append fsync=never, 4 RocksDB alone with the log's layout, 5 events column family alone
defaults = "LZ4, 64 MB memtables, defaults otherwise"
tuned = "with the log's settings: 16 KB blocks, 4 memtables, 2 flushes, hardware CRC32C"
print(f"| measurement | result | baseline (same run) | ratio |")
print(f"|---|---|---|---|")
for batch in (100, 1000):
    p = pairs[batch]
    what = f"append, batch {batch}, WAL on, fsync=interval ({vb} B values)"
    row(what, p, 0, 1, f"db_bench fillseq batch {batch}, {defaults}")
    row(what, p, 0, 2, f"db_bench fillseq batch {batch}, {tuned}")
p = pairs[1000]
nosync = "append, batch 1000, WAL on, fsync=never (like db_bench --sync=false)"
row(nosync, p, 3, 1, f"db_bench fillseq batch 1000, {defaults}")
row(nosync, p, 3, 4, "RocksDB alone writing the same encoded records and chain head, log's options and column families (BM_RocksDbLayout/5)", "records/s")
row("RocksDB alone, log's options and column families (BM_RocksDbLayout/5)", p, 4, 5, "the same with the events column family alone in its DB (BM_RocksDbLayout/1)", "records/s", "records/s")
row("RocksDB alone, events column family alone (BM_RocksDbLayout/1)", p, 5, 2, f"db_bench fillseq batch 1000, {tuned}", "ops/s", "records/s")
f = b['BM_Fold']
print(f"| fold (decoded events) | {f['items_per_second']:,.0f} events/s | | |")
af = b['BM_AppendFollowed/1000']
a1 = b['BM_Append/1000']
print(f"| append, batch 1000, with a compactor following the log (twind's setup) | {af['items_per_second']:,.0f} events/s | append alone, same run: {a1['items_per_second']:,.0f} events/s | {af['items_per_second']/a1['items_per_second']:.2f}x |")
c = b['BM_CompactWindow']
cc = b['BM_CompactWindowCold']
r = b['BM_ScanWindowRaw']
print(f"| compaction tick, 10 s window of 100,000 events, compactor following (as twind) | {c['real_time']:.1f} ms wall, {c['cpu_time']:.1f} ms CPU | RocksDB iterating such a window: {r['real_time']:.1f} ms | {c['real_time']/r['real_time']:.2f}x the raw scan |")
print(f"| compaction of the same window read back from the log (cold compactor) | {cc['real_time']:.1f} ms wall, {cc['cpu_time']:.1f} ms CPU of the calling thread | RocksDB iterating such a window: {r['real_time']:.1f} ms | {cc['real_time']/r['real_time']:.2f}x the raw scan |")
if 'BM_StateAt' in b and 'BM_FullFold' in b:
    s, ff = b['BM_StateAt'], b['BM_FullFold']
    print(f"| state --at T, {int(s['log_events']):,}-event log, random T | p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms | fold from start: mean {ff['real_time']:.0f} ms | {ff['real_time']/s['p50_ms']:.0f}x faster (p50) |")
PY
