#!/usr/bin/python3
# WANT_JSON
# safetytwin: daemon-reload / start / stop / restart / enable / disable one unit with systemctl
# (argv, never a shell). Old-style module for TCG start-up speed (see safetytwin_unitfile).
#   name: unit   state: started|stopped|restarted|""   enabled: true|false|null
#   daemon_reload: bool
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


def main():
    with open(sys.argv[1], "r", encoding="utf-8") as f:
        args = json.load(f)
    name = args.get("name") or ""
    state = args.get("state") or ""
    enabled = args.get("enabled")
    changed = False
    if args.get("daemon_reload"):
        rc, _, err = systemctl("daemon-reload")
        if rc != 0:
            return {"failed": True, "msg": "daemon-reload: " + err}
        changed = True
    if not name:
        return {"changed": changed}
    if not UNIT_RE.match(name) or ".." in name:
        return {"failed": True, "msg": "refusing an invalid unit name"}
    _, active, _ = systemctl("is-active", "--", name)
    is_active = active in ("active", "activating", "reloading")
    if state == "started" and not is_active:
        rc, _, err = systemctl("start", "--", name)
        if rc != 0:
            return {"failed": True, "msg": "start: " + err}
        changed = True
    elif state == "stopped" and is_active:
        rc, _, err = systemctl("stop", "--", name)
        if rc != 0:
            return {"failed": True, "msg": "stop: " + err}
        changed = True
    elif state == "restarted":
        rc, _, err = systemctl("restart", "--", name)
        if rc != 0:
            return {"failed": True, "msg": "restart: " + err}
        changed = True
    if enabled is not None:
        _, en, _ = systemctl("is-enabled", "--", name)
        if enabled and en == "disabled":
            rc, _, err = systemctl("enable", "--", name)
            if rc != 0:
                return {"failed": True, "msg": "enable: " + err}
            changed = True
        elif not enabled and en == "enabled":
            rc, _, err = systemctl("disable", "--", name)
            if rc != 0:
                return {"failed": True, "msg": "disable: " + err}
            changed = True
    _, active, _ = systemctl("is-active", "--", name)
    if state in ("started", "restarted") and active not in ("active", "activating"):
        return {"failed": True, "changed": changed, "msg": "unit is %s after %s" % (active, state)}
    return {"changed": changed, "name": name, "active": active}


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:
        result = {"failed": True, "msg": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
