#!/usr/bin/python3
# WANT_JSON
# safetytwin: the host's groups, users and config files in the twin. Accounts with groupadd /
# groupmod / useradd / usermod / gpasswd called with argv (no shell; names re-validated here);
# system accounts the twin already has (uid/gid < 1000) are left as the twin's own; files written
# byte for byte from base64 (or as symlinks) with the host's mode and owner, through
# a temporary file renamed into place. Arguments are data: nothing is templated. One result per
# item, so one failing item is recorded and never stops the others.
#   manage_accounts: bool
#   groups: [{name, gid, members}]   users: [{name, uid, gid, gecos, home, shell}]
#   files: [{dest, content_b64 | target, mode, uid, gid}]   remove: [path]
import base64
import grp
import json
import os
import pwd
import re
import subprocess
import sys
import tempfile

NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")


def check_name(n):
    if not isinstance(n, str) or not NAME.match(n) or len(n) > 32:
        raise ValueError("invalid account name")
    return n


def check_path(p):
    if not isinstance(p, str) or not p.startswith("/") or "/../" in p + "/" or "\0" in p:
        raise ValueError("path must be absolute without '..'")
    return p


def field(v):
    v = str(v)
    if ":" in v or "\n" in v or "\0" in v:
        raise ValueError("field holds ':' or a newline")
    return v


def cmd(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, check=False)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (argv[0], p.returncode,
                                                  p.stderr.decode("utf-8", "replace").strip()))


def group(g):
    name = check_name(g["name"])
    gid = int(g["gid"])
    try:
        cur = grp.getgrnam(name)
    except KeyError:
        cmd(["groupadd", "-g", str(gid), name])
        return True
    if cur.gr_gid < 1000:
        return False  # the twin's own system group (its files and units use its gid)
    if cur.gr_gid != gid:
        cmd(["groupmod", "-g", str(gid), name])
        return True
    return False


def members(g):
    name = check_name(g["name"])
    want = [check_name(m) for m in (g.get("members") or [])]
    if sorted(grp.getgrnam(name).gr_mem) == sorted(want):
        return False
    cmd(["gpasswd", "-M", ",".join(want), name])
    return True


def user(u):
    name = check_name(u["name"])
    uid, gid = int(u["uid"]), int(u["gid"])
    gecos, home, shell = field(u.get("gecos", "")), check_path(field(u["home"])), \
        check_path(field(u["shell"]))
    try:
        cur = pwd.getpwnam(name)
    except KeyError:
        cmd(["useradd", "-M", "-N", "-u", str(uid), "-g", str(gid), "-c", gecos, "-d", home,
             "-s", shell, name])
        return True
    if cur.pw_uid < 1000:
        return False  # the twin's own system account (its files and units use its uid)
    if (cur.pw_uid, cur.pw_gid, cur.pw_gecos, cur.pw_dir, cur.pw_shell) == (uid, gid, gecos, home,
                                                                           shell):
        return False
    cmd(["usermod", "-u", str(uid), "-g", str(gid), "-c", gecos, "-d", home, "-s", shell, name])
    return True


def write(f):
    dest = check_path(f["dest"])
    mode = int(str(f.get("mode", "0644")), 8)
    uid, gid = int(f.get("uid", 0)), int(f.get("gid", 0))
    parent = os.path.dirname(dest)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    as_root = os.geteuid() == 0
    if "target" in f:
        target = f["target"]
        if os.path.islink(dest) and os.readlink(dest) == target:
            return False
        tmp = os.path.join(parent, ".safetytwin-link-%d" % os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        if as_root:
            os.lchown(tmp, uid, gid)
        os.replace(tmp, dest)
        return True
    content = base64.b64decode(f.get("content_b64", ""), validate=True)
    try:
        st = os.lstat(dest)
        if not os.path.islink(dest):
            with open(dest, "rb") as fh:
                same = fh.read() == content
            if same and (st.st_mode & 0o7777) == mode and (not as_root or (st.st_uid, st.st_gid) ==
                                                          (uid, gid)):
                return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".safetytwin-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        if as_root:
            os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    return True


def remove(path):
    check_path(path)
    if os.path.lexists(path):
        os.unlink(path)
        return True
    return False


def run(args):
    items = []

    def each(kind, entries, fn, label):
        for e in entries or []:
            try:
                items.append({"item": "%s %s" % (kind, label(e)), "changed": bool(fn(e))})
            except Exception as ex:
                items.append({"item": "%s %s" % (kind, str(label(e))), "failed": True,
                              "msg": "%s: %s" % (type(ex).__name__, ex)})

    if str(args.get("manage_accounts")).lower() in ("true", "yes", "1"):
        each("group", args.get("groups"), group, lambda g: g.get("name", ""))
        each("user", args.get("users"), user, lambda u: u.get("name", ""))
        each("members", args.get("groups"), members, lambda g: g.get("name", ""))
    each("file", args.get("files"), write, lambda f: f.get("dest", ""))
    each("remove", args.get("remove"), remove, lambda p: p)
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
