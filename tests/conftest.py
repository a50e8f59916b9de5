from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RESULTS = ROOT / "sample_results"


def sample_file(name_part: str) -> Path:
    """The one file in sample_results whose meta mentions ``name_part`` (a task name or state)."""
    matches = [p for p in sorted(SAMPLE_RESULTS.iterdir()) if name_part.encode() in p.read_bytes()]
    assert matches, f"no sample file mentions {name_part!r}"
    return matches[0]


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of sample_results, safe to add bad files to."""
    target = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, target)
    return target


async def wait_until(pilot, condition, timeout: float = 10.0) -> float:
    """Let the app run until ``condition()`` holds; returns when it did (time.monotonic)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
    return time.monotonic()
