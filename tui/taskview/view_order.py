"""The table's row order over a store that can hold a million tasks.

Keeps the whole store sorted (``everything``) apart from the filter, so that a
new filter only walks that list, never sorts, and clearing it is immediate.
Filtering a million rows still takes about half a second of Python, so it is
done in slices (``filter_steps``): the caller shows the first matches, as soon
as they fill a screen, and lets the UI breathe between slices.

Knows nothing of Textual; the app drives it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from .query import Predicate
from .results.record import TaskRecord
from .store import Store, update_order

#: Rows per filter slice: ~10 ms of predicate calls, so keys stay responsive.
FILTER_SLICE = 20_000
#: The first slice is smaller: most filters fill a screen from it, in a few ms.
FIRST_SLICE = 2_000


class ViewOrder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sort_key = "last_change"
        self.reverse = True
        # Every record, sorted, no filter. Records, not ids: a million-row sort
        # then needs no pass to turn them into ids, nor a filter a lookup per row.
        # A record here may be older than the store's (until ``changed``): what
        # is shown comes from the store.
        self.everything: list[TaskRecord] = []
        self.sort_seconds = 0.0  # how long the last full sort took

    def sort(self, sort_key: str, reverse: bool) -> list[TaskRecord]:
        started = time.perf_counter()
        self.sort_key, self.reverse = sort_key, reverse
        self.everything = self.store.ordered(sort_key, reverse)
        self.sort_seconds = time.perf_counter() - started
        return self.everything

    def changed(self, touched: Iterable[str]) -> list[TaskRecord]:
        """``everything`` after these tasks changed, came or went (binary-search moves, no sort)."""
        self.everything = update_order(self.store, self.everything, touched, self.sort_key, self.reverse)
        return self.everything

    def filter_steps(
        self, predicate: Predicate, slice_size: int = FILTER_SLICE, first_slice: int = FIRST_SLICE
    ) -> Iterator[list[TaskRecord]]:
        """The matching records in order, one slice of ``everything`` at a time
        (the first of at most ``first_slice`` rows).

        Yields the same growing list after each slice; its last value is complete.
        It walks ``everything`` as it was at the start: tasks that change or go
        meanwhile are as they were then, for the caller to move (``update_order``).
        """
        source = self.everything
        shown: list[TaskRecord] = []
        start, size = 0, min(first_slice, slice_size)
        while start < len(source):
            shown.extend(filter(predicate, source[start : start + size]))
            start, size = start + size, slice_size
            yield shown
        if not source:
            yield shown
