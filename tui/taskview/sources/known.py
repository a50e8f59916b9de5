"""What the tail last read of every file, for reconciles, in 8 bytes a task.

A reconcile compares each file's (mtime, size) with the record last read from
it, and reports the tasks whose files are gone. The store holds the same
records, so a dict here would cost only its entries: ~40 bytes a task, more
than anything but the record itself. Here the bulk lives in a list sorted by
task id (one pointer a task, found by binary search) and what changed since
in a small dict, folded into the list once it grows past an eighth of it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from operator import attrgetter

from ..results.record import TaskRecord

_by_id = attrgetter("task_id")
#: The dict is folded in when it holds more than this, and an eighth of the list:
#: each fold costs a pass over the list, so they come ever further apart.
MIN_FOLD = 4096


class KnownRecords:
    def __init__(self) -> None:
        self._sorted: list[TaskRecord] = []  # by task id
        self._recent: dict[str, TaskRecord | None] = {}  # changed since the last fold; None: removed

    def get(self, task_id: str) -> TaskRecord | None:
        recent = self._recent
        if task_id in recent:
            return recent[task_id]
        ordered = self._sorted
        at = bisect_left(ordered, task_id, key=_by_id)
        if at < len(ordered) and ordered[at].task_id == task_id:
            return ordered[at]
        return None

    def put(self, record: TaskRecord) -> None:
        self._note(record.task_id, record)

    def add_sorted(self, records: list[TaskRecord]) -> None:
        """Records of tasks read by a first scan, sorted by id (taken as they are: no
        fold, no sort, when nothing was known before them but a few recent reads)."""
        if not records:
            return
        if self._sorted:
            self._sorted += records
            self._sorted.sort(key=_by_id)
        else:
            self._sorted = records

    def pop(self, task_id: str) -> TaskRecord | None:
        """Forget a task; returns what was known of it."""
        known = self.get(task_id)
        if known is not None:
            self._note(task_id, None)
        return known

    def _note(self, task_id: str, record: TaskRecord | None) -> None:
        recent = self._recent
        recent[task_id] = record
        if len(recent) > MIN_FOLD and len(recent) > len(self._sorted) >> 3:
            self._fold()

    def __iter__(self) -> Iterator[str]:
        """Every known task id (a reconcile's walk: it runs in Python, never one long
        sort holding the GIL while the UI waits, as a fold of a million would)."""
        recent = self._recent
        for record in self._sorted:
            if record.task_id not in recent:
                yield record.task_id
        for task_id, latest in list(recent.items()):
            if latest is not None:
                yield task_id

    def _fold(self) -> None:
        recent = self._recent
        if not recent:
            return
        self._recent = {}
        old, self._sorted = self._sorted, []
        merged = [record for record in old if record.task_id not in recent]
        del old  # before the sort's keys are made: the peak is two lists, not three
        merged += sorted((record for record in recent.values() if record is not None), key=_by_id)
        merged.sort(key=_by_id)  # two sorted runs: Timsort merges them in one pass
        self._sorted = merged
