"""The Controller's checks before any broker call, and the control layer's independence from the UI."""

from __future__ import annotations

import subprocess
import sys

from taskview.control.app_loading import load_app
from taskview.control.controller import Controller, Outcome


def test_revoke_refuses_an_unknown_signal_before_any_broker_call():
    controller = Controller(load_app(None, "amqp://guest:guest@127.0.0.1:1//"))
    outcome = controller.revoke("abc", terminate=True, signal="SIGNOPE")
    assert outcome == Outcome(False, "unknown signal 'SIGNOPE': revoke not sent", "abc")


def test_control_never_imports_textual():
    modules = ("secrets", "app_loading", "controller", "stale", "demo_tasks", "embedded", "atomic_fs", "compat")
    code = (
        f"import sys, {', '.join('taskview.control.' + m for m in modules)}; "
        "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
