#!/usr/bin/env bash
# Installs every Debian package safetytwin needs (scripts/packages.txt). Idempotent: apt runs
# only when something is missing. Run as root on Debian 12.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[install-deps] %s\n' "$*" >&2; }
[[ "$(id -u)" == 0 ]] || { log "run as root (apt-get install needs it)"; exit 1; }
mapfile -t pkgs < <(grep -vE '^[[:space:]]*(#|$)' "$here/packages.txt")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm for the browser tests (scripts/packages.txt): Debian's package unless a nodejs that
# bundles its own npm is installed (Debian's npm conflicts with such a nodejs).
if ! command -v npm >/dev/null; then
  dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q 'install ok installed' || missing+=(npm)
fi
if ((${#missing[@]} == 0)); then
  log "all ${#pkgs[@]} packages present"
  exit 0
fi
log "installing ${#missing[@]} missing packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package scripts may try to start services; on machines without systemd as PID 1 that must
# not fail the install (scripts/start-libvirt.sh starts what we need).
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q "${missing[@]}"
# etcd-server is here for the fleet tests and benches, which start their own members on loopback
# ports with their own data dirs. The package enables (and under systemd starts) a system etcd
# on 127.0.0.1:2379 without auth; when this script installed it, that service is disabled and
# stopped so nothing listens that the user did not ask for. An etcd the user had stays as it was.
for p in "${missing[@]}"; do
  if [[ "$p" == etcd-server ]]; then
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now etcd.service >/dev/null 2>&1 || true
    else
      systemctl disable etcd.service >/dev/null 2>&1 ||
        rm -f /etc/systemd/system/multi-user.target.wants/etcd.service /etc/systemd/system/etcd2.service
    fi
    log "etcd-server installed for the fleet tests; its system service is disabled (docs/FLEET.md)"
  fi
done
log "done"
