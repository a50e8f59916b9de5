"""What the screen shows, as committed SVGs (pytest-textual-snapshot).

Update after a deliberate change with `pytest tests/app/test_snapshots.py --snapshot-update`,
then look at the SVGs (open snapshot_report.html) before committing them.
Times are frozen: files get fixed mtimes, the app a fixed clock, TZ is UTC; each test's
directory lives in a home of its own (HOME is set to it), so the summary shows it as
~/name whatever this run's temporary path: every run draws the same screen, and two
runs on one host never share a directory.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

from helpers.frozen import utc  # noqa: F401 - the fixture, used by pytestmark
from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp

# What the frozen clock says: 2026-11-25 23:40 UTC, an hour and 40 minutes after the sample
# tasks finished (a finished row's CHANGED counts from its date_done), the unfinished ones'
# files written in the 10 minutes before.
NOW = 1_795_650_000.0


pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own home directory: what it shows as ~."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def fixed_directory(home: Path, name: str, with_samples: bool = True) -> Path:
    target = home / name
    if with_samples:
        shutil.copytree(SAMPLE_RESULTS, target)
        for n, path in enumerate(sorted(target.iterdir())):
            os.utime(path, (NOW - 600 + n * 7, NOW - 600 + n * 7))
    else:
        target.mkdir()
    return target


def make_app(directory: Path) -> TaskviewApp:
    return TaskviewApp(ResultDirectory(str(directory)), clock=lambda: NOW)


async def until_loaded(pilot, count: int = SAMPLE_COUNT) -> None:
    app = pilot.app
    deadline = time.monotonic() + 10
    while not (len(app.inspector.table.task_ids) == count and app.inspector.scan is None):
        assert time.monotonic() < deadline
        await pilot.pause(0.05)
    await pilot.pause(0.2)  # one summary refresh


def task_named(directory: Path, name: str) -> str:
    for path in directory.iterdir():
        meta = json.loads(path.read_bytes())
        if meta.get("name") == name:
            return meta["task_id"]
    raise AssertionError(name)


def test_empty_directory(snap_compare, home):
    app = make_app(fixed_directory(home, "empty", with_samples=False))

    async def run_before(pilot):
        await until_loaded(pilot, 0)

    assert snap_compare(app, terminal_size=(100, 20), run_before=run_before)


def test_sample_results(snap_compare, home):
    app = make_app(fixed_directory(home, "sample_results"))
    assert snap_compare(app, terminal_size=(130, 30), run_before=until_loaded)


def test_sample_results_80x24(snap_compare, home):
    app = make_app(fixed_directory(home, "sample_results"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_loaded)


def test_sample_results_80x24_no_color(snap_compare, home, monkeypatch):
    """NO_COLOR (a monochrome terminal): every state reads apart by bold, reverse, underline, italic."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(fixed_directory(home, "sample_results"))

    async def run_before(pilot):
        await until_loaded(pilot)
        await pilot.press("j", "j")  # the cursor on a row of its own

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_detail_of_a_failure(snap_compare, home):
    directory = fixed_directory(home, "sample_results")
    failure = task_named(directory, "sampletasks.fail_custom")
    app = make_app(directory)

    async def run_before(pilot):
        await until_loaded(pilot)
        pilot.app.inspector.table.select_task(failure)
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while failure not in pilot.app.query_one("#detail-body").text:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(160, 40), run_before=run_before)


def test_filter_active(snap_compare, home):
    app = make_app(fixed_directory(home, "sample_results"))

    async def run_before(pilot):
        await until_loaded(pilot)
        await pilot.press("slash", *"-status:SUCCESS")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(120, 24), run_before=run_before)


def test_replay_paused_midway(snap_compare, home):
    """--replay of sample_results, stepped to the 18th of 21 events: the timeline bar and the table as of then."""
    from taskview.replay.timeline import from_results

    directory = fixed_directory(home, "replay")
    # Unfinished tasks replay at their file's mtime: a few seconds after the last finished one.
    done = max(json.loads(p.read_bytes()).get("date_done") or "" for p in directory.iterdir())
    last_done = datetime.fromisoformat(done).timestamp()
    for n, path in enumerate(sorted(directory.iterdir())):
        os.utime(path, (last_done + 3 + n, last_done + 3 + n))
    results = ResultDirectory(str(directory))
    app = TaskviewApp.for_replay(from_results(results))

    async def run_before(pilot):
        await pilot.press(*["]"] * 18)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(110, 26), run_before=run_before)


async def _three_marked(pilot) -> None:
    await until_loaded(pilot)
    await pilot.press("j", "space", "space", "j", "space")  # rows 2, 3 and 5 marked; the cursor on the 6th
    await pilot.pause(0.2)


def test_marked_rows_80x24(snap_compare, home):
    """Marks: a '*' before the id and the row in bold, '3 marked' in the summary."""
    app = make_app(fixed_directory(home, "sample_results"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_three_marked)


def test_marked_rows_80x24_no_color(snap_compare, home, monkeypatch):
    """NO_COLOR: the '*' and the bold tell marked rows apart, the cursor is reversed."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(fixed_directory(home, "sample_results"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_three_marked)


def test_forget_confirmation_80x24(snap_compare, home):
    """D on marks: one confirmation with the count, statuses, names, the first ids and what is skipped."""
    app = make_app(fixed_directory(home, "sample_results"))

    async def run_before(pilot):
        await until_loaded(pilot)
        await pilot.press("a", "a", "D")
        deadline = time.monotonic() + 10
        while type(pilot.app.screen).__name__ != "ConfirmScreen":
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
