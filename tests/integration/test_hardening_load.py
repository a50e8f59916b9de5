"""In-place rewrites under load: four writer processes rewrite 1,000 files the way Celery does
(open "wb" truncates, half the bytes, a pause, the rest, close) for 10 s while taskview watches.

Afterwards the watching side must equal a fresh decode of the directory: every file, its
final status, size and mtime, nothing partial kept, no error logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import queue
import random
import time
from pathlib import Path

import pytest

from helpers.pilot import summary_text, wait_until
from taskview.results.scan import ResultDirectory
from taskview.sources.tail import DirectoryTail
from taskview.store import Store
from taskview.ui.app import TaskviewApp

pytestmark = pytest.mark.slow  # four writer processes for 10 s

WRITERS = 4
FILES_PER_WRITER = 250
SECONDS = 10.0
HOST = "load-worker@host"


def meta_for(task_id: str, step: int) -> bytes:
    """The step-th state of a task: STARTED -> PROGRESS -> SUCCESS | FAILURE, then a retry starts it again."""
    phase = step % 4
    meta: dict = {
        "task_id": task_id,
        "traceback": None,
        "children": [],
        "date_done": None,
        "name": "load.work",
        "args": [step],
        "kwargs": {},
        "worker": HOST,
        "retries": step // 4,
    }
    if phase == 0:
        meta.update(status="STARTED", result={"pid": 4242, "hostname": HOST})
    elif phase == 1:
        meta.update(status="PROGRESS", result={"current": step, "total": step + 10})
    elif phase == 2:
        # Some results are over 8 KiB: the size at which a reader sees Celery's writes cut.
        meta.update(
            status="SUCCESS",
            result="x" * (20_000 if step % 3 == 0 else 40),
            date_done="2024-05-01T12:00:00.000000+00:00",
        )
    else:
        meta.update(
            status="FAILURE",
            result={"exc_type": "ValueError", "exc_message": [str(step)]},
            traceback="Traceback (most recent call last):\nValueError\n",
            date_done="2024-05-01T12:00:01.000000+00:00",
        )
    return json.dumps(meta).encode()


def write_in_place(path: str, data: bytes, pause: float) -> None:
    """Celery's FilesystemBackend.set: no temporary file, no rename."""
    with open(path, "wb") as handle:
        half = len(data) // 2
        handle.write(data[:half])
        handle.flush()
        if pause:
            time.sleep(pause)
        handle.write(data[half:])


def writer(directory: str, first: int, seconds: float, seed: int, counter) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    ids = [f"load-{n:04d}" for n in range(first, first + FILES_PER_WRITER)]
    steps = dict.fromkeys(ids, 0)
    deadline = time.monotonic() + seconds
    writes = 0
    while time.monotonic() < deadline:
        task_id = rng.choice(ids)
        steps[task_id] += 1
        write_in_place(
            os.path.join(directory, f"celery-task-meta-{task_id}"),
            meta_for(task_id, steps[task_id]),
            rng.choice((0, 0.0005, 0.002)),
        )
        writes += 1
    with counter.get_lock():
        counter.value += writes


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(self.format(record))


def fresh(directory: Path) -> Store:
    store = Store()
    for batch in ResultDirectory(str(directory)).scan():
        store.add_many(batch)
    return store


def differences(watched: Store, truth: Store) -> list[str]:
    found = []
    for task_id in sorted(set(watched.records) | set(truth.records)):
        a, b = watched.get(task_id), truth.get(task_id)
        if a is None or b is None:
            found.append(f"{task_id}: watched={a!r} on disk={b!r}")
            continue
        fields = ("status", "error", "mtime", "size", "progress", "date_done", "args")
        got, want = tuple(getattr(a, f) for f in fields), tuple(getattr(b, f) for f in fields)
        if got != want:
            found.append(f"{task_id}: watched={got} on disk={want}")
    return found


async def test_four_writers_rewriting_in_place_lose_nothing(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    for n in range(WRITERS * FILES_PER_WRITER):
        task_id = f"load-{n:04d}"
        (results / f"celery-task-meta-{task_id}").write_bytes(meta_for(task_id, 0))

    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    # A tail on its own, feeding a store here, besides the app's own tail.
    batches: queue.SimpleQueue = queue.SimpleQueue()
    tail = DirectoryTail(ResultDirectory(str(results)), batches.put)
    tail_store = Store()

    def drain() -> None:
        while True:
            try:
                batch = batches.get_nowait()
            except queue.Empty:
                return
            tail_store.add_many(batch.records, live=not batch.scanning)
            for task_id in batch.removed:
                tail_store.remove(task_id)

    app = TaskviewApp(ResultDirectory(str(results)))
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    try:
        tail.start()
        async with app.run_test(size=(160, 30)) as pilot:
            await wait_until(pilot, lambda: app.inspector.scan is None and len(app.inspector.store) == 1000, timeout=20)
            procs = [
                context.Process(target=writer, args=(str(results), w * FILES_PER_WRITER, SECONDS, w, counter))
                for w in range(WRITERS)
            ]
            for proc in procs:
                proc.start()
            while any(proc.is_alive() for proc in procs):
                drain()
                await pilot.pause(0.2)
                assert app.is_running
                # Never a garbage row, even mid-write: a cut read keeps the last good row.
                assert app.inspector.store.counts()["unreadable"] == 0
                assert tail_store.counts()["unreadable"] == 0
            for proc in procs:
                proc.join()
                assert proc.exitcode == 0
            truth = fresh(results)
            # Let the last events arrive: at most a few ticks after the last close.
            settled = time.monotonic() + 10
            while time.monotonic() < settled:
                drain()
                if not differences(app.inspector.store, truth) and not differences(tail_store, truth):
                    break
                await pilot.pause(0.1)
            assert counter.value > 2000, f"the writers managed only {counter.value} writes"
            assert differences(tail_store, truth) == []
            assert differences(app.inspector.store, truth) == []
            assert len(app.inspector.table.task_ids) == 1000
            counts = truth.counts()
            # The summary bar is redrawn at most 10 times a second: wait for it to show the last
            # counts (for 5 s at most: the assertions below then say what it shows instead).
            with contextlib.suppress(AssertionError):
                await wait_until(
                    pilot,
                    lambda: (
                        "1,000 tasks" in (text := summary_text(app))
                        and all(f"{status} {count:,}" in text for status, count in counts.items())
                    ),
                    timeout=5,
                )
            shown = summary_text(app)
            assert "1,000 tasks" in shown
            for status, count in counts.items():
                assert f"{status} {count:,}" in shown, (status, count, shown)
            assert "unreadable" not in shown
    finally:
        tail.stop()
        logging.getLogger().removeHandler(errors)
    assert errors.seen == []
