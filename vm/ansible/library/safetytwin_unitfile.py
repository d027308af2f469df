#!/usr/bin/python3
# WANT_JSON
# safetytwin: write and remove files from base64 content, byte for byte, then (optionally)
# `systemctl daemon-reload` once if anything changed.
# An old-style (WANT_JSON) module on purpose: it imports only the standard library, so under TCG
# it starts in about a second instead of the tens of seconds an AnsiballZ module spends
# compiling module_utils from its zip on every call; and it takes whole lists, so a delta run
# costs one interpreter start per task, not per item. Arguments are data: nothing here is
# templated or given to a shell.
#   files: [{dest, content_b64, mode} | {dest, target}]   remove: [path]   daemon_reload: bool
#   reload_always: bool (drop-ins and links were written: reload once if anything changed)
import base64
import json
import os
import subprocess
import sys
import tempfile


def check_path(dest):
    if not isinstance(dest, str) or not dest.startswith("/") or "/../" in dest + "/" \
            or "\0" in dest:
        raise ValueError("path must be absolute without '..'")


def link(dest, target):
    """A symlink exactly as the host has it (target is data, never resolved here)."""
    if not isinstance(target, str) or not target or "\0" in target:
        raise ValueError("symlink target must be a non-empty string")
    if os.path.islink(dest) and os.readlink(dest) == target:
        return None
    existed = os.path.lexists(dest)
    parent = os.path.dirname(dest)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    tmp = os.path.join(parent, ".safetytwin-link-%d" % os.getpid())
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return "replaced" if existed else "new"


def write(entry):
    """Returns None if unchanged, "new" or "replaced"."""
    dest = entry["dest"]
    check_path(dest)
    if "target" in entry:
        return link(dest, entry["target"])
    content = base64.b64decode(entry.get("content_b64", ""), validate=True)
    mode = int(str(entry.get("mode", "0644")), 8)
    existed = False
    try:
        with open(dest, "rb") as f:
            existed = True
            if f.read() == content and (os.stat(dest).st_mode & 0o7777) == mode:
                return None
    except FileNotFoundError:
        pass
    parent = os.path.dirname(dest)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".safetytwin-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return "replaced" if existed else "new"


def remove(path):
    check_path(path)
    if os.path.lexists(path):
        os.unlink(path)
        return True
    return False


def run(args):
    items = []
    need_reload = False  # only replaced files: new ones are found on demand by systemd >= 246
    for entry in args.get("files") or []:
        try:
            how = write(entry)
            need_reload = need_reload or how == "replaced"
            items.append({"item": entry.get("dest", ""), "changed": how is not None})
        except Exception as e:
            items.append({"item": str(entry.get("dest", "")), "failed": True,
                          "msg": "%s: %s" % (type(e).__name__, e)})
    for path in args.get("remove") or []:
        try:
            removed = remove(path)  # the stopped unit is garbage-collected: no reload
            items.append({"item": path, "changed": removed})
        except Exception as e:
            items.append({"item": str(path), "failed": True, "msg": "%s: %s" % (type(e).__name__, e)})
    changed = any(i.get("changed") for i in items)
    # Templated booleans may arrive as text ("True"/"False"). Drop-ins and links change units
    # systemd may have loaded: one reload for the whole run when any of them was written.
    truthy = ("true", "yes", "1")
    if changed and str(args.get("reload_always")).lower() in truthy:
        need_reload = True
    if need_reload and str(args.get("daemon_reload")).lower() in truthy:
        p = subprocess.run(["systemctl", "daemon-reload"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
        items.append({"item": "daemon-reload", "changed": True, "failed": p.returncode != 0,
                      "msg": p.stderr.decode("utf-8", "replace").strip()})
    failed = [i for i in items if i.get("failed")]
    return {"changed": changed, "failed": bool(failed), "safetytwin_items": items,
            "msg": "; ".join(i["msg"] for i in failed)}


def main():
    with open(sys.argv[1], "r", encoding="utf-8") as f:
        return run(json.load(f))


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:  # reported as a failed task, never a traceback on stdout
        result = {"failed": True, "msg": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
