#!/usr/bin/env bash
# Installs dependencies and builds everything into build/ (Release with debug info).
# Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
build="${TWIN_BUILD_DIR:-$root/build}"
# ccache (scripts/packages.txt) keeps a rebuild of a fresh clone or another checkout of the same
# tree cheap: paths are hashed relative to the checkout, so clones in different dirs share hits.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
jobs=$(nproc)
ninja -C "$build" -j"$jobs"
