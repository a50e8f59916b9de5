"""The workflows view driven with keys (Pilot), on real worker files (sample_workflows)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers.pilot import plain, wait_until
from taskview.results.files import TASK_PREFIX
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp

FLOWS = Path(__file__).resolve().parents[2] / "sample_workflows"
FLOW_COUNT = sum(1 for p in FLOWS.iterdir() if p.name.startswith("celery-"))


def named(directory: Path, name: str) -> str:
    [found] = [
        p.name.removeprefix(TASK_PREFIX)
        for p in directory.iterdir()
        if p.name.startswith(TASK_PREFIX) and json.loads(p.read_bytes())["name"] == f"sampletasks.{name}"
    ]
    return found


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    shutil.copytree(FLOWS, tmp_path / "flows")
    return tmp_path / "flows"


async def test_t_shows_workflows_enter_opens_left_closes_and_T_finds_a_task(flows: Path):
    app = TaskviewApp(ResultDirectory(str(flows)))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = app.inspector
        table = screen.table
        await wait_until(pilot, lambda: len(table.task_ids) == FLOW_COUNT and screen.scan is None)
        spawner, failed = named(flows, "spawn_group"), named(flows, "fail_builtin")
        await pilot.press("t")
        tree = screen.workflow_tree
        assert tree is not None and table.workflows is tree
        roots = [row.root for row in tree.rows]
        assert len(roots) == 8 and all(row.depth == 0 for row in tree.rows)  # 8 workflows of 21 files
        assert spawner in roots and failed not in roots
        # The failed chain's root row says so at a glance: its state, its counts.
        failing = tree.rows[tree.position(screen.store.workflows.root_of(failed))]
        assert tree.summary(failing.root).state == "FAILURE"
        table.select_task(spawner)
        await pilot.press("enter")  # opens the workflow (Enter on an open one: the detail)
        at = table.cursor
        assert [(r.guide + r.marker, r.kind) for r in tree.rows[at : at + 4]] == [
            ("▾ ", "task"),
            ("└─ ▾ ", "group"),
            ("   ├─ ", "task"),
            ("   └─ ", "task"),
        ]
        await pilot.press("down", "left")  # on the group: closes it
        assert tree.rows[at + 1].marker == "▸ " and len(table.task_ids) == 8 + 1
        await pilot.press("left")  # closed: up to its parent
        assert table.selected_id == spawner
        await pilot.press("left")
        assert len(table.task_ids) == 8
        # From the failed task's detail, its workflow: opened down to it, the task selected.
        await pilot.press("t")
        assert screen.workflow_tree is None and len(table.task_ids) == FLOW_COUNT
        table.select_task(failed)
        await pilot.press("enter", "T")
        assert screen.workflow_tree is not None and table.selected_id == failed
        assert table.workflows is not None and table.workflows.rows[table.cursor].depth == 1
        # The root's detail pane says its workflow.
        await pilot.press("up")
        said = "workflow of 2: 2/2 done · 1 FAILURE · span "
        header = screen.detail.query_one("#detail-header")
        await wait_until(pilot, lambda: said in plain(header))


async def test_a_filter_keeps_the_workflows_of_what_it_keeps(flows: Path):
    app = TaskviewApp(ResultDirectory(str(flows)))
    async with app.run_test(size=(120, 30)) as pilot:
        screen, table = app.inspector, app.inspector.table
        await wait_until(pilot, lambda: len(table.task_ids) == FLOW_COUNT and screen.scan is None)
        await pilot.press("t", "slash", *"name:tsum", "enter")
        await wait_until(pilot, lambda: not screen.model.filtering and len(table.task_ids) == 1)
        await pilot.press("enter")
        # The chord: its group, and only the body the filter keeps.
        assert [(row.kind, row.role) for row in screen.workflow_tree.rows] == [("group", ""), ("task", "body")]


# --- what it looks like (an SVG snapshot: look at it after --snapshot-update) ----------------

#: The frozen clock: a minute after the last sample workflow finished.
FLOWS_NOW = max(
    json.loads(p.read_bytes()).get("date_done") or "" for p in FLOWS.iterdir() if p.name.startswith(TASK_PREFIX)
)


@pytest.fixture
def frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """TZ UTC, HOME of this test's own, files with fixed mtimes: the same screen every run."""
    import os
    import time
    from datetime import datetime

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    target = home / "flows"
    shutil.copytree(FLOWS, target)
    now = datetime.fromisoformat(FLOWS_NOW).timestamp() + 60
    for n, path in enumerate(sorted(target.iterdir())):
        os.utime(path, (now - 120 + n, now - 120 + n))
    yield target, now
    monkeypatch.delenv("TZ")
    time.tzset()


def test_workflows_view_80x24(snap_compare, frozen):
    target, now = frozen
    app = TaskviewApp(ResultDirectory(str(target)), clock=lambda: now)
    failed = named(target, "fail_builtin")

    async def open_one(pilot):
        screen = pilot.app.inspector
        await wait_until(pilot, lambda: len(screen.table.task_ids) == FLOW_COUNT and screen.scan is None)
        await pilot.press("t")
        screen.table.select_task(screen.store.workflows.root_of(failed))
        await pilot.press("enter")
        chord = screen.store.workflows.root_of(named(target, "tsum"))
        screen.table.select_task(chord)
        await pilot.press("right")
        pilot.app.clear_notifications()  # the toast saying how to open one: gone in 1.5 s
        screen.refresh_rows()  # anything the scan's last batches left pending, in place now
        await wait_until(pilot, lambda: len(screen.table.task_ids) == 13)  # 8 workflows, 2 of them open
        screen.update_summary()  # the counts as of now (not the scan's last word)
        # While scanning the summary said so on a line more: the screen laid out again for the lines it has now.
        summary = screen.summary
        await wait_until(pilot, lambda: summary.line_count and summary.size.height == summary.line_count)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_one)
