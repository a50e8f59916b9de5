"""What the workers say of themselves: their ``inspect`` replies parsed, and kept across refreshes.

Nothing here imports Textual or talks to a broker: ``Controller.inspect_workers``
asks, ``WorkerBoard.update`` takes the replies (``{command: {worker: reply}}``),
and the screens read ``WorkerBoard.workers``, ``queued_tasks`` and ``lines``.

A worker's replies are untrusted content: every field is checked for its type,
and what does not fit is left out rather than raising.
"""

from __future__ import annotations

import os
import reprlib
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..text import one_line

#: What one refresh asks every worker (``celery inspect <command>``).
COMMANDS = ("stats", "active", "reserved", "scheduled", "active_queues", "registered")
#: A worker that missed this many refreshes in a row is gone (before: not answering since T).
GONE_AFTER_MISSES = 3
#: Tasks the workers hold that have no file yet: their status in the main table.
RESERVED = "RESERVED"
SCHEDULED = "SCHEDULED"
QUEUED_STATES = frozenset({RESERVED, SCHEDULED})

_HOSTNAME = socket.gethostname()
_args_repr = reprlib.Repr()
_args_repr.maxstring = 30
_args_repr.maxother = 30
_args_repr.maxlist = 4
_args_repr.maxdict = 4


@dataclass(frozen=True)
class HeldTask:
    """A task a worker holds: running (``active``), prefetched (``reserved``) or waiting for its ETA."""

    task_id: str
    name: str
    kind: str  # "active", "reserved" or "scheduled"
    worker: str
    args: str = ""  # a one-line preview of args and kwargs
    queue: str | None = None
    eta: float | None = None  # epoch seconds (scheduled)
    started: float | None = None  # epoch seconds, when known (active)
    pid: int | None = None


@dataclass
class WorkerState:
    """One worker as last reported; ``status``: "online", "not answering" or "gone"."""

    name: str
    status: str = "online"
    last_answer: float = 0.0  # epoch seconds of its last reply
    missed: int = 0  # refreshes in a row without a reply
    pool: str = "?"  # "prefork", "threads", "solo", ...
    pool_size: int | None = None
    pids: list[int] = field(default_factory=list)
    processed: int | None = None
    uptime: float | None = None
    prefetch: int | None = None
    loadavg: tuple[float, ...] | None = None
    queues: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    active: list[HeldTask] = field(default_factory=list)
    reserved: list[HeldTask] = field(default_factory=list)
    scheduled: list[HeldTask] = field(default_factory=list)
    #: the commands it did not answer in the last refresh (a partial answer), empty when whole
    unanswered: list[str] = field(default_factory=list)

    @property
    def busy(self) -> int:
        return len(self.active)

    @property
    def tasks(self) -> list[HeldTask]:
        return [*self.active, *self.reserved, *self.scheduled]


class WorkerBoard:
    """Every worker seen since taskview started, as of the last refresh; the broker's state too.

    ``update`` takes a refresh's replies, ``failed`` a refresh that could not ask
    (broker down, login refused, no answer in time). Call from one thread at a time.
    """

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self.workers: dict[str, WorkerState] = {}
        self.last_answer: float | None = None  # epoch seconds of the last refresh that asked the broker
        self.error: str | None = None  # why the last refresh failed (one line, masked), else None
        self.refreshes = 0

    def failed(self, message: str) -> None:
        """A refresh that could not ask: the workers keep their last state (not blamed)."""
        self.error = one_line(message)

    def update(self, replies: Mapping[str, Mapping[str, Any]]) -> None:
        """Take one refresh's ``{command: {worker: reply}}``."""
        now = self._clock()
        self.error = None
        self.last_answer = now
        self.refreshes += 1
        answered: set[str] = set()
        for by_worker in replies.values():
            if isinstance(by_worker, Mapping):
                answered.update(str(w) for w in by_worker)
        for name in sorted(answered):
            worker = self.workers.get(name)
            if worker is None:
                worker = self.workers[name] = WorkerState(name)
            worker.status, worker.missed, worker.last_answer = "online", 0, now
            worker.unanswered = [c for c in COMMANDS if c in replies and name not in replies[c]]
            for command in COMMANDS:
                got = replies.get(command)
                if isinstance(got, Mapping) and name in got:
                    _take(worker, command, got[name])
        for name, worker in self.workers.items():
            if name not in answered:
                worker.missed += 1
                worker.unanswered = []
                worker.status = "gone" if worker.missed >= GONE_AFTER_MISSES else "not answering"
                if worker.status == "gone":  # what it held is back in its queue, or lost
                    worker.active, worker.reserved, worker.scheduled = [], [], []

    def online(self) -> list[WorkerState]:
        return [w for w in self.workers.values() if w.status == "online"]

    def queued_tasks(self) -> dict[str, HeldTask]:
        """Reserved and scheduled tasks of the workers that answered the last refresh, by id."""
        held: dict[str, HeldTask] = {}
        for worker in self.online():
            for task in (*worker.reserved, *worker.scheduled):
                held[task.task_id] = task
        return held

    def consumed_queues(self) -> dict[str, int]:
        """Queue -> how many workers that answered consume it."""
        counts: dict[str, int] = {}
        for worker in self.online():
            for queue in worker.queues:
                counts[queue] = counts.get(queue, 0) + 1
        return counts

    def lines(self) -> list[str]:
        """What is wrong, one line each: the broker, workers answering late or partially, workers gone."""
        said = []
        if self.error:
            said.append(self.error + (f" (last answer at {_hms(self.last_answer)})" if self.last_answer else ""))
        for worker in self.workers.values():
            if worker.status == "not answering":
                said.append(f"{worker.name} has not answered since {_hms(worker.last_answer)}")
            elif worker.status == "gone":
                said.append(f"{worker.name} is gone: no answer since {_hms(worker.last_answer)}")
            elif worker.unanswered:
                said.append(f"{worker.name} answered in part: no reply to {', '.join(worker.unanswered)} in time")
        return said


