#!/usr/bin/python3
# WANT_JSON
# safetytwin: start / stop / restart and enable / disable a list of units with systemctl
# (argv, never a shell; `--` before every name). Old-style module for TCG start-up speed and one
# interpreter start per task (see safetytwin_unitfile).
#   units: [name | {name, enable: false}]   state: started|stopped|restarted   enabled: true|false|null
#   (a {name, enable: false} item is only started/restarted: its enablement is the host's links,
#   written by safetytwin_unitfile; items run in the given order: sockets before services,
#   services before timers)
import json
import re
import subprocess
import sys

UNIT_RE = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.[a-z]+$")


def systemctl(*args):
    p = subprocess.run(["systemctl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, check=False)
    return p.returncode, p.stdout.decode("utf-8", "replace").strip(), \
        p.stderr.decode("utf-8", "replace").strip()


def one(name, state, enabled):
    # Few systemctl calls and no daemon-reload: on a busy TCG guest a reload (it reruns the
    # generators) took 40 s. systemd >= 246 finds unit files added since the last reload on
    # demand, and inactive unreferenced units are garbage-collected, so enabling/disabling with
    # --no-reload is enough for added and removed units; only a *replaced* unit file needs a
    # reload (done by safetytwin_unitfile).
    if not isinstance(name, str) or not UNIT_RE.match(name) or ".." in name:
        return {"failed": True, "msg": "refusing an invalid unit name"}
    _, before, _ = systemctl("is-active", "--", name)
    was_active = before in ("active", "activating", "reloading")
    if state == "stopped":
        if enabled is False:
            rc, _, err = systemctl("disable", "--now", "--no-reload", "--", name)
        else:
            rc, _, err = systemctl("stop", "--", name)
        if rc != 0 and "not loaded" not in err and "does not exist" not in err:
            return {"failed": True, "msg": "stop: " + err}
        return {"changed": was_active}
    if state == "restarted":
        rc, _, err = systemctl("restart", "--", name)
        if rc == 0 and enabled:
            systemctl("enable", "--no-reload", "--", name)  # best effort: may be static
    elif state == "started":
        if enabled:
            rc, _, err = systemctl("enable", "--now", "--no-reload", "--", name)
        else:
            rc, _, err = systemctl("start", "--", name)
    else:
        return {"failed": True, "msg": "unknown state %r" % (state,)}
    if rc != 0:
        return {"failed": True, "msg": "%s: %s" % (state, err)}
    _, after, _ = systemctl("is-active", "--", name)
    if after not in ("active", "activating"):
        return {"failed": True, "changed": True, "msg": "unit is %s after %s" % (after, state)}
    return {"changed": state == "restarted" or not was_active}


def run(args):
    items = []
    enabled = args.get("enabled")
    if enabled is not None:  # templated booleans may arrive as text
        enabled = str(enabled).lower() in ("true", "yes", "1")
    for item in args.get("units") or []:
        name, item_enabled = item, enabled
        if isinstance(item, dict):
            name = item.get("name")
            if str(item.get("enable")).lower() in ("false", "no", "0"):
                item_enabled = None
        r = one(name, args.get("state") or "", item_enabled)
        r["item"] = str(name)
        items.append(r)
    failed = [i for i in items if i.get("failed")]
    return {"changed": any(i.get("changed") for i in items), "failed": bool(failed),
            "safetytwin_items": items, "msg": "; ".join(i["msg"] for i in failed)}


def main():
    with open(sys.argv[1], "r", encoding="utf-8") as f:
        return run(json.load(f))


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:
        result = {"failed": True, "msg": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
