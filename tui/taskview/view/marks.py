"""The marked tasks: a set of task ids the bulk actions act on (no Textual).

Ids, not rows: marks stay with their tasks whatever the sort, the filter or
the live updates do to the rows; a task whose file disappears leaves them
(``drop_gone``). Marking every row of a million-row filter is one set update.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

from ..results.record import TaskRecord


class Marks:
    """Marked task ids; ``version`` changes whenever they do (a redraw can tell)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self.version = 0

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def toggle(self, task_id: str) -> bool:
        """Mark or unmark ``task_id``; True when it is marked now."""
        self.version += 1
        if task_id in self._ids:
            self._ids.discard(task_id)
            return False
        self._ids.add(task_id)
        return True

    def mark_rows(self, rows: Iterable[TaskRecord]) -> int:
        """Mark every row of ``rows`` (what the filter keeps); returns how many were not marked before."""
        before = len(self._ids)
        self._ids.update([r.task_id for r in rows])
        self.version += 1
        return len(self._ids) - before

    def clear(self) -> int:
        """Unmark everything; returns how many were marked."""
        count = len(self._ids)
        self._ids = set()
        self.version += 1
        return count

    def drop_gone(self, task_ids: Iterable[str], present: Container[str]) -> int:
        """Unmark those of ``task_ids`` (tasks whose file went) no longer in ``present`` (the store)."""
        ids = self._ids
        gone = [t for t in task_ids if t in ids and t not in present]
        if gone:
            ids.difference_update(gone)
            self.version += 1
        return len(gone)
