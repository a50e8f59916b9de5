"""A real Celery worker writes into the directory the inspector watches; rows follow live."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.celery_harness import CeleryWorker
from helpers.pilot import wait_until
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp


@pytest.mark.slow
async def test_rows_follow_a_real_worker(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    app = TaskviewApp(ResultDirectory(str(results)))
    with CeleryWorker(results, extended=True, name="taskview-live") as worker:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: app.inspector.scan is None)
            store = app.inspector.store

            def status(task_id: str) -> str | None:
                record = store.get(task_id)
                return record.status if record is not None else None

            add = worker.send("add", 2, 3)
            progress = worker.send("progress", total=3, delay=0.4)
            sleepy = worker.send("going_to_sleep", seconds=1.0)
            await wait_until(pilot, lambda: status(add.id) == "SUCCESS")
            await wait_until(pilot, lambda: status(progress.id) == "SUCCESS")
            await wait_until(pilot, lambda: status(sleepy.id) == "SUCCESS")
            # The intermediate states were seen as they happened, in order.
            seen = [s for _, s in store.history(progress.id)]
            assert seen[0] in ("STARTED", "PROGRESS") and seen[-1] == "SUCCESS" and "PROGRESS" in seen
            seen = [s for _, s in store.history(sleepy.id)]
            assert "GOING_TO_SLEEP" in seen and seen[-1] == "SUCCESS"
            assert store.get(sleepy.id).runtime is not None and store.get(sleepy.id).runtime >= 0.9
            await wait_until(pilot, lambda: len(app.inspector.table.task_ids) == 3)

            # Latency: from the worker's write (file mtime) to the row in the table.
            slow = worker.send("sleep", 0.5)
            shown_at = await wait_until(pilot, lambda: status(slow.id) == "SUCCESS")
            written_at = worker.path(slow.id).stat().st_mtime
            latency = time.time() - (time.monotonic() - shown_at) - written_at
            assert latency < 1.0, latency  # the target is a fraction of a second; CI machines are noisy

            # forget() deletes the file: the row leaves.
            worker.app.AsyncResult(add.id).forget()
            await wait_until(pilot, lambda: add.id not in app.inspector.table.task_ids)
