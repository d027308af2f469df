#!/usr/bin/python3
# WANT_JSON
# safetytwin: start / stop / restart and enable / disable a list of units with systemctl
# (argv, never a shell; `--` before every name). Old-style module for TCG start-up speed and one
# interpreter start per task (see safetytwin_unitfile).
#   units: [name]   state: started|stopped|restarted   enabled: true|false|null
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
    if not isinstance(name, str) or not UNIT_RE.match(name) or ".." in name:
        return {"failed": True, "msg": "refusing an invalid unit name"}
    changed = False
    _, active, _ = systemctl("is-active", "--", name)
    is_active = active in ("active", "activating", "reloading")
    verb = {"started": "start" if not is_active else None,
            "stopped": "stop" if is_active else None,
            "restarted": "restart"}.get(state)
    if verb:
        rc, _, err = systemctl(verb, "--", name)
        if rc != 0:
            return {"failed": True, "msg": "%s: %s" % (verb, err)}
        changed = True
    if enabled is not None:
        _, en, _ = systemctl("is-enabled", "--", name)
        verb = "enable" if enabled and en == "disabled" else \
            "disable" if not enabled and en == "enabled" else None
        if verb:
            rc, _, err = systemctl(verb, "--", name)
            if rc != 0:
                return {"failed": True, "changed": changed, "msg": "%s: %s" % (verb, err)}
            changed = True
    if state in ("started", "restarted"):
        _, active, _ = systemctl("is-active", "--", name)
        if active not in ("active", "activating"):
            return {"failed": True, "changed": changed,
                    "msg": "unit is %s after %s" % (active, state)}
    return {"changed": changed}


def main():
    with open(sys.argv[1], "r", encoding="utf-8") as f:
        args = json.load(f)
    items = []
    for name in args.get("units") or []:
        r = one(name, args.get("state") or "", args.get("enabled"))
        r["item"] = str(name)
        items.append(r)
    failed = [i for i in items if i.get("failed")]
    return {"changed": any(i.get("changed") for i in items), "failed": bool(failed),
            "safetytwin_items": items, "msg": "; ".join(i["msg"] for i in failed)}


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:
        result = {"failed": True, "msg": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
