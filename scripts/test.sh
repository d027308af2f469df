#!/usr/bin/env bash
# Builds safetytwin and runs every test: unit, privileged (real BPF, cgroups) and vm (real
# qemu through libvirt) and the libFuzzer harnesses for a bounded time (CTest fuzz_smoke, which
# runs scripts/fuzz.sh). Sets up what the tests need first: packages, tracefs/bpffs, libvirtd,
# the twin image. With SAFETYTWIN_NO_SKIP=1 (CI) a test that would skip for lack of a
# capability fails instead.
# Usage: scripts/test.sh [ctest args, e.g. -L unit]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[test] %s\n' "$*" >&2; }
[[ "$(id -u)" == 0 ]] || { log "run as root: privileged and vm tests need it"; exit 1; }
"$root/scripts/build.sh"
"$root/scripts/mounts.sh"
if [[ -x "$root/scripts/start-libvirt.sh" ]]; then
  "$root/scripts/start-libvirt.sh"
fi
if [[ -x "$root/scripts/build-twin-image.sh" ]]; then
  "$root/scripts/build-twin-image.sh"
fi
build="${TWIN_BUILD_DIR:-$root/build}"
log "running ctest in $build"
ctest --test-dir "$build" --output-on-failure --timeout 1500 "$@"
