#!/usr/bin/env bash
# Remakes docs/ui/*.png: a synthetic day of 100,000 events with hostile strings (bench/ui_day_log),
# served by `twin-replay ui` on 127.0.0.1:18304 and shot in Debian's chromium through
# playwright-core (tests/ui/browser/screenshots.mjs), plus a report of the last hour.
# Usage: scripts/ui-screenshots.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d /tmp/twin-ui-shots-XXXXXX)
ui_pid=
cleanup() { [[ -n "$ui_pid" ]] && kill "$ui_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$root/tests/ui/browser/setup.sh" "$build/tests/ui/browser" >/dev/null
"$build/bench/ui_day_log" --data-dir "$work/data" --events 100000 --runs 1 --hostile 1 2>/dev/null
"$build/replay/twin-replay" report --data-dir "$work/data" --since -1h --until now --out "$work/case.html"
"$build/replay/twin-replay" ui --data-dir "$work/data" --listen 127.0.0.1:18304 >"$work/ui.out" 2>&1 &
ui_pid=$!
for _ in $(seq 50); do grep -q '^open: ' "$work/ui.out" && break; sleep 0.1; done
mkdir -p "$root/docs/ui"
TWIN_UI_BROWSER_DIR="$build/tests/ui/browser" node "$root/tests/ui/browser/screenshots.mjs" \
  "$(sed -n 's/^open: //p' "$work/ui.out")" "$work/case.html" "$root/docs/ui"
kill -TERM "$ui_pid"; wait "$ui_pid"; ui_pid=
