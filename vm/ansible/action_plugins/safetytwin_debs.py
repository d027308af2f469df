# safetytwin: copy the host's .debs into the guest (the connection's put_file: through the guest
# agent, in chunks), then run library/safetytwin_debs.py in one round trip (safetytwin_remote.py).
# Guest file names are ours (/var/cache/safetytwin/debs/<n>.deb); host paths and package names
# only travel as data.
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetytwin_remote import SafetytwinAction  # noqa: E402

GUEST_DIR = "/var/cache/safetytwin/debs"


class ActionModule(SafetytwinAction):
    MODULE = "safetytwin_debs"

    def run(self, tmp=None, task_vars=None):
        debs = list(self._task.args.get("debs") or [])
        self._low_level_execute_command("mkdir -p " + GUEST_DIR)
        staged = []
        for i, d in enumerate(debs):
            dest = "%s/%d.deb" % (GUEST_DIR, i)
            self._connection.put_file(str(d["src"]), dest)
            staged.append({"file": dest, "name": str(d.get("name", "")),
                           "version": str(d.get("version", "")), "how": str(d.get("how", ""))})
        self._task.args = {"debs": staged}
        return super().run(tmp, task_vars)
