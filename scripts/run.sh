#!/usr/bin/env bash
# The main job: builds safetytwin, installs it under /usr/local, and starts twind capturing this
# host into the embedded event log (/var/lib/safetytwin) and keeping the twin VM in sync.
# Idempotent: a second run rebuilds what changed and restarts twind.
#   - with systemd as PID 1: installs scripts/safetytwin.service and enables it;
#   - otherwise: starts twind as a daemon (pid file /run/safetytwin/twind.pid).
# Usage: scripts/run.sh [--no-twin] [--data-dir DIR] [--stop]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[safetytwin] %s\n' "$*" >&2; }
NO_TWIN=0
DATA_DIR=/var/lib/safetytwin
STOP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-twin) NO_TWIN=1 ;;
    --data-dir) DATA_DIR="$2"; shift ;;
    --stop) STOP=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) log "unknown argument '$1' (try --help)"; exit 2 ;;
  esac
  shift
done
[[ "$(id -u)" == 0 ]] || { log "run as root: twind loads eBPF programs"; exit 1; }
# The data dir ends up in a systemd ExecStart= line: a plain absolute path only.
[[ "$DATA_DIR" =~ ^/[A-Za-z0-9._/-]+$ && "$DATA_DIR" != *..* ]] || {
  log "--data-dir '$DATA_DIR': use an absolute path of letters, digits, '.', '_', '-' and '/'"; exit 2; }

PIDFILE=/run/safetytwin/twind.pid
systemd_pid1() { [[ "$(ps -p 1 -o comm= 2>/dev/null)" == systemd ]]; }
stop_daemon() {
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    local pid; pid=$(cat "$PIDFILE")
    log "stopping twind (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}
if ((STOP)); then
  if systemd_pid1; then systemctl stop safetytwin; else stop_daemon; fi
  exit 0
fi

"$root/scripts/build.sh"
cmake --install "$root/build" --prefix /usr/local >/dev/null
log "installed twind and twin-replay under /usr/local"
"$root/scripts/mounts.sh"

mkdir -p /etc/safetytwin
if [[ ! -f /etc/safetytwin/twind.toml ]]; then
  cat >/etc/safetytwin/twind.toml <<TOML
# safetytwin daemon configuration (flags override these). See docs/OPERATIONS.md.
data_dir = "$DATA_DIR"
compact_interval = 10      # seconds
fsync = "interval"         # always | interval | never
metrics_addr = "127.0.0.1:9464"   # loopback only; a port someone else holds is retried, never fatal
metrics_socket = "/run/safetytwin/metrics.sock"   # curl --unix-socket ... http://twind/metrics
# no_twin = true           # the twin VM is chosen per run: scripts/run.sh --no-twin
TOML
  log "wrote /etc/safetytwin/twind.toml"
fi

args=(--config /etc/safetytwin/twind.toml --data-dir "$DATA_DIR")
if ((NO_TWIN)); then
  args+=(--no-twin)
else
  "$root/scripts/start-libvirt.sh"
  "$root/scripts/build-twin-image.sh"
fi

/usr/local/sbin/twind --check "${args[@]}" || { log "twind --check failed: capture cannot work here (see above)"; exit 1; }

# Forward-secure seals: on first run create the key and show the verification key once.
install -d -m 0700 "$DATA_DIR"
if [[ ! -f "$DATA_DIR/seal.key" ]]; then
  log "creating the forward-secure seal key; store the verification key below OFF this host:"
  /usr/local/bin/twin-replay setup-keys --data-dir "$DATA_DIR"
fi

if systemd_pid1; then
  install -m 0644 "$root/scripts/safetytwin.service" /etc/systemd/system/safetytwin.service
  # This run's choices (data dir, --no-twin) as a drop-in, rewritten every run so that a choice
  # made once does not stick.
  dropin=/etc/systemd/system/safetytwin.service.d
  mkdir -p "$dropin"
  rm -f "$dropin/no-twin.conf"
  {
    echo "# Written by scripts/run.sh; rewritten on every run."
    echo "[Service]"
    echo "ExecStartPre="
    echo "ExecStartPre=+/usr/bin/install -d -m 0711 /var/lib/libvirt/images/safetytwin"
    echo "ExecStartPre=/usr/local/sbin/twind --check ${args[*]}"
    echo "ExecStart="
    echo "ExecStart=/usr/local/sbin/twind --foreground ${args[*]}"
    if [[ "$DATA_DIR" != /var/lib/safetytwin ]]; then echo "ReadWritePaths=$DATA_DIR"; fi
  } >"$dropin/run-sh.conf"
  systemctl daemon-reload
  systemctl enable safetytwin >/dev/null 2>&1
  # Type=notify: restart returns once twind has sent READY=1 (or failed).
  if ! systemctl restart safetytwin; then
    log "safetytwin failed to start; the unit's log:"
    journalctl -u safetytwin -n 30 --no-pager >&2 || true
    exit 1
  fi
  log "twind runs as systemd unit safetytwin (systemctl status safetytwin; journalctl -u safetytwin)"
else
  stop_daemon
  install -d -m 0755 /run/safetytwin
  mkdir -p /var/log/safetytwin
  /usr/local/sbin/twind "${args[@]}" --pid-file "$PIDFILE" --log-file /var/log/safetytwin/twind.log
  for _ in $(seq 1 100); do [[ -s "$PIDFILE" ]] && break; sleep 0.1; done
  [[ -s "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null || {
    log "twind did not start; see /var/log/safetytwin/twind.log"; tail -20 /var/log/safetytwin/twind.log >&2 || true; exit 1; }
  log "twind running as a daemon, pid $(cat "$PIDFILE"), log /var/log/safetytwin/twind.log"
fi
# Wait until the first events are in the log.
for _ in $(seq 1 50); do
  if /usr/local/bin/twin-replay events --data-dir "$DATA_DIR" --kind daemon_start --limit 1 2>/dev/null | grep -q daemon_start; then
    break
  fi
  sleep 0.2
done
if ((NO_TWIN)); then
  twin_msg="twin VM: off (--no-twin)"
else
  twin_msg="twin VM: domain 'safetytwin' on qemu:///system boots in the background (about 75 s
  under software emulation, seconds with KVM) and follows this host after each 10 s compaction;
  twin-replay vm --list shows its snapshots"
fi
cat >&2 <<MSG
[safetytwin] $twin_msg
[safetytwin] capturing. Try:
  twin-replay events --data-dir $DATA_DIR --since -1m
  twin-replay state  --data-dir $DATA_DIR --at now
  twin-replay verify --data-dir $DATA_DIR
  scripts/run.sh --stop
MSG
