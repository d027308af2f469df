#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in their own build dir
# and runs each for a bounded time on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME;
# the committed seeds are never written). Fails on any crash, sanitizer report, leak, timeout or
# broken property, and keeps the input that caused it under the build dir.
# Usage: scripts/fuzz.sh [SECONDS per harness, default $TWIN_FUZZ_SECONDS or 30] [HARNESS...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[fuzz] %s\n' "$*" >&2; }
secs=${1:-${TWIN_FUZZ_SECONDS:-30}}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || { log "SECONDS must be a whole number >= 1, not '$secs'"; exit 2; }
shift || true
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(record_fuzz time_fuzz size_fuzz config_fuzz tar_fuzz)
build="${TWIN_FUZZ_BUILD_DIR:-$root/build-fuzz}"
command -v clang++ >/dev/null || { log "clang++ not found: run scripts/install-deps.sh"; exit 1; }
launcher=()
if command -v ccache >/dev/null; then  # as scripts/build.sh
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" -DTWIN_BUILD_FUZZ=ON -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF >/dev/null
# Quiet unless the build fails: then its errors are what the caller (CTest) must see.
if ! out=$(ninja -C "$build" -j"$(nproc)" "${harnesses[@]}" 2>&1); then
  printf '%s\n' "$out" | grep -E -A8 'error|FAILED' | head -80 >&2
  log "building the harnesses failed"
  exit 1
fi
failed=0
for h in "${harnesses[@]}"; do
  seeds="$root/tests/fuzz/corpus/$h"
  [[ -d "$seeds" ]] || { log "$h: no seed corpus at $seeds"; exit 1; }
  work="$build/fuzz-runs/$h"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$seeds/." "$work/corpus/"
  log "$h: ${secs}s on $(find "$seeds" -type f | wc -l) seeds"
  rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
    >"$work/output.txt" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/output.txt" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/output.txt" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$work/artifacts" -type f | wc -l)
  if [[ $rc -ne 0 || $crashes -ne 0 ]]; then
    failed=1
    log "$h: FAILED (rc $rc); inputs in $work/artifacts; log $work/output.txt"
    tail -40 "$work/output.txt" >&2
  fi
  printf 'fuzz: %-12s %4ss  %10s execs  cov %6s  crashes %s\n' "$h" "$secs" "${execs:-?}" "${cov:-?}" "$crashes"
done
exit $failed
