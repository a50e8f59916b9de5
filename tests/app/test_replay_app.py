"""Replay in the inspector (Pilot): the keys, the inspector's features while replaying, and a
journal recorded from a live session with a real Celery worker, replayed with every state it saw."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.celery_harness import CeleryWorker
from helpers.pilot import wait_until
from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from taskview.replay.journal import JournalWriter, Recorder, read_journal
from taskview.replay.timeline import from_results
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp


def replay_app(path: Path = SAMPLE_RESULTS) -> TaskviewApp:
    return TaskviewApp.for_replay(from_results(ResultDirectory(str(path))))


def rows(app: TaskviewApp) -> int:
    """The rows the table shows (refreshed from the replay's store at 10 Hz)."""
    return len(app.inspector.table.task_ids)


async def test_keys_move_the_replay_and_the_table_follows():
    app = replay_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "replay" in str(app.inspector.summary.render()))
        player, events = app.inspector.player, app.inspector.player.events
        assert not hasattr(app.inspector, "tail") and player.position == 0 and app.inspector.table.task_ids == []
        await pilot.press("]", "]", "]")
        assert player.position == 3
        await wait_until(pilot, lambda: rows(app) == 3)
        assert sorted(app.inspector.table.task_ids) == sorted(e.task_id for e in events[:3])
        assert player.clock == events[2].time
        await pilot.press("[")
        await wait_until(pilot, lambda: rows(app) == 2)
        assert sorted(app.inspector.table.task_ids) == sorted(e.task_id for e in events[:2])
        await pilot.press("end")
        assert player.position == SAMPLE_COUNT
        await wait_until(pilot, lambda: rows(app) == SAMPLE_COUNT)
        assert app.inspector.store.counts()["SUCCESS"] == 12
        await wait_until(
            pilot, lambda: f"{SAMPLE_COUNT}/{SAMPLE_COUNT} events" in str(app.inspector.timeline_bar.render())
        )
        await pilot.press("home")
        assert player.position == 0
        await wait_until(pilot, lambda: app.inspector.table.task_ids == [])
        assert len(app.inspector.store) == 0

        # Speed: + and - walk the steps from 1x to "max"; space plays.
        await pilot.press("+", "+")
        assert player.speed == 5
        await pilot.press("-")
        assert player.speed == 2
        for _ in range(12):
            await pilot.press("+")
        assert player.speed == float("inf") and " max " in str(app.inspector.timeline_bar.render())
        await pilot.press("space")
        assert player.playing
        await wait_until(pilot, lambda: player.at_end and not player.playing, timeout=15)
        await wait_until(
            pilot, lambda: rows(app) == SAMPLE_COUNT and "paused" in str(app.inspector.timeline_bar.render())
        )


async def test_sort_filter_and_detail_work_while_replaying():
    app = replay_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("end")
        await wait_until(pilot, lambda: rows(app) == SAMPLE_COUNT)
        await pilot.press("slash", *"status:FAILURE", "enter")
        await wait_until(pilot, lambda: rows(app) == 2)
        assert all(app.inspector.store.get(t).status == "FAILURE" for t in app.inspector.table.task_ids)
        # A filter typed during a replay keeps applying as the replay moves.
        await pilot.press("home")
        await wait_until(pilot, lambda: app.inspector.table.task_ids == [])
        await pilot.press("]", "]", "]")
        await wait_until(pilot, lambda: rows(app) == 2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: rows(app) == 3)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.inspector.table.sort_key != "last_change")
        first = app.inspector.table.selected_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: first in app.query_one("#detail-body").text)
        # Keys that would send to Celery do nothing in a replay: nothing opens.
        await pilot.press("n", "x")
        await pilot.pause()  # every message those keys caused handled: no screen may have opened
        assert len(app.screen_stack) == 1


async def test_replay_keys_type_into_the_filter_while_it_has_focus():
    app = replay_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("slash", "a", "space", "b", "+", "-", "[", "]")
        await wait_until(pilot, lambda: app.inspector.filter_box.value == "a b+-[]")
        player = app.inspector.player
        assert (player.playing, player.speed, player.position) == (False, 1, 0)


