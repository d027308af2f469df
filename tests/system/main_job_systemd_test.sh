#!/usr/bin/env bash
# The README's main command under a real systemd (PID 1 in a container copy of this machine):
# `scripts/run.sh` installs, enables and starts the unit; then, only through what a user types,
#   - the unit is active after READY=1 and the watchdog keeps it alive for more than a minute;
#   - journalctl -u safetytwin has twind's start-up lines, sd-bus confirmation included;
#   - the twin VM (libvirtd in the container) boots, and a host unit with a listener started
#     later appears in it, running, with its unit file byte-exact (checked through the guest agent);
#   - a oneshot unit that stays active after its process exits (only sd-bus can tell) is in the
#     state as active;
#   - `twin-replay vm --at` a time before the change gives a copy without that unit;
#   - `systemctl stop safetytwin` records daemon_stop.
set -euo pipefail
ST_TEST=main-job-systemd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
st_require
ST_NAME=systemd
st_own_cgroup
st_make_root systemd
st_boot systemd

say "README main command in the container: scripts/run.sh"
st_sh "cd '$ST_SRC' && scripts/run.sh" > "$ST_BASE/run.out" 2>&1 || { cat "$ST_BASE/run.out" >&2; fail "scripts/run.sh failed"; }
tail -12 "$ST_BASE/run.out" >&2

[[ "$(st_in systemctl is-active safetytwin)" == active ]] || fail "safetytwin is not active after run.sh"
[[ "$(st_in systemctl is-enabled safetytwin)" == enabled ]] || fail "safetytwin is not enabled"
read -r pid0 < <(st_in systemctl show -p MainPID --value safetytwin)
t_active=$(date +%s)
journal() { st_in journalctl -u safetytwin --no-pager -o cat; }
journal | grep -q 'probes attached' || { journal | tail -30 >&2; fail "no start-up line from twind in the journal"; }
journal | grep -q 'systemd is PID 1: unit states confirmed over sd-bus' || { journal | tail -30 >&2; fail "sd-bus watcher not started"; }
say "unit active (MainPID $pid0), start-up lines in the journal"

# The twin follows the host.
st_wait_twin_in_sync journal
sleep 1
before=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1

# A host unit with a listener, as an administrator would add one.
unit='[Unit]
Description=probe service added on the host while twind runs

[Service]
ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 18080
'
st_sh "cat > /etc/systemd/system/st-probe.service <<'U'
$unit
U
systemctl daemon-reload && systemctl start st-probe.service"
# A oneshot whose process exits at once but which stays active: its cgroup goes away, only
# systemd (sd-bus) knows it is still active.
st_sh "printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n' > /etc/systemd/system/st-oneshot.service && systemctl daemon-reload && systemctl start st-oneshot.service"
[[ "$(st_in systemctl is-active st-probe.service)" == active ]] || fail "st-probe did not start in the container"

st_expect_unit_in_twin st-probe.service 18080 journal

# sd-bus: the oneshot is active in the captured state although no process of it is alive.
oneshot_active() { replay state --at now --json | python3 -c '
import json, sys
units = json.load(sys.stdin)["units"]
sys.exit(0 if any(u["name"] == "st-oneshot.service" for u in units) else 1)'; }
st_wait 60 "st-oneshot.service (RemainAfterExit, no process) active in the state" oneshot_active || {
  replay events --since -20m --unit st-oneshot.service --json >&2 || true; fail "oneshot unit missing from the state"; }

# The watchdog: still the same process, never restarted, more than a minute after READY=1.
while (( $(date +%s) - t_active < 65 )); do sleep 5; done
[[ "$(st_in systemctl is-active safetytwin)" == active ]] || fail "safetytwin not active a minute later"
[[ "$(st_in systemctl show -p MainPID --value safetytwin)" == "$pid0" ]] || fail "twind was restarted (MainPID changed)"
[[ "$(st_in systemctl show -p NRestarts --value safetytwin)" == 0 ]] || fail "NRestarts is not 0"
say "watchdog: same MainPID, 0 restarts, $(( $(date +%s) - t_active )) s after READY"

# The twin as the host was before the unit was added.
say "twin-replay vm --at $before"
replay vm --at "$before" --json > "$ST_BASE/vm-at.json" || fail "vm --at failed"
copy=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["domain"])' "$ST_BASE/vm-at.json")
state=$(st_guest "$copy" /bin/systemctl is-active st-probe.service || true)
[[ "$state" != active* ]] || fail "the copy at $before runs st-probe, which was started after that time"
replay vm --remove "$copy" >/dev/null || fail "vm --remove $copy failed"
say "copy $copy reflects the host before the change (st-probe: ${state:-inactive}) and was removed"

# Minutes and many periodic resyncs later the oneshot is still active: the resync (which sees no
# cgroup for it) asks systemd instead of removing it.
oneshot_active || fail "st-oneshot.service left the state although systemd still has it active"
say "st-oneshot.service still active in the state after the resyncs since"

st_in systemctl stop safetytwin
replay events --kind daemon_stop --since -30m --json | grep -q SIGTERM || fail "no daemon_stop after systemctl stop"
say "PASS"
