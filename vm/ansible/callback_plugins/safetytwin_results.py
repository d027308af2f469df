# safetytwin: writes one JSON line per task result (per loop item) to $SAFETYTWIN_RESULTS so the
# driver can record ok/changed/failed/skipped in the event log. Values are data, never templated.
from __future__ import annotations

DOCUMENTATION = r"""
name: safetytwin_results
type: aggregate
short_description: per-task results as JSON lines for safetytwin
description: Writes {task, item, status, changed, ignored, msg, ms} lines to $SAFETYTWIN_RESULTS.
requirements:
  - enable in ansible.cfg (callbacks_enabled)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "safetytwin_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        path = os.environ.get("SAFETYTWIN_RESULTS")
        self._out = open(path, "a", encoding="utf-8") if path else None
        self._task_start = time.monotonic()
        self._item_start = time.monotonic()

    def _write(self, result, status, item=None):
        if self._out is None:
            return
        r = result._result
        now = time.monotonic()
        line = {
            "task": result._task.get_name(),
            "status": status,
            "changed": bool(r.get("changed", False)),
            "ignored": bool(getattr(result._task, "ignore_errors", False)) and status == "failed",
            "msg": str(r.get("msg", ""))[:500] if status in ("failed", "unreachable") else "",
            "ms": round((now - self._item_start) * 1000, 1),
        }
        if item is not None:
            if isinstance(item, dict):
                item = item.get("dest", item.get("name", ""))
            line["item"] = str(item)
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()
        self._item_start = now

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start = self._item_start = time.monotonic()

    def _is_loop(self, result):
        return "results" in result._result

    def _items(self, result):
        """Our modules report one entry per unit/file: one line each."""
        items = result._result.get("safetytwin_items")
        if not isinstance(items, list):
            return False
        for it in items:
            status = "failed" if it.get("failed") else "changed" if it.get("changed") else "ok"
            line = {
                "task": result._task.get_name(),
                "item": str(it.get("item", "")),
                "status": status,
                "changed": bool(it.get("changed")),
                "ignored": bool(getattr(result._task, "ignore_errors", False)) and status == "failed",
                "msg": str(it.get("msg", ""))[:500] if status == "failed" else "",
                "ms": round((time.monotonic() - self._item_start) * 1000, 1),
            }
            if self._out is not None:
                self._out.write(json.dumps(line) + "\n")
                self._out.flush()
        self._item_start = time.monotonic()
        return True

    def v2_runner_on_ok(self, result):
        if not self._is_loop(result) and not self._items(result):
            self._write(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not self._is_loop(result) and not self._items(result):
            self._write(result, "failed")

    def v2_runner_on_skipped(self, result):
        if not self._is_loop(result):
            self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")

    def v2_runner_item_on_ok(self, result):
        self._write(result, "changed" if result._result.get("changed") else "ok",
                    result._result.get("item"))

    def v2_runner_item_on_failed(self, result):
        self._write(result, "failed", result._result.get("item"))

    def v2_runner_item_on_skipped(self, result):
        self._write(result, "skipped", result._result.get("item"))
