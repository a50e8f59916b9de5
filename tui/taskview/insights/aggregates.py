"""Aggregates of every record, kept as records come, change and go.

The store calls ``change(old, new)`` for each record it takes or drops (``add_bulk`` for a
first scan's records), so reading a figure never walks a million records. What is kept:

- rows per (task name, displayed status): counts, failure rates;
- the runtimes known, per name, sorted (percentiles). A runtime is known only for a task
  seen STARTED (a file read while it ran, or a STARTED write seen while watching) and then
  finished: from that STARTED file's write to ``date_done``. Files alone say no more
  (Celery writes no start time), so a task first seen finished has none;
- the last finish per name (``date_done``);
- failures per error group (``grouping.group_key``): count, first and last seen, the
  names it hits, an example task;
- finished and failed tasks per minute over the whole span (``date_done``), and per
  TICK seconds over the last RECENT_SPAN seconds before the newest finish (the throughput line);
- RETRY writes per name and minute (events, not rows: a retry storm);
- the PENDING rows (tasks sent from taskview that no file has told of yet).

A maximum or minimum cannot be taken back when its record goes: the name or group is
then marked and worked out again from the records (``records``) when next read.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, is_not
from operator import floordiv as _floordiv
from typing import Any

from ..results.record import READY_STATES, Links, TaskRecord, display_status
from .grouping import group_key

#: Minutes are the finest bucket over a whole directory's span.
MINUTE = 60
#: The throughput line's bucket, and how far back from the newest finish it keeps them.
TICK = 10
RECENT_SPAN = 900
#: How far back from the newest RETRY write the retry counts are kept.
RETRY_SPAN = 3600


@dataclass
class ErrorGroup:
    """The failures of one group (FAILURE rows whose exception line has this key)."""

    key: str
    count: int = 0
    first: float = float("inf")
    last: float = float("-inf")
    example: str | None = None  # the task id of the latest failure (ties: the greatest id)
    names: Counter[str | None] = field(default_factory=Counter)


@dataclass(frozen=True)
class NameFigures:
    """What one task name's rows say."""

    name: str | None
    total: int
    by_status: dict[str, int]
    failures: int
    finished: int
    failure_rate: float | None  # failures / finished; None before anything finished
    runtimes: int  # how many runtimes are known (observed STARTED -> finish)
    p50: float | None
    p95: float | None
    max: float | None
    last_done: float | None


def failure_time(record: TaskRecord) -> float:
    """When a task finished (its date_done), else when its file was written."""
    done = record.date_done
    return done if done is not None else record.mtime


def error_key(record: TaskRecord) -> str | None:
    """The error group of a FAILURE row; None for any other row."""
    if record.status != "FAILURE" or record.error is not None:
        return None
    head = record.prefix_or_links
    exc = head.exc if type(head) is Links else None
    return group_key(exc) if exc is not None else "(no exception)"


