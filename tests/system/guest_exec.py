#!/usr/bin/env python3
"""Runs one command in a libvirt domain through its QEMU guest agent (no shell, argv as given).

Usage: guest_exec.py DOMAIN PROGRAM [ARG...]   -- prints the command's stdout, exits with its code.
Used by the main-job tests to look inside the twin the way an operator would (virsh
qemu-agent-command), independently of the product's own guest code.
"""
import base64
import json
import subprocess
import sys
import time


def agent(domain, cmd):
    out = subprocess.run(
        ["virsh", "-c", "qemu:///system", "qemu-agent-command", domain, json.dumps(cmd), "--timeout", "30"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["return"]


def main():
    domain, prog, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    pid = agent(domain, {"execute": "guest-exec",
                         "arguments": {"path": prog, "arg": args, "capture-output": True}})["pid"]
    deadline = time.time() + 120
    while time.time() < deadline:
        st = agent(domain, {"execute": "guest-exec-status", "arguments": {"pid": pid}})
        if st.get("exited"):
            sys.stdout.write(base64.b64decode(st.get("out-data", "")).decode(errors="replace"))
            sys.stderr.write(base64.b64decode(st.get("err-data", "")).decode(errors="replace"))
            sys.exit(st.get("exitcode", 1))
        time.sleep(0.5)
    sys.exit("guest command did not finish in 120 s")


if __name__ == "__main__":
    main()
