"""Live latency: writers rewrite files in place (truncate + write, like Celery) at a fixed rate;
from each write to taskview holding the new status, and whether every final state arrived.

taskview runs headless (Textual's test driver) in this process; the writers are
separate processes. A write is "seen" when the app's store takes the record
(the table repaints from the store on its next frame). Each write carries a
sequence number in its progress meta, so every version is told apart. Versions
overwritten before taskview read them are coalesced, not lost: what must never
be lost is each file's final state.

The baseline is the floor of the same pipeline: a bare watchdog observer (close-write
events only) that reads and parses each file as its event arrives, same load.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from pathlib import Path

import orjson

from common import BENCH_DIR, Figure, percentile

FILES = 1000
WRITERS = 4
TOTAL = 10**9  # progress total: the sequence number is the progress' current value


def _write(path: str, meta: dict) -> float:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, orjson.dumps(meta))
    finally:
        os.close(fd)
    return time.time()


def writer(directory: str, task_ids: list[str], rate: float, seconds: float, out, parents=None) -> None:  # type: ignore[no-untyped-def]
    """Rewrite our files round-robin at ``rate`` writes/s; then one final SUCCESS each. ``parents``:
    task id -> the parent_id its every write names (workflows of ten: a first task and nine under it)."""
    parents = parents or {}
    log = []
    started = time.time()
    n = 0
    while time.time() - started < seconds:
        task_id = task_ids[n % len(task_ids)]
        n += 1
        meta = {"status": "PROGRESS", "result": {"current": n, "total": TOTAL}, "task_id": task_id, "date_done": None}
        if parents.get(task_id):
            meta["parent_id"] = parents[task_id]
        log.append((task_id, n, _write(os.path.join(directory, f"celery-task-meta-{task_id}"), meta)))
        delay = started + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    for task_id in task_ids:
        meta = {"status": "SUCCESS", "result": n, "task_id": task_id, "date_done": "2026-11-25T00:00:00+00:00"}
        if parents.get(task_id):
            meta["parent_id"] = parents[task_id]
        _write(os.path.join(directory, f"celery-task-meta-{task_id}"), meta)
    out.put(log)


def prepare(directory: Path, parents: dict[str, str] | None = None) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(directory):
        os.unlink(entry.path)
    ids = [str(uuid.uuid4()) for _ in range(FILES)]
    if parents is not None:  # workflows of ten
        parents.update({task_id: ids[at - at % 10] for at, task_id in enumerate(ids) if at % 10})
    for task_id in ids:
        meta = {"status": "STARTED", "result": None, "task_id": task_id}
        if parents and task_id in parents:
            meta["parent_id"] = parents[task_id]
        _write(str(directory / f"celery-task-meta-{task_id}"), meta)
    return ids


def run_writers(
    directory: Path, ids: list[str], rate: float, seconds: float, parents: dict[str, str] | None = None
) -> list[tuple[str, int, float]]:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    share = len(ids) // WRITERS
    procs = [
        ctx.Process(
            target=writer,
            args=(str(directory), ids[i * share : (i + 1) * share], rate / WRITERS, seconds, out, parents),
        )
        for i in range(WRITERS)
    ]
    for p in procs:
        p.start()
    logs = [entry for _ in procs for entry in out.get()]
    for p in procs:
        p.join()
    return logs


def latencies(written: list[tuple[str, int, float]], seen: dict[tuple[str, int], float]) -> tuple[list[float], int]:
    values = []
    for task_id, seq, at in written:
        when = seen.get((task_id, seq))
        if when is not None:
            values.append(max(0.0, when - at))
    return values, len(written) - len(values)


class UpkeepClock:
    """Time spent in the insights' upkeep (``Insights`` fed as records change, the summary's throughput
    line), against the whole process's CPU over the same span: what keeping the aggregates adds."""

    METHODS = ("change", "add_bulk", "throughput")

    def __init__(self) -> None:
        from taskview.insights.aggregates import Insights

        self.spent = 0.0
        self._originals = {name: getattr(Insights, name) for name in self.METHODS}
        for name, original in self._originals.items():
            setattr(Insights, name, self._timed(original))
        self._cpu = 0.0

    def _timed(self, original):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - started

        return timed

    def start(self) -> None:
        times = os.times()
        self.spent, self._cpu = 0.0, times.user + times.system

    def share(self) -> float:
        """The upkeep's part of the process's CPU since ``start``."""
        times = os.times()
        return self.spent / max(1e-9, times.user + times.system - self._cpu)

    def close(self) -> None:
        from taskview.insights.aggregates import Insights

        for name, original in self._originals.items():
            setattr(Insights, name, original)


