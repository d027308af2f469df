# safetytwin: shared action for safetytwin_unitfile / safetytwin_systemd.
# One guest round trip per task: `/usr/bin/python3 -c <fixed bootstrap>` with the module source
# and its arguments as JSON on stdin. A normal module run costs five (mkdir, put module, put args,
# chmod+run, rm) — each 1-5 s on a busy TCG guest. The command line is constant; host-derived
# values only ever travel inside the JSON document on stdin.
from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase

BOOTSTRAP = (
    "import json,sys\n"
    "d=json.loads(sys.stdin.buffer.read().decode(\"utf-8\"))\n"
    "g={\"__name__\":\"safetytwin_remote\"}\n"
    "exec(compile(d[\"code\"],d[\"name\"],\"exec\"),g)\n"
    "try:\n"
    "    r=g[\"run\"](d[\"args\"])\n"
    "except Exception as e:\n"
    "    r={\"failed\":True,\"msg\":\"%s: %s\"%(type(e).__name__,e)}\n"
    "sys.stdout.write(json.dumps(r))\n"
)
assert "'" not in BOOTSTRAP
COMMAND = "/usr/bin/python3 -c '" + BOOTSTRAP + "'"
LIBRARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "library")


class SafetytwinAction(ActionBase):
    TRANSFERS_FILES = False
    MODULE = ""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        with open(os.path.join(LIBRARY, self.MODULE + ".py"), "r", encoding="utf-8") as f:
            code = f.read()
        payload = json.dumps({"name": self.MODULE, "code": code,
                              "args": dict(self._task.args)})
        res = self._low_level_execute_command(COMMAND, in_data=payload.encode("utf-8"))
        out = res.get("stdout", "")
        try:
            module_result = json.loads(out)
        except ValueError:
            result.update(failed=True, rc=res.get("rc"),
                          msg="safetytwin %s: no JSON result (rc=%s): %s" %
                          (self.MODULE, res.get("rc"), (res.get("stderr") or out)[:500]))
            return result
        result.update(module_result)
        return result
