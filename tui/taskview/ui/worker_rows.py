"""The workers screen's rows and the summary's queued line, from a ``control.monitor.WorkersReport``.

Plain strings, no Textual: unit-tested without a screen."""

from __future__ import annotations

import time

from ..control.monitor import WorkersReport
from ..control.workers import RESERVED, SCHEDULED, HeldTask, WorkerState
from ..store import HeldRow
from ..text import one_line
from . import formatting

WORKER_COLUMNS = ("WORKER", "STATUS", "POOL", "BUSY", "ACT", "RES", "SCH", "QUEUES", "DONE", "PREF", "LOAD", "UPTIME")
QUEUE_COLUMNS = ("QUEUE", "READY", "CONSUMERS", "GROWTH", "LAST MINUTES")
TASK_COLUMNS = ("STATE", "ID", "NAME", "ARGS", "RUNNING / ETA")
#: The queue history's sparkline: this many refreshes.
SPARK_WIDTH = 24


def clock_time(when: float | None) -> str:
    return "?" if when is None else formatting.clock(when, time.time())


def worker_status(worker: WorkerState) -> str:
    if worker.status == "online":
        return "online" if not worker.unanswered else "partial"
    if worker.status == "gone":
        return "gone"
    return f"silent {clock_time(worker.last_answer)}"


def worker_row(worker: WorkerState) -> tuple[str, ...]:
    size = worker.pool_size
    pool = f"{worker.pool} {size}" if size is not None else worker.pool
    busy = f"{worker.busy}/{size}" if size is not None else str(worker.busy)
    load = " ".join(f"{v:.1f}" for v in worker.loadavg[:3]) if worker.loadavg else "?"
    return (
        one_line(worker.name),
        worker_status(worker),
        pool,
        busy,
        str(len(worker.active)),
        str(len(worker.reserved)),
        str(len(worker.scheduled)),
        ", ".join(one_line(q) for q in worker.queues),
        "?" if worker.processed is None else f"{worker.processed:,}",
        "?" if worker.prefetch is None else str(worker.prefetch),
        load,
        formatting.duration(worker.uptime) or "?",
    )


def queue_names(report: WorkersReport) -> list[str]:
    return sorted({*report.depths, *report.consumers})


def queue_row(report: WorkersReport, name: str) -> tuple[str, ...]:
    depth = report.depths.get(name)
    if depth is None:
        ready = "?"
    elif depth.error:
        ready = "?"
    elif depth.ready is None:
        ready = "missing"
    else:
        ready = f"{depth.ready:,}"
    consumers = depth.consumers if depth is not None and depth.consumers is not None else None
    if consumers is None:
        consumers = report.consumers.get(name, 0)
        shown = f"{consumers} (workers)"
    else:
        shown = str(consumers)
    values = report.history.get(name, [])
    growth = values[-1] - values[0] if len(values) >= 2 else None
    return (
        one_line(name),
        ready,
        shown,
        "?" if growth is None else f"{growth:+,}",
        sparkline(values, SPARK_WIDTH),
    )


def queued_summary(report: WorkersReport | None) -> str | None:
    """``celery 12 · fast 3``: ready messages of the queues that hold some; None when none is known."""
    if report is None:
        return None
    parts = [
        f"{one_line(name)} {depth.ready:,}"
        for name, depth in sorted(report.depths.items())
        if depth.ready  # not None nor 0
    ]
    return " · ".join(parts) if parts else None


def task_row(task: HeldTask, now: float) -> tuple[str, ...]:
    if task.kind == "active":
        when = formatting.duration(now - task.started) if task.started is not None else "running"
    elif task.eta is not None:
        when = f"eta {clock_time(task.eta)}"
    else:
        when = "waiting"
    return (task.kind, one_line(task.task_id), one_line(task.name), task.args, when)


def held_rows(report: WorkersReport) -> dict[str, HeldRow] | None:
    """What ``Store.set_held`` takes: the reserved and scheduled tasks, None when not known."""
    if report.queued is None:
        return None
    rows: dict[str, HeldRow] = {}
    for task_id, task in report.queued.items():
        status = SCHEDULED if task.kind == "scheduled" else RESERVED
        args = task.args
        if task.eta is not None:
            args = f"eta {clock_time(task.eta)}" + (f"; {args}" if args else "")
        rows[task_id] = (status, task.name, task.worker, args or None)
    return rows


def header_line(report: WorkersReport | None, interval: float, now: float) -> str:
    """The screen's first line: how many workers, when the data is from, how often it is asked."""
    if report is None:
        return f"asking the workers… (every {interval:g} s)"
    online = sum(1 for w in report.workers if w.status == "online")
    said = f"{online} worker{'' if online == 1 else 's'} online of {len(report.workers)} seen"
    if report.last_answer is None:
        return f"{said} · no answer from the broker yet · every {interval:g} s"
    age = now - report.last_answer
    stale = report.error is not None or age > 3 * interval
    when = f"last answer at {clock_time(report.last_answer)}" + (" (stale)" if stale else "")
    return f"{said} · {when} · every {interval:g} s"


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int], width: int) -> str:
    """The last ``width`` values as bars, scaled from 0 to their maximum (all low when all zero)."""
    values = values[-width:]
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(len(_BARS) - 1, round(v * (len(_BARS) - 1) / top))] for v in values)