class Insights:
    """The aggregates of the records in ``records`` (the store's dict, read only to mend a
    maximum or minimum whose record went)."""

    def __init__(self, records: Mapping[str, TaskRecord]) -> None:
        self._records = records
        self.by_name_status: Counter[tuple[str | None, str]] = Counter()
        self._runtimes: dict[str | None, list[float]] = {}
        self._last_done: dict[str | None, float] = {}
        self._groups: dict[str, ErrorGroup] = {}
        self.done_per_minute: Counter[int] = Counter()
        self.failed_per_minute: Counter[int] = Counter()
        self._recent_done: Counter[int] = Counter()
        self._recent_failed: Counter[int] = Counter()
        self._newest_tick = 0
        self.retries: Counter[tuple[str | None, int]] = Counter()
        self._retry_last: dict[str | None, str] = {}
        self._newest_retry = 0
        self.pending: set[str] = set()
        # Names and groups whose maximum or minimum went with a record: worked out again when read.
        self._dirty_names: set[str | None] = set()
        self._dirty_groups: set[str] = set()
        #: Bumped at every change: a screen redraws only when it moved.
        self.version = 0

    # --- keeping -----------------------------------------------------------------

    def change(self, old: TaskRecord | None, new: TaskRecord | None) -> None:
        """A record replaced by another (``old`` or ``new`` None: one came, or went)."""
        self.version += 1
        if old is not None:
            self._take(old)
        if new is not None:
            self._put(new)
            if new.status == "RETRY" and (old is None or old.status != "RETRY" or old.mtime != new.mtime):
                self._retried(new)

    def add_bulk(self, records: list[TaskRecord], statuses: list[str]) -> None:
        """``change(None, r)`` for each of a first scan's records, in bulk: a first scan adds a
        million at times, so what every record needs is done in C (counts, minutes), and only
        the few that need more (failures, runtimes, retries, PENDING) go through ``_put``.
        ``statuses``: their ``display_statuses`` (the store's counts take them too)."""
        self.version += 1
        names = list(map(_name, records))
        self.by_name_status.update(zip(names, statuses, strict=True))
        # The finished ones (a record with an error shows no status of Celery's): name and date_done, in C.
        finished = list(map(READY_STATES.__contains__, statuses))
        dones = list(compress(map(_date_done, records), finished))
        if dones:
            done_names = list(compress(names, finished))
            if None in dones:
                kept = list(map(is_not, dones, repeat(None)))
                dones, done_names = list(compress(dones, kept)), list(compress(done_names, kept))
        if dones:
            self.done_per_minute.update(map(int, map(_floordiv, dones, repeat(MINUTE))))
            last_done = self._last_done
            minus_inf = float("-inf")
            for name, done in zip(done_names, dones, strict=True):
                if done > last_done.get(name, minus_inf):
                    last_done[name] = done
            newest = int(max(dones) // TICK)
            if newest > self._newest_tick:
                self._newest_tick = newest
                self._prune_recent()
            oldest = (self._newest_tick - RECENT_SPAN // TICK) * TICK + TICK
            self._recent_done.update(int(done // TICK) for done in dones if done >= oldest)
        # What a few records need more of: failures, PENDING, RETRY, and runtimes (a start seen).
        for record in compress(records, map(_MORE.__contains__, statuses)):
            self._put(record, counted=True, bulk=True)
            if record.status == "RETRY":
                self._retried(record)
        for record in compress(records, map(is_not, map(_started, records), repeat(None))):
            if record.status not in _MORE:
                self._put(record, counted=True, bulk=True)

    def _put(self, record: TaskRecord, counted: bool = False, bulk: bool = False) -> None:
        """One record's part; ``counted``: but its (name, status) row; ``bulk``: and its finish
        in the minutes and the throughput (``add_bulk`` counted them)."""
        name, status = record.name, display_status(record)
        if not counted:
            self.by_name_status[name, status] += 1
        if status == "PENDING":
            self.pending.add(record.task_id)
            return
        if status not in READY_STATES:
            return
        done = record.date_done
        if done is not None and not bulk:
            if done > self._last_done.get(name, float("-inf")):
                self._last_done[name] = done
            minute = int(done // MINUTE)
            self.done_per_minute[minute] += 1
            tick = int(done // TICK)
            if tick > self._newest_tick:
                self._newest_tick = tick
                self._prune_recent()
            if tick > self._newest_tick - RECENT_SPAN // TICK:
                self._recent_done[tick] += 1
            if status == "FAILURE":
                self.failed_per_minute[minute] += 1
                if tick > self._newest_tick - RECENT_SPAN // TICK:
                    self._recent_failed[tick] += 1
        if status == "FAILURE" and done is not None and bulk:
            self.failed_per_minute[int(done // MINUTE)] += 1
            tick = int(done // TICK)
            if tick > self._newest_tick - RECENT_SPAN // TICK:
                self._recent_failed[tick] += 1
        started = record.started
        if started is not None and done is not None:
            insort(self._runtimes.setdefault(name, []), max(0.0, done - started))
        if status == "FAILURE":
            key = error_key(record)
            assert key is not None
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = ErrorGroup(key)
            group.count += 1
            group.names[name] += 1
            when = failure_time(record)
            if when < group.first:
                group.first = when
            if when > group.last or (when == group.last and record.task_id > (group.example or "")):
                group.last, group.example = when, record.task_id

    def _take(self, record: TaskRecord) -> None:
        name, status = record.name, display_status(record)
        _decrement(self.by_name_status, (name, status))
        if status == "PENDING":
            self.pending.discard(record.task_id)
            return
        if status not in READY_STATES:
            return
        done = record.date_done
        if done is not None:
            if done >= self._last_done.get(name, float("-inf")):
                self._dirty_names.add(name)
            minute = int(done // MINUTE)
            _decrement(self.done_per_minute, minute)
            tick = int(done // TICK)
            if tick in self._recent_done:
                _decrement(self._recent_done, tick)
            if status == "FAILURE":
                _decrement(self.failed_per_minute, minute)
                if tick in self._recent_failed:
                    _decrement(self._recent_failed, tick)
        started = record.started
        if started is not None and done is not None:
            runtimes = self._runtimes[name]
            del runtimes[bisect_left(runtimes, max(0.0, done - started))]
            if not runtimes:
                del self._runtimes[name]
        if status == "FAILURE":
            gkey = error_key(record)
            assert gkey is not None
            group = self._groups[gkey]
            group.count -= 1
            _decrement(group.names, name)
            if group.count == 0:
                del self._groups[gkey]
                self._dirty_groups.discard(gkey)
            else:
                when = failure_time(record)
                if when <= group.first or when >= group.last or group.example == record.task_id:
                    self._dirty_groups.add(gkey)

    def _retried(self, record: TaskRecord) -> None:
        minute = int(record.mtime // MINUTE)
        if minute > self._newest_retry:
            self._newest_retry = minute
            oldest = minute - RETRY_SPAN // MINUTE
            for key in [k for k in self.retries if k[1] <= oldest]:
                del self.retries[key]
        if minute > self._newest_retry - RETRY_SPAN // MINUTE:
            self.retries[record.name, minute] += 1
            self._retry_last[record.name] = record.task_id

    def _prune_recent(self) -> None:
        oldest = self._newest_tick - RECENT_SPAN // TICK
        for counter in (self._recent_done, self._recent_failed):
            if counter and min(counter) <= oldest:
                for tick in [t for t in counter if t <= oldest]:
                    del counter[tick]

    def _mend(self) -> None:
        """Work out again the maxima and minima whose record went (one walk of the records)."""
        names, keys = self._dirty_names, self._dirty_groups
        if not names and not keys:
            return
        self._dirty_names, self._dirty_groups = set(), set()
        for name in names:
            self._last_done.pop(name, None)
        for key in keys:
            group = self._groups.get(key)
            if group is not None:
                group.first, group.last, group.example = float("inf"), float("-inf"), None
        last_done = self._last_done
        for record in list(self._records.values()):
            if record.status not in READY_STATES or record.error is not None:
                continue
            name = record.name
            if name in names and record.date_done is not None and record.date_done > last_done.get(name, float("-inf")):
                last_done[name] = record.date_done
            if keys and record.status == "FAILURE":
                gkey = error_key(record)
                if gkey in keys:
                    group = self._groups[gkey]
                    when = failure_time(record)
                    group.first = min(group.first, when)
                    if when > group.last or (when == group.last and record.task_id > (group.example or "")):
                        group.last, group.example = when, record.task_id

    # --- reading -----------------------------------------------------------------

    def names(self) -> list[NameFigures]:
        """Figures per task name (None: rows without a name), by name."""
        self._mend()
        statuses: dict[str | None, dict[str, int]] = {}
        for (name, status), count in self.by_name_status.items():
            statuses.setdefault(name, {})[status] = count
        figures = []
        for name in sorted(statuses, key=lambda n: (n is None, n or "")):
            by_status = statuses[name]
            failures = by_status.get("FAILURE", 0)
            finished = sum(by_status.get(s, 0) for s in READY_STATES)
            runtimes = self._runtimes.get(name, [])
            figures.append(
                NameFigures(
                    name,
                    sum(by_status.values()),
                    by_status,
                    failures,
                    finished,
                    failures / finished if finished else None,
                    len(runtimes),
                    percentile(runtimes, 0.5),
                    percentile(runtimes, 0.95),
                    runtimes[-1] if runtimes else None,
                    self._last_done.get(name),
                )
            )
        return figures

    def p95(self, name: str | None) -> float | None:
        return percentile(list(self._runtimes.get(name, ())), 0.95)  # a copy: suspects run in a thread

    def groups(self) -> list[ErrorGroup]:
        """The error groups, the most failures first (ties: the latest first)."""
        self._mend()
        return sorted(self._groups.values(), key=lambda g: (-g.count, -g.last, g.key))

    def group(self, key: str) -> ErrorGroup | None:
        self._mend()
        return self._groups.get(key)

    def span(self) -> tuple[float, float] | None:
        """The first and last minute (as epoch seconds) with a finish, or None."""
        if not self.done_per_minute:
            return None
        return min(self.done_per_minute) * MINUTE, max(self.done_per_minute) * MINUTE

    def buckets(self, width: int, until: float | None = None) -> Buckets:
        """Finished and failed tasks per bucket over the whole span (up to ``until``: a replay's
        clock), the bucket the smallest that fits ``width``: 10 or 30 seconds when the whole span
        lies in the last RECENT_SPAN (kept per TICK), else a minute, 5 minutes, an hour, a day."""
        span = self.span()
        if span is None:
            return Buckets(MINUTE, 0, [], [])
        first, last = span
        if until is not None:
            last = max(first, min(last, until))
        oldest_tick = self._newest_tick - RECENT_SPAN // TICK + 1
        if first >= oldest_tick * TICK and self._recent_done:
            fine = self._fine_buckets(width, until)
            if fine is not None:
                return fine
        size = next(
            (s for s in BUCKET_SIZES if (last - first) // s + 1 <= width),
            BUCKET_SIZES[-1],
        )
        start = int(first // size)
        count = int(last // size) - start + 1
        done, failed = [0] * count, [0] * count
        per = size // MINUTE
        for minute, n in self.done_per_minute.items():
            at = minute // per - start
            if 0 <= at < count:
                done[at] += n
        for minute, n in self.failed_per_minute.items():
            at = minute // per - start
            if 0 <= at < count:
                failed[at] += n
        return Buckets(size, start * size, done, failed)

    def _fine_buckets(self, width: int, until: float | None) -> Buckets | None:
        """``buckets`` from the TICK counts, for a span within the last RECENT_SPAN; None if too wide."""
        first = min(self._recent_done)
        last = max(self._recent_done)
        if until is not None:
            last = max(first, min(last, int(until // TICK)))
        for per in (1, 3):
            start, count = first // per, last // per - first // per + 1
            if count <= width:
                done, failed = [0] * count, [0] * count
                for tick, n in self._recent_done.items():
                    if 0 <= tick // per - start < count:
                        done[tick // per - start] += n
                for tick, n in self._recent_failed.items():
                    if 0 <= tick // per - start < count:
                        failed[tick // per - start] += n
                return Buckets(TICK * per, start * per * TICK, done, failed)
        return None

    def throughput(self, now: float, bins: int = RECENT_SPAN // TICK) -> tuple[list[int], list[int]]:
        """Finished and failed tasks per TICK seconds, the last ``bins`` before ``now``."""
        end = int(now // TICK)
        ticks = range(end - bins + 1, end + 1)
        return [self._recent_done.get(t, 0) for t in ticks], [self._recent_failed.get(t, 0) for t in ticks]

    def retry_counts(self, since: float) -> Counter[str | None]:
        """RETRY writes per name since ``since`` (minutes: the one ``since`` falls in counts whole)."""
        first = int(since // MINUTE)
        counts: Counter[str | None] = Counter()
        for (name, minute), n in list(self.retries.items()):
            if minute >= first:
                counts[name] += n
        return counts

    def last_retry(self, name: str | None) -> str | None:
        """The task of the latest RETRY write of ``name``."""
        return self._retry_last.get(name)


@dataclass(frozen=True)
class Buckets:
    """Counts per bucket of ``size`` seconds from ``start`` (epoch seconds)."""

    size: int
    start: float
    done: list[int]
    failed: list[int]


#: The chart's buckets: a minute, 5 minutes, an hour, a day, a week.
BUCKET_SIZES = (60, 300, 3600, 86400, 604800)


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted ``values``; None for none."""
    if not values:
        return None
    rank = max(1, math.ceil(fraction * len(values)))
    return values[min(rank, len(values)) - 1]


def _decrement(counter: Counter[Any], key: object) -> None:
    left = counter[key] - 1
    if left > 0:
        counter[key] = left
    else:
        del counter[key]


_name = attrgetter("name")
_started = attrgetter("started")
#: The statuses whose records ``add_bulk`` takes one by one.
_MORE = frozenset({"FAILURE", "PENDING", "RETRY"})
_date_done = attrgetter("date_done")


def recount(records: Iterable[TaskRecord]) -> Insights:
    """The aggregates of ``records`` made from nothing: what the kept ones must equal (tests)."""
    insights = Insights({r.task_id: r for r in records})
    for record in list(insights._records.values()):
        insights.change(None, record)
    return insights


__all__ = [
    "BUCKET_SIZES",
    "Buckets",
    "ErrorGroup",
    "Insights",
    "NameFigures",
    "error_key",
    "failure_time",
    "percentile",
    "recount",
]
