#!/usr/bin/env bash
# Starts virtlogd and libvirtd as daemons when they are not running (dev/CI machines have no
# systemd as PID 1, so nothing else starts them). Idempotent; waits until qemu:///system answers.
# Usage: start-libvirt.sh [--uri URI]   (default qemu:///system)
set -euo pipefail
URI="${1:-}"
if [[ "$URI" == "--uri" ]]; then URI="$2"; fi
URI="${URI:-qemu:///system}"
log() { printf '[start-libvirt] %s\n' "$*" >&2; }

[[ "$(id -u)" == 0 ]] || { log "must run as root to start libvirtd"; exit 1; }
for tool in virtlogd libvirtd virsh; do
  command -v "$tool" >/dev/null || { log "missing $tool: run scripts/install-deps.sh"; exit 1; }
done

running() { pgrep -x "$1" >/dev/null 2>&1; }
answers() { timeout 5 virsh -c "$URI" version >/dev/null 2>&1; }

if running libvirtd && answers; then log "libvirt already answering on $URI"; exit 0; fi

mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu
if ! running virtlogd; then
  log "starting virtlogd"
  virtlogd -d
fi
if ! running libvirtd; then
  log "starting libvirtd"
  libvirtd -d
fi
for _ in $(seq 1 100); do
  if answers; then log "libvirt answering on $URI"; exit 0; fi
  sleep 0.1
done
log "libvirtd did not answer on $URI within 10 s; see /var/log/libvirt/libvirtd.log"
exit 1