async def test_an_archive_opened_without_replay_shows_its_last_state(tmp_path: Path):
    from helpers.archives import make_archive
    from taskview.results.archive import ResultArchive

    archive = ResultArchive(str(make_archive(tmp_path / "results.tgz")))
    app = TaskviewApp.for_replay(from_results(archive, "archive"), from_end=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: rows(app) == SAMPLE_COUNT)
        await pilot.press("enter")
        selected = app.inspector.table.selected_id
        await wait_until(pilot, lambda: selected in app.query_one("#detail-body").text)


@pytest.mark.slow
async def test_a_recorded_live_session_replays_every_state_it_went_through(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    journal = tmp_path / "session.jsonl"
    recorder = Recorder(JournalWriter(str(journal)))
    live = TaskviewApp(ResultDirectory(str(results)), recorder=recorder)
    with CeleryWorker(results, extended=True, name="taskview-record") as worker:
        async with live.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: live.inspector.scan is None)
            store = live.inspector.store
            progress = worker.send("progress", total=3, delay=0.4)
            sleepy = worker.send("going_to_sleep", seconds=1.0)
            retried = worker.send("retry_twice", countdown=0.3)
            tasks = (progress.id, sleepy.id, retried.id)
            await wait_until(
                pilot, lambda: all(store.get(t) is not None and store.get(t).status == "SUCCESS" for t in tasks), 30
            )
            seen_live = {t: [s for _, s in store.history(t)] for t in tasks}
    recorder.close()
    assert "PROGRESS" in seen_live[progress.id] and "GOING_TO_SLEEP" in seen_live[sleepy.id]
    assert "RETRY" in seen_live[retried.id]

    timeline = read_journal(str(journal))
    assert not timeline.notices
    for task_id in tasks:
        events = [e for e in timeline.events if e.task_id == task_id]
        # Every change the live view saw, in order, and progress steps too.
        statuses = [e.status for e in events]
        assert [s for n, s in enumerate(statuses) if n == 0 or s != statuses[n - 1]] == seen_live[task_id]
        assert all(e.meta is not None and e.meta["task_id"] == task_id and e.meta["status"] == e.status for e in events)
        assert events[0].old is None and all(e.old == p.status for p, e in zip(events, events[1:], strict=False))
    progress_steps = [e.record.progress for e in timeline.events if e.task_id == progress.id and e.status == "PROGRESS"]
    assert len(progress_steps) >= 2 and progress_steps == sorted(progress_steps)

    app = TaskviewApp.for_replay(timeline)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "replay" in str(app.inspector.summary.render()))
        # Step through: each task passes through each state it went through, in order.
        shown: dict[str, list[str]] = {t: [] for t in tasks}
        while not app.inspector.player.at_end:
            await pilot.press("]")
            for task_id in tasks:
                record = app.inspector.store.get(task_id)
                if record is not None and (not shown[task_id] or shown[task_id][-1] != record.status):
                    shown[task_id].append(record.status)
        assert shown == seen_live
        assert {t: [s for _, s in app.inspector.store.history(t)] for t in tasks} == seen_live
        # The detail pane shows the journal's meta of that moment.
        app.inspector.table.select_task(retried.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: '"SUCCESS"' in app.query_one("#detail-body").text)
        await pilot.press("home", *["]"] * 3)
        assert app.inspector.player.position == 3


async def test_replayed_rows_push_in_at_the_top_and_a_moved_cursor_counts_them():
    app = replay_app()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.inspector.table
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await wait_until(pilot, lambda: len(table.task_ids) == 3)
        newest = app.inspector.player.events[2].task_id
        assert table.selected_id == table.task_ids[0] == newest and table.new_above == 0  # the top follows
        await pilot.press("j", "right_square_bracket", "right_square_bracket")
        await wait_until(pilot, lambda: len(table.task_ids) == 5)
        assert table.new_above == 2 and "↑ 2 new" in table.render_line(0).text
