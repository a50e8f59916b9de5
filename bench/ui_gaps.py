"""The UI's longest gap while the workers screen refreshes with 10 real workers and while a bulk revoke
of 5,000 marked tasks runs, beside the same app's gaps at rest (same run).

    .venv/bin/python bench/ui_gaps.py       # needs redis-server on PATH (a private one is started)

A gap is the time between two beats of a 10 ms UI timer (as first_scan.py measures it): a gap
longer than 50 ms is a frame the UI could not draw, or a key it could not answer, for that long.
The app runs headless (Textual's test driver, which renders every frame as a terminal would),
on a directory of 5,000 STARTED tasks, with a Controller on a private redis-server that 10
solo workers (``taskview.control.demo_tasks``, separate processes) consume from:

- rest: the app without a broker (nothing asked), 10 s: the machine's own noise;
- workers screen: ``w`` open, the monitor asking every 0.5 s (ping, stats, active, reserved,
  scheduled, queues) and 10 workers answering, 15 s;
- bulk revoke: ``a`` (mark every row), ``x``, ``r``: the 5,000 revokes sent behind the progress bar,
  from the key to the outcome.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from common import Figure, demo_workers, percentile, private_redis

WORKERS = 10
TASKS = 5000
BEAT = 0.01
SCREEN = (120, 40)


def write_tasks(results: Path, count: int) -> None:
    results.mkdir(parents=True, exist_ok=True)
    for _ in range(count):
        task_id = str(uuid.uuid4())
        meta = {"status": "STARTED", "result": {"pid": 1, "hostname": "gap0@bench"}, "task_id": task_id,
                "name": "taskview.demo.sleep", "date_done": None}  # fmt: skip
        (results / f"celery-task-meta-{task_id}").write_bytes(orjson.dumps(meta))


class Beats:
    """A 10 ms timer in the app: the time between two beats, kept from ``start()`` to ``stop()``."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.ends: list[float] = []  # when each gap ended, seconds after start()
        self._last: float | None = None
        self._started = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if self._last is not None:
            self.gaps.append(now - self._last)
            self.ends.append(now - self._started)
        self._last = now

    def start(self) -> None:
        self.gaps, self.ends, self._last, self._started = [], [], None, time.monotonic()

    def longest(self, count: int = 3) -> str:
        """Where the longest gaps ended: ``41 ms at 0.62 s, ...``."""
        top = sorted(zip(self.gaps, self.ends, strict=True), reverse=True)[:count]
        return ", ".join(f"{gap * 1000:.0f} ms at {end:.2f} s" for gap, end in top)

    def stop(self) -> list[float]:
        gaps, self._last = self.gaps, None
        self.gaps = []
        return gaps


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)


async def at_rest(results: Path, seconds: float) -> list[float]:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(str(results)))
    beats = Beats()
    async with app.run_test(size=SCREEN):
        await _until(lambda: len(app.inspector.table.order) >= TASKS, 60, "first scan")
        app.set_interval(BEAT, beats.beat)
        await asyncio.sleep(0.5)
        beats.start()
        await asyncio.sleep(seconds)
        return beats.stop()


@dataclass
class Busy:
    """The gaps while the workers screen refreshed and while the bulk revoke ran."""

    workers: list[float] = field(default_factory=list)
    refreshes: int = 0
    bulk: list[float] = field(default_factory=list)
    bulk_seconds: float = 0.0


