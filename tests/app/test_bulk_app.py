"""Marks and bulk actions in the inspector: Space, a, u, then D (forget), x and R on the marks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from helpers.pilot import loaded, summary_text, wait_until
from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from taskview.control import bulk
from taskview.control.controller import Controller
from taskview.replay.timeline import from_results
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.bulk_progress import BulkProgress
from taskview.ui.screens.confirm import ConfirmScreen


async def filter_to(pilot, text: str) -> None:
    app = pilot.app
    await pilot.press("slash", *text, "enter")
    await wait_until(pilot, lambda: not app.inspector.model.filtering)
    await pilot.pause(0.05)


async def test_marks_follow_their_tasks_through_sort_filter_and_updates_and_a_marks_the_filter(samples: Path):
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded(pilot, app)
        marks = app.inspector.model.marks
        first, second = table.task_ids[:2]
        await pilot.press("space", "space")  # marks a row and moves to the next
        assert set(marks) == {first, second} and table.selected_id == table.task_ids[2]
        await wait_until(pilot, lambda: "2 marked" in summary_text(app))
        await pilot.press("s", "s", "S")  # another sort
        await filter_to(pilot, "status:SUCCESS")  # and a filter: typed spaces are text, not marks
        assert set(marks) == {first, second}
        await pilot.press("escape")
        # A file rewritten (a live update) keeps its mark; a file deleted takes it away. The first
        # rows may be a group's (celery-taskset-meta-): in a fresh clone every file has the same mtime.
        store = app.inspector.store
        path = samples / store.get(first).filename
        path.write_bytes(path.read_bytes())
        (samples / store.get(second).filename).unlink()
        await wait_until(pilot, lambda: second not in app.inspector.store)
        assert set(marks) == {first}
        await wait_until(pilot, lambda: "1 marked" in summary_text(app))
        await pilot.press("u")
        assert not marks and "1 marked" not in summary_text(app) and "unmarked 1" in app.inspector.notice
        # a: every row the filter keeps, once the count is shown and confirmed.
        await filter_to(pilot, "status:SUCCESS")
        successes = sum(r.status == "SUCCESS" for r in app.inspector.store.records.values())
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen) and ("rows", str(successes)) in app.screen.facts
        assert not marks  # not before it is confirmed
        await pilot.press("a")
        assert len(marks) == successes >= 10 and all(app.inspector.store.get(t).status == "SUCCESS" for t in marks)


async def test_forget_removes_the_marked_finished_files_and_their_rows_leave_through_the_tail(samples: Path):
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await filter_to(pilot, "-status:SUCCESS")  # failures, revoked, running, a group
        await pilot.press("a", "a")
        marked = set(app.inspector.model.marks)
        store = app.inspector.store
        unfinished = {t for t in marked if store.get(t).status not in ("FAILURE", "REVOKED", None)}
        assert len(marked) == 9 and len(unfinished) == 4
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # planned off the UI thread
        assert dict(app.screen.facts)["skipped"] == "unfinished 4"
        await pilot.press("y")
        assert isinstance(app.screen, BulkProgress)
        await wait_until(pilot, lambda: app.screen.done is not None)
        assert "removed 5, skipped 4 unfinished, failed 0" in str(app.screen.title_line.content)
        await pilot.press("d")  # every task, on demand
        assert app.screen.details.display
        await pilot.press("enter")
        assert "removed 5, skipped 4 unfinished, failed 0" in app.inspector.notice
        await wait_until(pilot, lambda: len(store) == SAMPLE_COUNT - 5)
        assert {p.name.removeprefix("celery-task-meta-") for p in samples.iterdir()} >= unfinished
        assert not app.inspector.model.marks  # done with


COPIES = 60


async def test_esc_stops_a_bulk_action_between_two_batches(samples: Path, monkeypatch):
    successes = [p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "SUCCESS"]
    for n in range(COPIES):  # real worker files, under more names
        shutil.copy(successes[n % len(successes)], samples / f"celery-task-meta-copy-{n:04d}")
    monkeypatch.setattr(bulk, "BATCH", 1)
    real_remove = bulk.remove_files

    def slow_remove(directory, files):  # a slow disk: each file takes a while
        import time

        time.sleep(0.03)
        return real_remove(directory, files)

    monkeypatch.setattr(bulk, "remove_files", slow_remove)
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app, SAMPLE_COUNT + COPIES)
        await filter_to(pilot, "id:copy")
        await pilot.press("a", "a", "D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, BulkProgress) and app.screen.bar.progress > 0)
        progress = app.screen
        await pilot.press("escape")
        await wait_until(pilot, lambda: progress.done is not None)
        assert app.screen is progress, app.inspector.notice
        done = progress.done
        removed = sum(d.ok for d in done)
        assert 0 < removed < COPIES and sum(d.cancelled for d in done) == COPIES - removed
        await pilot.press("escape")
        assert f"cancelled {COPIES - removed}" in app.inspector.notice
        assert len(app.inspector.model.marks) == COPIES - removed  # a cancelled action keeps the rest marked
    assert len([p for p in samples.iterdir() if "copy" in p.name]) == COPIES - removed


async def test_read_only_refuses_every_bulk_action(samples: Path, tmp_path: Path):
    from celery import Celery

    controller = Controller(Celery("ro", broker="memory://", set_as_current=False), read_only=True)
    app = TaskviewApp(ResultDirectory(str(samples)), controller=controller)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("a", "a")  # marking is no action: allowed
        assert len(app.inspector.model.marks) == SAMPLE_COUNT
        for key, what in (("D", "forget"), ("x", "revoke"), ("R", "re-enqueue")):
            await pilot.press(key)
            assert f"read-only: {what} not sent" in app.inspector.notice
            assert not isinstance(app.screen, ConfirmScreen)
    assert len(os.listdir(samples)) == SAMPLE_COUNT


async def test_in_a_replay_space_plays_and_nothing_is_marked(samples: Path):
    app = TaskviewApp.for_replay(from_results(ResultDirectory(str(samples))), from_end=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert not app.inspector.player.playing
        await pilot.press("space")
        assert app.inspector.player.playing and not app.inspector.model.marks
        await pilot.press("a", "u", "D")
        assert not app.inspector.model.marks and not isinstance(app.screen, ConfirmScreen)


def test_sample_results_are_the_ones_these_tests_count_on():
    assert len(list(SAMPLE_RESULTS.iterdir())) == SAMPLE_COUNT == 21
