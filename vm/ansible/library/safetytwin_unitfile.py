#!/usr/bin/python3
# WANT_JSON
# safetytwin: write (or remove) one file from base64 content, byte for byte.
# An old-style (WANT_JSON) module on purpose: it imports only the standard library, so under TCG
# it starts in ~1 s instead of the ~30 s an AnsiballZ module spends compiling module_utils from
# its zip on every call. Arguments are data: nothing here is templated or given to a shell.
#   dest: absolute path   content_b64: file bytes, base64   mode: "0644"   state: present|absent
import base64
import json
import os
import sys
import tempfile


def main():
    with open(sys.argv[1], "r", encoding="utf-8") as f:
        args = json.load(f)
    dest = args.get("dest", "")
    state = args.get("state", "present")
    if not dest.startswith("/") or "/../" in dest + "/" or "\0" in dest:
        return {"failed": True, "msg": "dest must be an absolute path without '..'"}
    if state == "absent":
        if os.path.lexists(dest):
            os.unlink(dest)
            return {"changed": True, "dest": dest}
        return {"changed": False, "dest": dest}
    content = base64.b64decode(args.get("content_b64", ""), validate=True)
    mode = int(str(args.get("mode", "0644")), 8)
    try:
        with open(dest, "rb") as f:
            if f.read() == content and (os.stat(dest).st_mode & 0o7777) == mode:
                return {"changed": False, "dest": dest}
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
    return {"changed": True, "dest": dest, "size": len(content)}


if __name__ == "__main__":
    try:
        result = main()
    except Exception as e:  # reported as a failed task, never a traceback on stdout
        result = {"failed": True, "msg": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(result))