async def measure_taskview(
    directory: Path, ids: list[str], rate: float, seconds: float, parents: dict[str, str] | None = None
) -> dict:
    """``parents``: the files make workflows, shown as such (``t``)."""
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp
    from taskview.ui.screens.live import LiveScreen, RecordsArrived

    seen: dict[tuple[str, int], float] = {}

    arrived: list[tuple[str, int]] = []

    class TimedScreen(LiveScreen):
        """Notes when each version reaches the table: the refresh after its batch arrived."""

        def on_records_arrived(self, message: RecordsArrived) -> None:
            # Textual calls LiveScreen's handler too, after this one (every class's, down the MRO):
            # a call of it here took each batch in twice.
            arrived.extend((r.task_id, int(r.progress[0])) for r in message.batch.records if r.progress is not None)

        def refresh_rows(self) -> None:
            super().refresh_rows()
            now = time.time()
            for key in arrived:
                seen.setdefault(key, now)
            arrived.clear()

    app = TaskviewApp(inspector=TimedScreen(ResultDirectory(str(directory))))
    upkeep = UpkeepClock()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            return await _live_run(app, pilot, directory, ids, rate, seconds, parents, seen, upkeep)
    finally:
        upkeep.close()


async def _live_run(app, pilot, directory, ids, rate, seconds, parents, seen, upkeep) -> dict:  # type: ignore[no-untyped-def]
    """The writers against the app, once its first scan is in."""
    while app.inspector.scan is not None or len(app.inspector.store) < FILES:
        await pilot.pause(0.05)
    if parents is not None:
        await pilot.press("t")
        await pilot.press(*["right", "down"] * 20)  # a screenful of workflows open
    loop = asyncio.get_running_loop()
    upkeep.start()
    written = await loop.run_in_executor(None, run_writers, directory, ids, rate, seconds, parents)
    upkeep_share = upkeep.share()
    deadline = time.time() + 5
    while time.time() < deadline:
        if all(app.inspector.store.get(t) is not None and app.inspector.store.get(t).status == "SUCCESS" for t in ids):
            break
        await pilot.pause(0.05)
    lost = [t for t in ids if app.inspector.store.get(t) is None or app.inspector.store.get(t).status != "SUCCESS"]
    rows = set(app.inspector.table.task_ids)
    shown = sum(1 for t in ids if t in rows)
    values, coalesced = latencies(written, seen)
    return {
        "latencies": values,
        "coalesced": coalesced,
        "writes": len(written),
        "lost": len(lost),
        "rows": shown,
        "upkeep": upkeep_share,
    }


def measure_floor(directory: Path, ids: list[str], rate: float, seconds: float) -> dict:
    from watchdog.events import FileClosedEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    seen: dict[tuple[str, int], float] = {}

    class Handler(FileSystemEventHandler):
        def on_closed(self, event) -> None:  # type: ignore[no-untyped-def]
            try:
                with open(event.src_path, "rb") as f:
                    meta = orjson.loads(f.read())
            except (OSError, orjson.JSONDecodeError):
                return
            result = meta.get("result")
            if isinstance(result, dict):
                seen.setdefault((meta["task_id"], result["current"]), time.time())

    observer = Observer()
    observer.schedule(Handler(), str(directory), event_filter=[FileClosedEvent])
    observer.start()
    try:
        written = run_writers(directory, ids, rate, seconds)
        time.sleep(0.5)
    finally:
        observer.stop()
        observer.join()
    values, coalesced = latencies(written, seen)
    return {"latencies": values, "coalesced": coalesced, "writes": len(written)}


def run(rate: float = 2000, seconds: float = 30, floor_seconds: float = 10) -> list[Figure]:
    directory = BENCH_DIR / "live"
    ids = prepare(directory)
    floor = measure_floor(directory, ids, rate, floor_seconds)
    ids = prepare(directory)
    tv = asyncio.run(measure_taskview(directory, ids, rate, seconds))
    parents: dict[str, str] = {}
    ids = prepare(directory, parents)
    flows = asyncio.run(measure_taskview(directory, ids, rate, seconds, parents))
    achieved = tv["writes"] / seconds
    p50, p99 = percentile(tv["latencies"], 0.5), percentile(tv["latencies"], 0.99)
    f50, f99 = percentile(floor["latencies"], 0.5), percentile(floor["latencies"], 0.99)
    return [
        Figure(
            f"live: writes/s achieved ({WRITERS} writers)", achieved, "writes/s", None, "", f"{rate:,.0f} asked", None
        ),
        Figure("live: write -> row, p50", p50 * 1000, "ms", f50 * 1000, "bare watchdog", "", None),
        Figure("live: write -> row, p99", p99 * 1000, "ms", f99 * 1000, "bare watchdog", "< 250 ms", p99 < 0.25),
        Figure("live: final states lost", tv["lost"], "files", None, "", f"0 of {FILES}", tv["lost"] == 0),
        Figure(
            "live, workflows view: write -> row, p99",
            percentile(flows["latencies"], 0.99) * 1000,
            "ms",
            p99 * 1000,
            "flat view",
            "< 250 ms",
            percentile(flows["latencies"], 0.99) < 0.25,
        ),
        Figure(
            "live, workflows view: states lost", flows["lost"], "files", None, "", f"0 of {FILES}", flows["lost"] == 0
        ),
        Figure(
            "live: insights upkeep, share of the app's CPU",
            tv["upkeep"] * 100,
            "%",
            None,
            "",
            "< 10 %",
            tv["upkeep"] < 0.10,
        ),
        Figure(
            "live: versions coalesced (not lost)",
            tv["coalesced"],
            "writes",
            floor["coalesced"],
            "bare watchdog",
            f"of {tv['writes']:,} writes",
            None,
        ),
    ]
