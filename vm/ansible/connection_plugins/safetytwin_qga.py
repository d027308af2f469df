# safetytwin: Ansible connection to a libvirt domain through the QEMU guest agent.
# No network at all: commands run with guest-exec (argv ["/bin/sh", "-c", <ansible's own command>],
# module payload on stdin with pipelining), files move with guest-file-open/write/read.
from __future__ import annotations

DOCUMENTATION = r"""
name: safetytwin_qga
short_description: Run tasks in a libvirt domain through the QEMU guest agent
description:
  - Uses virDomainQemuAgentCommand (guest-exec, guest-file-*) via python3-libvirt. The twin needs
    no NIC, no SSH server and no address of any kind.
author: safetytwin
options:
  remote_addr:
    description: libvirt domain name
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
  uri:
    description: libvirt connection URI
    default: qemu:///system
    vars:
      - name: safetytwin_uri
  exec_timeout:
    description: seconds a single command may run
    default: 600
    vars:
      - name: safetytwin_exec_timeout
"""

import base64
import json
import os
import time
import uuid

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase

try:
    import libvirt
    import libvirt_qemu
except ImportError:  # reported when the connection is used
    libvirt = None

CHUNK = 48 * 1024
# A guest-agent request much larger than ~100 KB never completes (seen with QEMU 7.2 / libvirt
# 9.0: the agent stops answering and libvirt reports "not available for now"). Module payloads
# (pipelining) are often bigger, so stdin above this size is staged in a guest file instead.
INLINE_STDIN_MAX = 32 * 1024


class Connection(ConnectionBase):
    transport = "safetytwin_qga"
    has_pipelining = True
    has_tty = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._conn = None
        self._dom = None

    def _connect(self):
        if self._connected:
            return self
        if libvirt is None:
            raise AnsibleConnectionFailure("python3-libvirt is not installed on the controller")
        try:
            self._conn = libvirt.open(self.get_option("uri"))
            self._dom = self._conn.lookupByName(self.get_option("remote_addr"))
        except libvirt.libvirtError as e:
            raise AnsibleConnectionFailure("libvirt: %s" % e)
        self._connected = True
        return self

    def _agent(self, command, arguments=None, timeout=30):
        payload = {"execute": command}
        if arguments is not None:
            payload["arguments"] = arguments
        # Under TCG a busy guest (daemon-reload, module start-up) can leave the agent without CPU
        # for longer than libvirt's 5 s guest-sync: libvirt then says "not available for now".
        # That is transient: retry for up to a minute. (guest-exec is only retried when the
        # failure happened at the sync, i.e. before the command was sent.)
        deadline = time.monotonic() + 60
        while True:
            try:
                out = libvirt_qemu.qemuAgentCommand(self._dom, json.dumps(payload), timeout, 0)
                break
            except libvirt.libvirtError as e:
                transient = e.get_error_code() == libvirt.VIR_ERR_AGENT_UNRESPONSIVE
                if not transient or time.monotonic() > deadline:
                    raise AnsibleConnectionFailure("guest agent %s: %s" % (command, e))
                time.sleep(1)
        reply = json.loads(out)
        if "error" in reply:
            raise AnsibleError("guest agent %s: %s" % (command, reply["error"]))
        return reply.get("return")

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        args = {"path": "/bin/sh", "arg": ["-c", cmd], "capture-output": True}
        if in_data:
            if isinstance(in_data, str):
                in_data = in_data.encode("utf-8", "surrogateescape")
            if len(in_data) <= INLINE_STDIN_MAX:
                args["input-data"] = base64.b64encode(in_data).decode("ascii")
            else:
                # Our own random path; the command stays Ansible's, run exactly as `sh -c`.
                staged = "/tmp/.safetytwin-stdin-%s" % uuid.uuid4().hex
                self._write_guest_file(staged, in_data)
                args["arg"] = ["-c", 'exec 0<"$0" && rm -f -- "$0" && eval "$1"', staged, cmd]
        t_start = time.monotonic()
        pid = self._agent("guest-exec", args)["pid"]
        deadline = time.monotonic() + float(self.get_option("exec_timeout"))
        delay = 0.005
        while True:
            st = self._agent("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                break
            if time.monotonic() > deadline:
                raise AnsibleConnectionFailure("guest-exec timed out: %s" % cmd[:80])
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        rc = st.get("exitcode", 128 + st.get("signal", 0))
        trace = os.environ.get("SAFETYTWIN_QGA_TRACE")
        if trace:  # timing of every guest command, for profiling slow delta runs
            with open(trace, "a", encoding="utf-8") as f:
                f.write("%.3f s rc=%s stdin=%d %s\n" % (time.monotonic() - t_start, rc,
                                                        len(in_data or b""), cmd[:160]))
        out = base64.b64decode(st.get("out-data", ""))
        err = base64.b64decode(st.get("err-data", ""))
        return rc, out, err

    def _write_guest_file(self, path, data):
        handle = self._agent("guest-file-open", {"path": path, "mode": "wb"})
        try:
            for i in range(0, len(data), CHUNK):
                self._agent("guest-file-write",
                            {"handle": handle,
                             "buf-b64": base64.b64encode(data[i:i + CHUNK]).decode("ascii")})
        finally:
            self._agent("guest-file-close", {"handle": handle})

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        self._connect()
        with open(in_path, "rb") as f:
            self._write_guest_file(out_path, f.read())

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        self._connect()
        handle = self._agent("guest-file-open", {"path": in_path, "mode": "rb"})
        try:
            with open(out_path, "wb") as f:
                while True:
                    r = self._agent("guest-file-read", {"handle": handle, "count": CHUNK})
                    f.write(base64.b64decode(r.get("buf-b64", "")))
                    if r.get("eof") or not r.get("count"):
                        break
        finally:
            self._agent("guest-file-close", {"handle": handle})

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None
        self._dom = None
        self._connected = False