async def with_workers(results: Path, url: str, seconds: float) -> Busy:
    from celery import Celery

    from taskview.control.controller import Controller
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp
    from taskview.ui.screens.bulk_progress import BulkProgress
    from taskview.ui.screens.confirm import ConfirmScreen
    from taskview.ui.screens.workers import WorkersScreen

    celery = Celery("bench-gaps", broker=url, set_as_current=False)
    controller = Controller(celery)
    deadline = time.monotonic() + 90
    while len(controller.ping(timeout=1.0) or ()) < WORKERS:
        assert time.monotonic() < deadline, "the workers did not all answer"
    app = TaskviewApp(ResultDirectory(str(results)), controller=controller, workers_every=0.5)
    beats = Beats()
    out = Busy()
    async with app.run_test(size=SCREEN) as pilot:
        inspector = app.inspector
        await _until(lambda: len(inspector.table.order) >= TASKS, 60, "first scan")
        app.set_interval(BEAT, beats.beat)
        await pilot.press("w")
        assert isinstance(app.screen, WorkersScreen)
        await _until(lambda: len(getattr(inspector.workers_report, "workers", ())) >= WORKERS, 30, "10 workers shown")
        beats.start()
        reports = {id(inspector.workers_report)}
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await asyncio.sleep(0.05)
            reports.add(id(inspector.workers_report))  # each refresh's answer is a new report
        print(f"  (workers screen: longest gaps {beats.longest()})")
        out.workers = beats.stop()
        out.refreshes = len(reports) - 1
        await pilot.press("escape")
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("a")
        await _until(lambda: len(inspector.model.marks) == TASKS, 10, "every row marked")
        await pilot.press("x")
        await _until(lambda: isinstance(app.screen, ConfirmScreen), 30, "the revoke confirmation")
        beats.start()
        started = time.monotonic()
        await pilot.press("r")
        await _until(lambda: isinstance(app.screen, BulkProgress), 10, "the progress bar")
        progress = app.screen
        assert isinstance(progress, BulkProgress)
        await _until(lambda: progress.done is not None, 120, "the revokes sent")
        out.bulk_seconds = time.monotonic() - started
        print(f"  (bulk revoke: longest gaps {beats.longest()}; outcome at {out.bulk_seconds:.2f} s)")
        out.bulk = beats.stop()
        failed = [d for d in progress.done or () if not d.ok]
        assert not failed, failed[0]
    return out


def longest_ms(gaps: list[float]) -> float:
    return max(gaps, default=0.0) * 1000


def run(rest_seconds: float = 10, workers_seconds: float = 15) -> list[Figure]:
    if not shutil.which("redis-server"):
        raise SystemExit("ui_gaps: redis-server is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="taskview-bench-gaps-"))
    try:
        results = work / "results"
        write_tasks(results, TASKS)
        rest = asyncio.run(at_rest(results, rest_seconds))
        names = [f"gap{n}@%h" for n in range(WORKERS)]
        with private_redis(work) as url, demo_workers(url, work / "worker-results", names):
            busy = asyncio.run(with_workers(results, url, workers_seconds))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    at_rest_ms = longest_ms(rest)
    rest_p99 = percentile(rest, 0.99) * 1000
    figures = [Figure("UI at rest: longest gap", at_rest_ms, "ms", None, "", "", None)]
    phases = (
        (f"workers screen, {WORKERS} workers, asked every 0.5 s", busy.workers),
        (f"bulk revoke of {TASKS:,} marked tasks", busy.bulk),
    )
    for label, gaps in phases:
        longest = longest_ms(gaps)
        figures.append(Figure(f"{label}: longest gap", longest, "ms", at_rest_ms, "at rest", "< 50 ms", longest < 50))
        figures.append(Figure(f"{label}: p99 gap", percentile(gaps, 0.99) * 1000, "ms", rest_p99, "at rest", "", None))
    label = f"bulk revoke of {TASKS:,}: from the key to the outcome"
    figures.append(Figure(label, busy.bulk_seconds, "s", None, "", "", None))
    print(
        f"  (beats: rest {len(rest)}, workers {len(busy.workers)}, bulk {len(busy.bulk)}; refreshes seen "
        f"{busy.refreshes}; median gap at rest {statistics.median(rest) * 1000:.1f} ms)"
    )
    return figures


if __name__ == "__main__":
    print(f"load {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
    for figure in run():
        print(figure.row())
