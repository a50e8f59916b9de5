"""Driving the inspector under Textual's Pilot, and reading what it shows."""

from __future__ import annotations

import io
import time

from rich.console import Console

from helpers.samples import SAMPLE_COUNT
from taskview.ui.app import TaskviewApp
from taskview.ui.widgets.summary_bar import SummaryBar
from taskview.ui.widgets.task_table import TaskTable


async def wait_until(pilot, condition, timeout: float = 30.0) -> float:
    """Let the app run until ``condition()`` holds; returns when it did (time.monotonic)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
    return time.monotonic()


async def loaded(pilot, app: TaskviewApp, count: int = SAMPLE_COUNT) -> TaskTable:
    """Wait for the first scan to end with ``count`` rows in the table."""
    await wait_until(pilot, lambda: len(app.inspector.table.task_ids) == count and app.inspector.scan is None)
    return app.inspector.table


def plain(widget) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def summary_text(app: TaskviewApp) -> str:
    """The summary bar as it reads now."""
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(app.inspector.query_one(SummaryBar).render())
    return console.export_text()
