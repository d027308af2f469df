#!/usr/bin/python3
# WANT_JSON
# safetytwin: install the host's .debs (copied into the guest by the action plugin) with one
# `dpkg -i` (dpkg orders the set itself), argv only, never prompting (confold/confdef: the
# config files the host changed are written after this task). Then each package is checked at
# the host's exact version: one result per package, so one that fails does not hide the others.
#   debs: [{file, name, version, how}]
import json
import os
import re
import subprocess
import sys

NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
FILE = re.compile(r"^/var/cache/safetytwin/debs/[0-9]+\.deb$")


def run(args):
    debs = args.get("debs") or []
    items, files = [], []
    for d in debs:
        if not NAME.match(str(d.get("name", ""))) or not FILE.match(str(d.get("file", ""))):
            items.append({"item": "package %s" % d.get("name", ""), "failed": True,
                          "msg": "invalid package name or file"})
            continue
        files.append(d["file"])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["dpkg", "--force-confold", "--force-confdef", "-i"] + files,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       env=env, check=False)
    err = p.stderr.decode("utf-8", "replace")
    for d in debs:
        name = str(d.get("name", ""))
        if not NAME.match(name):
            continue
        q = subprocess.run(["dpkg-query", "-W", "-f", "${Version}\t${db:Status-Status}", name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, check=False)
        got = q.stdout.decode("utf-8", "replace").split("\t")
        ok = q.returncode == 0 and len(got) == 2 and got[0] == d.get("version") and \
            got[1] == "installed"
        item = {"item": "package %s" % name, "changed": ok}
        if not ok:
            item["failed"] = True
            item["msg"] = "not installed at %s (dpkg: %s)" % (d.get("version"), err.strip()[-400:])
        items.append(item)
    for f in files:
        try:
            os.unlink(f)
        except OSError:
            pass
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
