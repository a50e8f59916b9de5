"""A 10 MB result from a real worker: opening it never stops the screen, and the pane shows its own task.

The worker is a real Celery worker of the sample project (tests/helpers/worker_app);
the inspector runs under Pilot, with a timer that notes the longest the UI thread
went without running it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.celery_harness import CeleryWorker
from helpers.pilot import plain, wait_until
from helpers.samples import SAMPLE_RESULTS, by_name
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.view.detail import BODY_LIMIT

pytestmark = pytest.mark.slow  # a worker writes 10 MB


@pytest.fixture(scope="module")
def big_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    results = tmp_path_factory.mktemp("big") / "results"
    results.mkdir()
    with CeleryWorker(results, extended=True, name="taskview-big") as worker:
        big = worker.send("large_result", size=10_000_000)
        worker.wait_for(big.id, "SUCCESS", timeout=60)
    return results, big.id


async def test_a_10_mb_result_opens_without_stopping_the_screen(big_results, tmp_path: Path):
    results, big_id = big_results
    app = TaskviewApp(ResultDirectory(str(results)))
    gaps: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: big_id in app.inspector.table.task_ids)
        last = [time.monotonic()]

        def beat() -> None:
            now = time.monotonic()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.02, beat)
        app.inspector.table.select_task(big_id)
        await pilot.press("enter")
        header = app.query_one("#detail-header")
        body = app.query_one("#detail-body")
        await wait_until(pilot, lambda: "showing the first" in plain(header), timeout=30)
        text = plain(header)
        assert "of 9.5 MB" in text and "y copies the result" in text, text
        assert 0 < len(body.text) <= BODY_LIMIT
        await pilot.pause(0.3)
        # The UI thread never went a second without running its timers (before: ~10 s).
        assert max(gaps) < 1.0, max(gaps)


async def test_the_pane_never_shows_the_last_tasks_content_under_the_new_header(big_results):
    results, big_id = big_results
    app = TaskviewApp(ResultDirectory(str(results)))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: big_id in app.inspector.table.task_ids)
        app.inspector.table.select_task(big_id)
        await pilot.press("enter")
        body = app.query_one("#detail-body")
        await wait_until(pilot, lambda: len(body.text) > 1000, timeout=30)
        # Another task arrives and is chosen: its header at once, the big body gone with it.
        other = by_name(SAMPLE_RESULTS, "sampletasks.fail_custom")
        (results / other.name).write_bytes(other.read_bytes())
        other_id = other.name.removeprefix("celery-task-meta-")
        await wait_until(pilot, lambda: other_id in app.inspector.table.task_ids)
        app.inspector.table.select_task(other_id)
        await pilot.pause(0)
        header = plain(app.query_one("#detail-header"))
        assert other_id in header and big_id not in header
        assert len(body.text) < 1000  # empty while reading, then the small task's JSON
        await wait_until(pilot, lambda: other_id in body.text)
        (results / other.name).unlink()

