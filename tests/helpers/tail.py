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
