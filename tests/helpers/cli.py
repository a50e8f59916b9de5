"""The ``taskview`` command as a user runs it: a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TASKVIEW = [sys.executable, "-m", "taskview"]


def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*TASKVIEW, *args], capture_output=True, text=True, timeout=120, **kwargs)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def dump(path: Path | str, *extra: str) -> list[dict]:
    return [json.loads(line) for line in run(str(path), "--dump", "jsonl", *extra).stdout.splitlines()]