def _take(worker: WorkerState, command: str, reply: Any) -> None:
    if command == "stats":
        if isinstance(reply, dict):
            _take_stats(worker, reply)
    elif command in ("active", "reserved", "scheduled"):
        if isinstance(reply, list):
            tasks = [t for t in (_held(item, command, worker.name) for item in reply) if t is not None]
            setattr(worker, command, tasks)
    elif command == "active_queues":
        if isinstance(reply, list):
            worker.queues = sorted(
                {str(q["name"]) for q in reply if isinstance(q, dict) and isinstance(q.get("name"), str)}
            )
    elif command == "registered":
        if isinstance(reply, list):
            worker.registered = sorted(one_line(str(name).split(" [", 1)[0]) for name in reply)


def _take_stats(worker: WorkerState, stats: dict[str, Any]) -> None:
    pool = stats.get("pool")
    if isinstance(pool, dict):
        size = pool.get("max-concurrency")
        pids = pool.get("processes")
        worker.pids = [p for p in pids if isinstance(p, int)] if isinstance(pids, list) else []
        # max-concurrency stays as the worker started: after a pool grow/shrink the processes tell
        worker.pool_size = len(worker.pids) if worker.pids else size if isinstance(size, int) else None
        implementation = pool.get("implementation")
        if isinstance(implementation, str):
            worker.pool = _pool_kind(implementation)
        elif worker.pids:
            worker.pool = "prefork"
    total = stats.get("total")
    if isinstance(total, dict):
        worker.processed = sum(v for v in total.values() if isinstance(v, int))
    uptime = stats.get("uptime")
    worker.uptime = float(uptime) if isinstance(uptime, (int, float)) else None
    prefetch = stats.get("prefetch_count")
    worker.prefetch = prefetch if isinstance(prefetch, int) else None
    load = stats.get("loadavg")
    if isinstance(load, list) and all(isinstance(v, (int, float)) for v in load):
        worker.loadavg = tuple(float(v) for v in load)
    elif worker.name.rpartition("@")[2] == _HOSTNAME:
        try:  # Celery's stats carry none (Flower takes it from events): this host's, for a local worker
            worker.loadavg = os.getloadavg()
        except OSError:
            worker.loadavg = None


def _pool_kind(implementation: str) -> str:
    """'celery.concurrency.prefork:TaskPool' -> 'prefork'."""
    module = implementation.partition(":")[0].rpartition(".")[2]
    return {"thread": "threads", "asynpool": "prefork"}.get(module, module) or "?"


def _held(item: Any, kind: str, worker: str) -> HeldTask | None:
    """A task of an ``active``/``reserved`` reply (``Request.info()``), or of ``scheduled`` ({eta, request})."""
    if not isinstance(item, dict):
        return None
    eta = None
    if kind == "scheduled":
        eta = _epoch(item.get("eta"))
        item = item.get("request")
        if not isinstance(item, dict):
            return None
    task_id = item.get("id")
    if not isinstance(task_id, str) or not task_id:
        return None
    name = item.get("name") if isinstance(item.get("name"), str) else item.get("type")
    delivery = item.get("delivery_info")
    queue = None
    if isinstance(delivery, dict):
        routing = delivery.get("routing_key")
        queue = routing if isinstance(routing, str) else None
    pid = item.get("worker_pid")
    return HeldTask(
        task_id=one_line(task_id),
        name=one_line(name) if isinstance(name, str) else "?",
        kind=kind,
        worker=worker,
        args=_preview(item.get("args"), item.get("kwargs")),
        queue=one_line(queue) if queue else None,
        eta=eta,
        started=_started(item.get("time_start"), worker) if kind == "active" else None,
        pid=pid if isinstance(pid, int) else None,
    )


def _preview(args: Any, kwargs: Any) -> str:
    parts = []
    if isinstance(args, str):  # the `safe` form: a repr already
        parts.append(args)
    elif isinstance(args, (list, tuple)) and args:
        parts.append(", ".join(_args_repr.repr(a) for a in args))
    if isinstance(kwargs, str) and kwargs not in ("{}", ""):
        parts.append(kwargs)
    elif isinstance(kwargs, dict) and kwargs:
        parts.append(", ".join(f"{k}={_args_repr.repr(v)}" for k, v in list(kwargs.items())[:4]))
    return one_line(", ".join(parts))[:80]


def _started(time_start: Any, worker: str) -> float | None:
    """A worker's ``time_start``: epoch seconds (Celery 5.x converts it), or, from older workers,
    its host's monotonic clock (meaningful on this host only)."""
    if not isinstance(time_start, (int, float)) or isinstance(time_start, bool):
        return None
    if time_start > 1e9:
        return float(time_start)
    if worker.rpartition("@")[2] != _HOSTNAME:
        return None
    return time.time() - (time.monotonic() - float(time_start))


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _hms(when: float | None) -> str:
    return "?" if when is None else time.strftime("%H:%M:%S", time.localtime(when))
