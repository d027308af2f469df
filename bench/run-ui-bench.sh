#!/usr/bin/env bash
# The web UI on a day of 1,000,000 events: writes the log (bench/ui_day_log.cc), measures the
# timeline aggregate in-process (one thread against the default slicing, interleaved), then
# through `twin-replay ui` over HTTP with curl, the State page's requests at mid-day, and the
# Timeline page opening in chromium.
# Usage: bench/run-ui-bench.sh [BUILD_DIR] [EVENTS]   (port 18302 on 127.0.0.1)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
events=${2:-1000000}
port=18302
work=$(mktemp -d /tmp/twin-ui-bench-XXXXXX)
ui_pid=
cleanup() { [[ -n "$ui_pid" ]] && kill "$ui_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
echo "== writing $events events over one day"
/usr/bin/time -f "written in %e s (%M KiB max RSS)" "$build/bench/ui_day_log" --data-dir "$work/data" --events "$events" --runs 5
du -sh "$work/data" | sed 's/^/log size /'
"$build/replay/twin-replay" ui --data-dir "$work/data" --listen "127.0.0.1:$port" >"$work/ui.out" 2>&1 &
ui_pid=$!
for _ in $(seq 50); do grep -q '^open: ' "$work/ui.out" && break; sleep 0.1; done
token=$(sed -n 's/^open: .*token=//p' "$work/ui.out")
get() {  # prints time_total in ms for GET $1
  curl -s -o "$work/body" -w '%{time_total} %{http_code} %{size_download}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$1" |
    awk '{printf "%.0f ms (HTTP %s, %s bytes)\n", $1 * 1000, $2, $3}'
}
echo "== over HTTP (twin-replay ui, curl), 5 runs each"
for what in "/api/timeline" "/api/timeline?since=-13h&until=-12h" "/" "/app.js"; do
  for _ in 1 2 3 4 5; do printf '%-40s ' "$what"; get "$what"; done
done
mid=$(( $(date +%s) - 43200 ))
for what in "/api/state?at=$mid" "/api/tree?at=$mid" "/api/events?since=$mid&limit=1000"; do
  for _ in 1 2 3; do printf '%-40s ' "${what%%\?*}"; get "$what"; done
done
echo "== the Timeline page in chromium (playwright-core)"
"$root/tests/ui/browser/setup.sh" "$build/tests/ui/browser" >/dev/null
TWIN_UI_BROWSER_DIR="$build/tests/ui/browser" node "$root/tests/ui/browser/page_time.mjs" \
  "$(sed -n 's/^open: //p' "$work/ui.out")" 5
kill -TERM "$ui_pid"; wait "$ui_pid" || true; ui_pid=
