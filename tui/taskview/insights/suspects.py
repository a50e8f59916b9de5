"""Tasks worth a look: running far longer than their name usually takes, sent and never
seen, and names retrying in a storm. A short list, each naming the task to jump to."""

from __future__ import annotations

from collections.abc import Mapping
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
    why: str
    seconds: float  # how long (stuck, unseen), or how many retries: the list's order within a kind


def suspects(insights: Insights, records: Mapping[str, TaskRecord], unfinished: set[str], now: float) -> list[Suspect]:
    found: list[Suspect] = []
    for task_id in list(unfinished):
        record = records.get(task_id)
        if record is None:
            continue
        since = record.started if record.started is not None else record.first_seen
        if since is None:
            since = record.mtime
        running = now - since
        p95 = insights.p95(record.name)
        if p95 is not None:
            limit = max(MIN_STUCK, STUCK_FACTOR * p95)
            why = f"{record.status} for {_span(running)}; p95 of its name {_span(p95)}"
        else:
            limit = STUCK_WITHOUT_P95
            why = f"{record.status} for {_span(running)}; no runtime known for its name"
        if running > limit:
            found.append(Suspect("stuck", task_id, record.name, why, running))
    for task_id in list(insights.pending):
        record = records.get(task_id)
        if record is not None and now - record.mtime > UNSEEN:
            waited = now - record.mtime
            found.append(Suspect("unseen", task_id, record.name, f"sent {_span(waited)} ago, no file yet", waited))
    for name, count in insights.retry_counts(now - RETRY_WINDOW).items():
        if count >= STORM:
            why = f"{count} RETRY writes in the last {int(RETRY_WINDOW // 60)} minutes"
            found.append(Suspect("retrying", insights.last_retry(name), name, why, float(count)))
    order = {"stuck": 0, "retrying": 1, "unseen": 2}
    found.sort(key=lambda s: (order[s.kind], -s.seconds, s.task_id or ""))
    return found[:MAX_SUSPECTS]


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d{int(seconds % 86400 // 3600):02d}h"


__all__ = ["Suspect", "suspects"]
