#!/usr/bin/env bash
# Installs the browser tests' npm packages (pinned by package-lock.json) into DIR with `npm ci`.
# npm's cache (~/.npm) makes every run after the first work offline; the lockfile's integrity
# hashes are checked either way. Usage: setup.sh DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:?usage: setup.sh DIR}
command -v npm >/dev/null || { echo "setup.sh: npm not found: apt-get install npm" >&2; exit 1; }
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
cd "$dir"
if [[ -f node_modules/.package-lock.json ]] && cmp -s package-lock.json .installed-lock.json; then
  echo "playwright-core already installed from this lockfile in $dir"
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --prefer-offline
cp package-lock.json .installed-lock.json
echo "installed: $(node -e 'console.log(require("./node_modules/playwright-core/package.json").version)') in $dir"
