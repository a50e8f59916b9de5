"""A first scan's records in the store's recent order, built in the tail's thread a piece at a time.

Sorting a million records is half a second or more of one C call holding the GIL:
the UI would stop for as long. Here each batch the readers send is sorted on
arrival (a few ms), and the batches are merged into the last order in pieces of
a few thousand records (``step``), so no call holds the GIL for long and the UI
thread gets it between pieces. A new order is made when the records waiting are
twice as many as those in the last one (so each record is merged about one and a
half times in all: at half as many, three times, the merges took 3.5 s of the
tail's CPU at 1M against 1.2 s), and at the end of the scan. The store takes each order with the
records it covers (``Store.adopt_order``) and hands it to the table's next full
sort (``Store.presorted``): no sort of a million records on the UI thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from itertools import compress, count, islice
from operator import attrgetter, eq

from ..results.record import TaskRecord
from ..store import recent_key

#: Records per merge piece (about: ``_piece``): one sort, 4-15 ms at 1M with the UI thread beside it.
STEP = 4096

_by_id = attrgetter("task_id")
_by_change = attrgetter("last_change")


def _sort_recent(records: list[TaskRecord]) -> None:
    """Sort in place by descending ``recent_key`` (last_change, then id).

    One sort by the time alone (floats compared in C; the runs a merge piece is made of
    are found and merged, not sorted again), then each stretch of equal times by id: a
    tie is rare in a real directory (a time to the microsecond) and common in a copied
    one. No key tuple per record: a million short-lived tuples made between the scan's
    long-lived strings left the heap ~90 bytes a task bigger for good (half-empty pools)."""
    records.sort(key=_by_change, reverse=True)
    changes = list(map(_by_change, records))
    ties = compress(count(1), map(eq, changes, islice(changes, 1, None)))
    start = end = -1
    for at in ties:  # at: a record whose time is the one before it's
        if at != end + 1:
            _by_id_in(records, start, end)
            start = at - 1
        end = at
    _by_id_in(records, start, end)


def _by_id_in(records: list[TaskRecord], start: int, end: int) -> None:
    """Records[start..end] (inclusive; none when start < 0) by descending id."""
    if start >= 0:
        records[start : end + 1] = sorted(records[start : end + 1], key=_by_id, reverse=True)


class RecentOrder:
    """Records in RECENT_ORDER (descending ``recent_key``), merged in pieces as they come."""

    def __init__(self, records: Iterable[TaskRecord] = (), *, step: int = STEP) -> None:
        self.step_size = step
        self.order: list[TaskRecord] = []  # the last order made
        self._fresh: list[list[TaskRecord]] = []  # sorted runs not merged yet
        self._fresh_count = 0
        self._merge: _Merge | None = None  # a merge in progress, and the runs it merges
        self._merging: list[list[TaskRecord]] = []
        self._excluded: set[str] = set()
        self._ready: list[TaskRecord] | None = None  # an order made and not taken yet
        self.add(list(records))

    def add(self, records: list[TaskRecord], *, ids_ascending: bool = False) -> None:
        """Records new to the order (their times set: ``store.first_sight``); ``ids_ascending``:
        they come in ascending id order (a reader's batch)."""
        if records:
            if ids_ascending:
                # Descending ids, then a stable sort by the time alone: ties stay by descending id,
                # with no pass over them (half the time of ``_sort_recent``).
                run = records[::-1]
                run.sort(key=_by_change, reverse=True)
            else:
                run = list(records)
                _sort_recent(run)
            self._fresh.append(run)
            self._fresh_count += len(records)

    def exclude(self, task_ids: Iterable[str]) -> None:
        """Leave these tasks out of the orders made from now on (their records went another way)."""
        self._excluded.update(task_ids)

    @property
    def busy(self) -> bool:
        """A merge is running, or one is due: ``step`` has work."""
        return self._merge is not None or (self._fresh_count > 0 and self._fresh_count >= 2 * len(self.order))

    def step(self, seconds: float = 0.004) -> None:
        """Merge for about ``seconds`` (whole pieces), starting a merge when one is due."""
        if self._merge is None:
            if not self.busy:
                return
            self._start()
        deadline = time.perf_counter() + seconds
        merge = self._merge
        assert merge is not None
        while merge.step():
            if time.perf_counter() > deadline:
                return
        self.order = self._ready = merge.out
        self._merge, self._merging = None, []

    def take(self) -> list[TaskRecord] | None:
        """The order made since the last take, if any (the caller's from now on: never changed here)."""
        ready, self._ready = self._ready, None
        return ready

    def finishing(self) -> _Merge:
        """The last merge, of every record added: step it until it says False, then ``done_with``.
        A merge in progress is given up and made again with what came since, so that each
        record is merged once more at most."""
        runs = [*self._merging] if self._merge is not None else [self.order]
        runs += self._fresh
        self._fresh, self._fresh_count = [], 0
        self._merge = merge = _Merge(runs, self.step_size, self._excluded)
        self._merging = runs
        return merge

    def done_with(self, merge: _Merge) -> list[TaskRecord]:
        self.order = merge.out
        self._merge, self._merging, self._ready = None, [], None
        return self.order

    def _start(self) -> None:
        self._merging = [self.order, *self._fresh]
        self._fresh, self._fresh_count = [], 0
        self._merge = _Merge(self._merging, self.step_size, self._excluded)


class _Cursor:
    """A run being merged, and how far."""

    __slots__ = ("run", "at")

    def __init__(self, run: list[TaskRecord]) -> None:
        self.run, self.at = run, 0


class _Merge:
    """Runs sorted by descending ``recent_key`` (keys distinct: they end with the id) merged
    into ``out``, a piece of about ``step`` records at a time (``_piece``)."""

    def __init__(self, runs: list[list[TaskRecord]], step: int, excluded: set[str]) -> None:
        self.live = [_Cursor(run) for run in runs if run]
        self.step_size = step
        self.excluded = set(excluded)
        self.out: list[TaskRecord] = []

    def step(self) -> bool:
        """One piece; False when the merge is done."""
        live = self.live
        if not live:
            return False
        step = self.step_size
        if len(live) == 1:
            only = live[0]
            piece = only.run[only.at : only.at + 8 * step]
            only.at += len(piece)
        else:
            stops = _piece(live, step)
            piece = []
            for cursor, stop in zip(live, stops, strict=True):
                if stop > cursor.at:
                    piece += cursor.run[cursor.at : stop]
                    cursor.at = stop
            _sort_recent(piece)
        if self.excluded:
            excluded = self.excluded
            piece = [record for record in piece if record.task_id not in excluded]
        self.out += piece
        self.live = [cursor for cursor in live if cursor.at < len(cursor.run)]
        return bool(self.live)


def _piece(live: list[_Cursor], step: int) -> list[int]:
    """Where each run's part of the next piece ends: the records of every run that come before
    a pivot, about ``step`` of them in all. The pivot is first taken from the run with the most
    left, as far into it as its share of what is left; while the piece would hold more than
    twice ``step``, again from the run that gives it the most (the newest of them), halfway into
    what it gives (a newer pivot: fewer records each time). From each of 245 runs the records
    before the widest's ``step``-th made pieces of 24k records in a 1M scan, 30-64 ms of sorting
    with the GIL held."""
    pivot_run = max(live, key=lambda cursor: len(cursor.run) - cursor.at)
    wide_left = len(pivot_run.run) - pivot_run.at
    left = sum(len(cursor.run) - cursor.at for cursor in live)
    take = max(1, min(wide_left, step * wide_left // left))
    while True:
        end = pivot_run.at + take
        pivot = recent_key(pivot_run.run[end - 1])
        stops = [end if cursor is pivot_run else _first_after(cursor.run, cursor.at, pivot) for cursor in live]
        counts = [stop - cursor.at for stop, cursor in zip(stops, live, strict=True)]
        most = max(counts)
        if sum(counts) <= 2 * step or most <= 1:
            return stops
        # Of the runs that give the most, the one with the newest records: runs in bands of
        # time (ids that follow time: each reader's batches, oldest first) all give all they
        # have, and halving the oldest band's took one run off the piece a pass.
        pivot_run = max(
            (cursor for cursor, count in zip(live, counts, strict=True) if count == most),
            key=lambda cursor: recent_key(cursor.run[cursor.at]),
        )
        take = most // 2


def _first_after(run: list[TaskRecord], lo: int, pivot: tuple) -> int:
    """The first index from ``lo`` of ``run`` (descending) whose key comes after ``pivot``."""
    hi = len(run)
    while lo < hi:
        mid = (lo + hi) // 2
        if recent_key(run[mid]) >= pivot:
            lo = mid + 1
        else:
            hi = mid
    return lo
