#!/usr/bin/env bash
# Mounts tracefs and bpffs when they are missing (containers and minimal machines often lack
# them). Idempotent. twind does the same at start; tests and --check use this script.
set -euo pipefail
log() { printf '[mounts] %s\n' "$*" >&2; }
mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; }
if ! mounted /sys/kernel/tracing && ! mounted /sys/kernel/debug/tracing; then
  mkdir -p /sys/kernel/tracing 2>/dev/null || true
  mount -t tracefs tracefs /sys/kernel/tracing && log "mounted tracefs"
fi
if ! mounted /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf && log "mounted bpffs"
fi
