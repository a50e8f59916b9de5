"""Tasks worth a look: running far longer than their name usually takes, sent and never
seen, and names retrying in a storm. A short list, each naming the task to jump to."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ..results.record import TaskRecord
from .aggregates import Insights

#: Running longer than this many times its name's p95 runtime (and at least MIN_STUCK seconds).
STUCK_FACTOR = 3.0
MIN_STUCK = 60.0
#: Without a p95 runtime for its name, a task running this long is listed all the same.
STUCK_WITHOUT_P95 = 900.0
#: A task sent from taskview whose file has not come after this long.
UNSEEN = 60.0
#: This many RETRY writes of one name within RETRY_WINDOW seconds is a storm.
STORM = 5
RETRY_WINDOW = 300.0
#: The most suspects listed.
MAX_SUSPECTS = 50


@dataclass(frozen=True)
class Suspect:
    kind: str  # "stuck", "unseen", "retrying"
    task_id: str | None  # the task to jump to
    name: str | None
    status: str | None  # what a stuck task's file says
    amount: float  # seconds running (stuck) or waited (unseen), or RETRY writes: the order within a kind
    p95: float | None = None  # a stuck task's name's p95 runtime, when one is known


def suspects(
    insights: Insights, records: Mapping[str, TaskRecord], unfinished: Collection[str], now: float
) -> list[Suspect]:
    """The suspects among ``records`` as of ``now``, the longest running first. Safe in a thread
    beside the one changing the store (it copies what it walks)."""
    found: list[Suspect] = []
    # A million tasks may have a hundred thousand unfinished: one lean pass over them, each
    # name's limit worked out once, and only the MAX_SUSPECTS longest running kept.
    limits: dict[str | None, tuple[float, float | None]] = {}
    longest: list[tuple[float, str]] = []
    get = records.get
    for task_id in list(unfinished):
        record = get(task_id)
        if record is None:
            continue
        name = record.name
        limit = limits.get(name)
        if limit is None:
            p95 = insights.p95(name)
            limit = limits[name] = (max(MIN_STUCK, STUCK_FACTOR * p95) if p95 is not None else STUCK_WITHOUT_P95, p95)
        since = record.started
        if since is None:
            since = record.first_seen if record.first_seen is not None else record.mtime
        running = now - since
        if running > limit[0]:
            longest.append((running, task_id))
    for running, task_id in heapq.nlargest(MAX_SUSPECTS, longest):
        record = records[task_id]
        found.append(Suspect("stuck", task_id, record.name, record.status, running, limits[record.name][1]))
    for task_id in list(insights.pending):
        record = records.get(task_id)
        if record is not None and now - record.mtime > UNSEEN:
            found.append(Suspect("unseen", task_id, record.name, record.status, now - record.mtime))
    for name, count in insights.retry_counts(now - RETRY_WINDOW).items():
        if count >= STORM:
            found.append(Suspect("retrying", insights.last_retry(name), name, "RETRY", float(count)))
    order = {"stuck": 0, "retrying": 1, "unseen": 2}
    found.sort(key=lambda s: (order[s.kind], -s.amount, s.task_id or ""))
    return found[:MAX_SUSPECTS]


__all__ = ["RETRY_WINDOW", "Suspect", "suspects"]
