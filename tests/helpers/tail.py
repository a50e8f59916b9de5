"""A directory tail run on its own, its batches collected."""

from __future__ import annotations

import queue
import time
from pathlib import Path

from taskview.results.scan import ResultDirectory
from taskview.sources.tail import DirectoryTail, TailBatch


def collect(batches: queue.SimpleQueue, until, timeout: float = 30.0) -> list[TailBatch]:
    seen: list[TailBatch] = []
    deadline = time.monotonic() + timeout
    while not until(seen):
        assert time.monotonic() < deadline, seen
        try:
            seen.append(batches.get(timeout=0.1))
        except queue.Empty:
            pass
    return seen


def ids(batches: list[TailBatch]) -> set[str]:
    return {r.task_id for b in batches for r in b.records}


def run_tail(directory: Path, **options) -> tuple[DirectoryTail, queue.SimpleQueue]:
    batches: queue.SimpleQueue = queue.SimpleQueue()
    tail = DirectoryTail(ResultDirectory(str(directory)), batches.put, **options)
    tail.start()
    return tail, batches


def first_scan(
    directory: Path, timeout: float = 20.0, *, prepared: bool = False, **options
) -> tuple[DirectoryTail, list[TailBatch]]:
    """A tail's first scan to its end, started as the UI starts one: the first screenful read
    first (``seen[0]``), then the tail, stopped once the scan's
    last batch came. ``prepared``: as ``taskview DIR`` begins, the tail prepared (its watch begun)
    before the first screenful is read."""
    seen: list[TailBatch] = []
    tail = DirectoryTail(ResultDirectory(str(directory)), seen.append, **options)
    if prepared:
        tail.prepare()
    seen.append(tail.read_first_screenful())
    tail.start()
    try:
        deadline = time.monotonic() + timeout
        while not any(batch.scan_done for batch in seen):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        tail.stop()
    return tail, seen


class Followed:
    """A store fed by a directory tail, batch by batch, in this thread (as the live inspector feeds its own)."""

    def __init__(self, directory: Path) -> None:
        from taskview.store import Store

        self.store = Store()
        self.tail, self._batches = run_tail(directory, tick=0.02)

    def until(self, condition, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.store):
            assert time.monotonic() < deadline, {i: r.status for i, r in self.store.records.items()}
            try:
                batch = self._batches.get(timeout=0.1)
            except queue.Empty:
                continue
            self.store.add_many(batch.records, live=not batch.scanning)
            for task_id in batch.removed:
                self.store.remove(task_id)

    def status(self, task_id: str) -> str | None:
        record = self.store.get(task_id)
        return record.status if record is not None else None
