# safetytwin: run library/safetytwin_hostconfig.py in one guest round trip (see safetytwin_remote.py).
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetytwin_remote import SafetytwinAction  # noqa: E402


class ActionModule(SafetytwinAction):
    MODULE = "safetytwin_hostconfig"
