"""Files no worker should write but a directory can hold: taskview keeps working on each.

Each starts from a real worker file (sample_results) and changes one thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.pilot import wait_until
from helpers.samples import SAMPLE_COUNT, real_meta
from taskview.query import compile_query
from taskview.results.record import ARGS_PREVIEW
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.ui.app import TaskviewApp
from taskview.ui.widgets.detail_pane import DetailPane
from taskview.view.sorting import ordered_ids


class Nested:
    """A list nested ``depth`` deep, written as JSON text (building it needs no recursion)."""

    def __init__(self, depth: int) -> None:
        self.text = "[" * depth + "]" * depth


def write(directory: Path, task_id: str, meta: dict) -> None:
    meta = {**meta, "task_id": task_id}
    deep = {k: v for k, v in meta.items() if isinstance(v, Nested)}
    text = json.dumps({k: (f"@{k}@" if k in deep else v) for k, v in meta.items()})
    for key, value in deep.items():
        text = text.replace(f'"@{key}@"', value.text)
    (directory / f"celery-task-meta-{task_id}").write_text(text)


def hostile_directory(samples: Path) -> Path:
    # 1000 deep: orjson reads it (its limit is 1024), a plain repr() of it overflows the stack.
    write(samples, "deep-args", {**real_meta("SUCCESS"), "args": Nested(1000)})
    write(samples, "deep-result", {**real_meta("SUCCESS"), "result": Nested(600)})
    write(samples, "too-deep", {**real_meta("SUCCESS"), "result": Nested(5000)})
    write(samples, "huge-progress", {**real_meta("PROGRESS"), "result": {"current": 10**400, "total": 1}})
    parent = real_meta("SUCCESS")
    same = {"parent_id": "p1", "group_id": "p1", "children": [[["p1", None], None]]}
    write(samples, "same-parent-group", {**parent, **same})
    write(samples, "long-name", {**parent, "name": "x" * 30000})
    return samples


def test_headless_modes_survive_hostile_files(samples: Path):
    hostile_directory(samples)
    for args in (["--stats", "--json"], ["--dump", "jsonl"], ["--dump", "csv"], ["--stats"]):
        proc = subprocess.run(
            [sys.executable, "-m", "taskview", str(samples), *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
    rows = {
        json.loads(line)["task_id"]: json.loads(line)
        for line in subprocess.run(
            [sys.executable, "-m", "taskview", str(samples), "--dump", "jsonl"], capture_output=True, text=True
        ).stdout.splitlines()
    }
    # Nested deeper than a dump can write: the row stays, with its status and the reason.
    for task_id in ("deep-result", "deep-args"):
        assert rows[task_id]["status"] == "SUCCESS"
        assert rows[task_id]["error"] in (None, "nested too deeply to dump")
    assert rows["too-deep"]["status"] is None and rows["too-deep"]["error"] == "json nested too deeply"


async def test_the_inspector_survives_hostile_files(samples: Path):
    hostile_directory(samples)
    count = len(list(samples.iterdir()))
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.inspector.table.task_ids) == count and app.inspector.scan is None)
        assert app.inspector.store.get("huge-progress").progress is None
        assert app.inspector.store.get("deep-args").status == "SUCCESS"
        assert app.inspector.store.get("too-deep").error.message == "json nested too deeply"
        for task_id in ("deep-result", "same-parent-group", "long-name", "deep-args", "too-deep"):
            app.inspector.table.select_task(task_id)
            await pilot.press("enter")
            body = app.query_one("#detail-body")
            await wait_until(pilot, lambda task_id=task_id, body=body: task_id in body.text)
            await pilot.press("escape")
        for key in ("s", "s", "s", "s", "s", "s", "s", "s", "S"):
            await pilot.press(key)  # every sort column, with the hostile rows in
        assert app.is_running


async def test_escape_sequences_in_a_task_id_never_reach_the_terminal(samples: Path):
    task_id = "a\x1b]2;PWNED\x07[reverse red]BOOM"
    write(samples, task_id, real_meta("SUCCESS"))
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: task_id in app.inspector.store and app.inspector.scan is None)
        await wait_until(pilot, lambda: app.inspector.table.select_task(task_id))
        await pilot.press("c")
        assert app.clipboard == task_id  # the id itself, for the user's paste
        toasts = [str(n.message) for n in app._notifications]
        assert any("\\x1b]2;PWNED\\x07[reverse red]BOOM" in t for t in toasts), toasts
        assert not any("\x1b" in t for t in toasts)
        # A jump to an id with markup in it is shown as text, not parsed.
        app.query_one(DetailPane).post_message(DetailPane.JumpTo("[/bogus]"))
        toasts = app._notifications
        await wait_until(pilot, lambda: any("No result file for [/bogus]" in str(n.message) for n in toasts))
        assert app.is_running


def test_stats_text_escapes_file_names(samples: Path):
    (samples / "celery-task-meta-x\x1b[31mred").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "taskview", str(samples), "--stats"], capture_output=True, text=True)
    assert proc.returncode == 0 and "\x1b" not in proc.stdout and "\\x1b[31mred" in proc.stdout


async def test_a_symlinked_directory_is_watched_live(samples: Path, tmp_path: Path):
    link = tmp_path / "link"
    link.symlink_to(samples)
    app = TaskviewApp(ResultDirectory(str(link)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None and len(app.inspector.store) > 0)
        shutil.copy(next(samples.iterdir()), samples / "celery-task-meta-via-link")
        await wait_until(pilot, lambda: "via-link" in app.inspector.store, timeout=3)  # long before the 30 s reconcile


async def test_a_file_moved_in_from_elsewhere_appears(samples: Path, tmp_path: Path):
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None and len(app.inspector.store) > 0)
        outside = tmp_path / "celery-task-meta-moved-in"
        shutil.copy(next(samples.iterdir()), outside)
        os.rename(outside, samples / outside.name)
        await wait_until(pilot, lambda: "moved-in" in app.inspector.store, timeout=3)


def test_store_add_of_hostile_records(samples: Path):
    hostile_directory(samples)
    store = Store()
    for batch in ResultDirectory(str(samples)).scan():
        store.add_many(batch)
    files = [p.name for p in samples.iterdir() if p.name.startswith("celery-")]
    assert len(store) == len(files) == SAMPLE_COUNT + 6
    assert store.get("too-deep").status is None and store.get("too-deep").error.message == "json nested too deeply"
    for task_id in ("deep-args", "deep-result", "same-parent-group", "long-name"):
        assert (store.get(task_id).status, store.get(task_id).error) == ("SUCCESS", None), task_id
    assert len(store.get("deep-args").args) <= ARGS_PREVIEW  # a bounded preview, not a repr of 1000 levels
    assert store.get("long-name").name == "x" * 30000
    huge = store.get("huge-progress")
    assert huge.status == "PROGRESS" and huge.progress is None  # 10**400 is no float: no progress, no crash
    counts = store.counts()
    assert counts["unreadable"] == 1 and counts["PROGRESS"] == 2 and sum(counts.values()) == len(files)
    for key in ("id", "name", "status", "worker", "time", "runtime", "last_change", "progress", "size"):
        for reverse in (False, True):
            order = ordered_ids(store, key, reverse)
            assert sorted(order) == sorted(store.records), (key, reverse)
    # Where the hostile rows sort: a name of 30000 x's after every sampletasks.* name, rows
    # without a name after it; the unreadable file last by status; only the sample's own
    # PROGRESS task has a progress to sort by.
    by_name = ordered_ids(store, "name", False)
    named = [i for i in by_name if store.get(i).name is not None]
    assert named[-1] == "long-name" and by_name.index("too-deep") >= len(named)
    assert ordered_ids(store, "status", False)[-1] == "too-deep"
    with_progress = [i for i in ordered_ids(store, "progress", True) if store.get(i).progress is not None]
    assert with_progress == [i for i, r in store.records.items() if r.status == "PROGRESS" and i != "huge-progress"]
    assert ordered_ids(store, "progress", True).index("huge-progress") >= 1
    largest = max(samples.iterdir(), key=lambda p: p.stat().st_size).name.removeprefix("celery-task-meta-")
    assert ordered_ids(store, "size", True)[:3] == [largest, "long-name", "too-deep"]
    assert ordered_ids(store, predicate=compile_query("status:unreadable")) == ["too-deep"]
    assert ordered_ids(store, predicate=compile_query("name:xxxxx")) == ["long-name"]
