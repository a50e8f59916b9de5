"""The rows the task table shows: the store sorted, filtered, and kept up to date as it changes.

Knows nothing of Textual. A screen tells it which tasks changed (``touch``),
asks it a few times a second to put them in place (``refresh``), and
shows ``rows``. A new sort or filter (``sort``, ``set_filter``) starts from
``everything``, the whole store kept sorted apart from the filter, so a new
filter never sorts and clearing it is immediate. Filtering a million rows still
takes about half a second of Python, so a filter runs in slices
(``step_filter``): the screen shows the first matches as soon as they fill a
screen, and lets keys through between slices.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from ..query import Predicate
from ..results.record import TaskRecord, display_status
from ..store import Store
from .marks import Marks
from .sorting import ordered, update_order

#: Re-sorting is O(N log N): on a big store it is done less often.
BIG_STORE = 50_000
#: Up to this many changed rows are moved into place one by one (update_order);
#: more at once (the first scan, a flood) and the whole store is re-sorted.
INCREMENTAL_LIMIT = 500
#: Rows per filter slice: ~10 ms of predicate calls (~2 µs a row for free text), so keys stay responsive
#: and a sparse filter's first screenful is looked for in small steps.
FILTER_SLICE = 5_000
#: The first slice is smaller: most filters fill a screen from it, in a few ms.
FIRST_SLICE = 2_000


class TableModel:
    """The task table's rows, order, filter and visible counts over a ``Store``."""

    def __init__(
        self,
        store: Store,
        *,
        filter_slice: int = FILTER_SLICE,
        first_slice: int = FIRST_SLICE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        #: The marked tasks, by id: they stay marked whatever the sort, filter or updates do.
        self.marks = Marks()
        self.sort_key = "last_change"
        self.reverse = True
        self.predicate: Predicate | None = None
        self.filter_slice = filter_slice
        self.first_slice = first_slice
        #: What the table shows, in display order. Records, not ids: a million-row
        #: sort then needs no pass to turn them into ids, nor a filter a lookup per
        #: row. A record here may be older than the store's (until the next
        #: refresh): the table shows the store's. Changed in place by a refresh
        #: (a copy of a million rows is 20 ms): copy it to keep it as it is.
        self.rows: list[TaskRecord] = []
        #: Every record, sorted, no filter.
        self.everything: list[TaskRecord] = []
        #: How long the last full sort took: a big store is re-sorted at most
        #: every four times that.
        self.sort_seconds = 0.0
        self._clock = clock
        self._last_sort = -float("inf")
        self._pending: set[str] = set()  # tasks changed, come or gone since the order was last set
        self._filter: Iterator[list[TaskRecord]] | None = None  # a filter being applied in slices
        self._filter_rows: list[TaskRecord] = []  # what it has matched so far
        self._screenful = 0  # rows a filter's first screen waits for (0: shown, or not asked)
        self._filter_pending: set[str] = set()  # tasks that changed while it ran
        self._filter_counts: Counter[str] = Counter()  # rows per status within the filter
        #: What the touched tasks were when the orders were last brought up to date (the store fills it).
        self._was = store.track_replaced()
        # The tasks whose rows changed since the last ``take_row_changes``, each moved into place
        # (a view over the rows follows them); None: the rows were made anew since.
        self._row_changes: set[str] | None = None
        # Tasks a filter's end put in its rows while still pending: their record there (None: none).
        self._in_rows: dict[str, TaskRecord | None] = {}

    # --- what to show -----------------------------------------------------------

    @property
    def filtering(self) -> bool:
        """A filter is being applied in slices: ``step_filter`` has more to do."""
        return self._filter is not None

    @property
    def total(self) -> int:
        """Every task in the store, whatever the filter."""
        return len(self.store)

    def counts(self) -> Counter[str]:
        """Rows per displayed status: the whole store's, or within the filter."""
        return self.store.counts() if self.predicate is None else self._filter_counts

    # --- changes ---------------------------------------------------------------

    def touch(self, task_ids: Iterable[str]) -> None:
        """These tasks changed, came or went: the next ``refresh`` puts them in place."""
        self._pending.update(task_ids)

    def take_row_changes(self) -> set[str] | None:
        """The tasks whose rows changed (came, went, moved) since the last take, every other row
        as it was; None when the rows were made anew since (a sort, a filter, a flood) or some
        change is still to come into them."""
        changes, self._row_changes = self._row_changes, set()
        if changes is None or self._pending or self._filter is not None:
            return None
        if self.predicate is None and len(self.rows) != len(self.store):
            return None  # a first scan's records the rows take with its next order: not every task is a row
        return changes

    def refresh(self) -> bool:
        """Put the tasks touched since the last refresh in place; True when ``rows`` changed.

        A few are moved by binary search; a flood re-sorts the whole store, but a
        big store at most every ``4 x sort_seconds`` (never more than a fifth of
        the UI's time). A filter in progress walks the old order: what changed
        meanwhile goes in when it ends.
        """
        if not self._pending:
            return False
        was = dict(self._was)  # as it is for ``rows`` too (_catch_up empties it)
        applied = self._catch_up()
        if applied is None:
            if len(self.store) < BIG_STORE or self._clock() - self._last_sort > max(0.5, 4 * self.sort_seconds):
                self._resort()
                return True
            return False
        if self.predicate is None:
            self.rows = self.everything
        elif self._filter is None:
            out: list[TaskRecord] = []
            into: list[TaskRecord] = []
            if self._in_rows:
                was.update(self._in_rows)
                self._in_rows = {}
            self.rows = update_order(
                self.store.records, self.rows, applied, self.sort_key, self.reverse, self.predicate, was, (out, into)
            )
            # The rows' counts moved by what went out and came in: not a count of every row again.
            # A new Counter: the summary bar keeps the last one, which must stay what it showed.
            counts = self._filter_counts.copy()
            counts.subtract(map(display_status, out))
            counts.update(map(display_status, into))
            self._filter_counts = +counts
        else:
            self._filter_pending.update(applied)
            return False
        changes = self._row_changes
        if changes is not None:
            changes |= applied
            if len(changes) > INCREMENTAL_LIMIT:
                self._row_changes = None  # as many as a flood: the view may as well start again
        return True

    # --- sort and filter ----------------------------------------------------------

    def sort(self, sort_key: str, reverse: bool) -> None:
        """Sort the whole store anew, then filter it (``filtering`` says whether to step)."""
        self.sort_key, self.reverse = sort_key, reverse
        self._resort()

    def resort(self) -> None:
        """Sort the whole store again by the same key (after the store was rebuilt)."""
        self._resort()

    def set_filter(self, predicate: Predicate | None, *, narrows: bool = False) -> None:
        """Filter the sorted store: at once without a predicate, else in slices (``step_filter``).

        ``narrows``: ``predicate`` matches only tasks the filter before it matched (``query.narrows``:
        the query was typed further). When that filter had ended and no change waits for a
        refresh, its rows are every match of it as the store is now: the new one walks them only."""
        up_to_date = self.predicate is not None and self._filter is None and not self._pending
        within = self.rows if narrows and up_to_date else None
        self.predicate = predicate
        self._start_filter(within)

    def step_filter(self, seconds: float, screenful: int | None = None) -> bool:
        """Filter slices for ``seconds``; True when ``rows`` changed.

        ``screenful``: the first step of a filter; it shows what matched so far and, until that
        many rows match, each step stops as soon as they do and shows them (a sparse filter's
        first screen may be many slices down); the rest show when all slices are done.
        """
        steps = self._filter
        if steps is None:
            return False
        if screenful is not None:
            self._screenful = screenful
        wanted = self._screenful
        deadline = time.perf_counter() + seconds
        for shown in steps:
            self._filter_rows = shown  # the same growing list at every step
            if time.perf_counter() > deadline or (wanted and len(shown) >= wanted):
                break
        else:
            self._filter = None
            self._screenful = 0
            shown = self._filter_rows  # the last slice may have ended the previous step
            # Changes too many to move one by one stay pending for a full re-sort
            # (which filters again): until then, this order must not show them as they were.
            touched, self._filter_pending = self._filter_pending | self._pending, set()
            if touched:
                shown = update_order(self.store.records, shown, touched, self.sort_key, self.reverse, self.predicate)
            # Those still pending are in the rows as they are now: the refresh that brings them into
            # ``everything`` must find them there (not where they were: it put a second row in).
            records, predicate = self.store.records, self.predicate
            assert predicate is not None  # a filter ran
            self._in_rows = {
                task_id: record if record is not None and predicate(record) else None
                for task_id in self._pending
                for record in (records.get(task_id),)
            }
            self.rows = shown
            self._row_changes = None
            self._filter_counts = Counter(map(display_status, shown))
            return True
        if screenful is not None or (wanted and len(shown) >= wanted):
            if len(shown) >= wanted:
                self._screenful = 0
            self.rows = list(shown)
            return True
        return False

    # --- the machinery ------------------------------------------------------------

    def _resort(self) -> None:
        self._sort_everything()
        self._pending.clear()
        self._was.clear()
        self._start_filter()

    def _sort_everything(self) -> None:
        started = time.perf_counter()
        self.everything = ordered(self.store, self.sort_key, self.reverse)
        self.sort_seconds = time.perf_counter() - started
        self._last_sort = self._clock()

    def _catch_up(self, *, force: bool = False) -> set[str] | None:
        """Move the tasks touched since the last order into ``everything``; returns them.

        None when there are too many to move one by one and no full sort was forced.
        """
        touched = self._pending
        if len(touched) > INCREMENTAL_LIMIT:
            if not force:
                return None
            self._sort_everything()
        else:
            # In place, unless a filter walks it: its slices must stay as they were.
            everything = self.everything if self._filter is None else list(self.everything)
            self.everything = update_order(
                self.store.records, everything, touched, self.sort_key, self.reverse, was=self._was
            )
        self._pending = set()
        self._was.clear()
        return touched

    def _start_filter(self, within: list[TaskRecord] | None = None) -> None:
        """Start filtering ``everything`` (or ``within``: rows in its order, a part of it that holds every match)."""
        if self._pending:
            self._catch_up(force=True)  # the filter walks the sorted store: bring it up to date first
        self._filter = None
        self._row_changes = None
        self._in_rows = {}
        if self.predicate is None:
            self.rows = self.everything
            return
        self._filter = self._filter_steps(self.predicate, self.everything if within is None else within)
        self._filter_rows = []
        self._screenful = 0
        self._filter_pending = set()

    def _filter_steps(self, predicate: Predicate, source: list[TaskRecord]) -> Iterator[list[TaskRecord]]:
        """The matching records of ``source`` in order, one slice at a time
        (the first of at most ``first_slice`` rows).

        Yields the same growing list after each slice; its last value is complete.
        It walks ``source`` as it was at the start (nothing changes it in place
        while a filter runs): tasks that change or go meanwhile are as they were
        then, moved into place when it ends.
        """
        shown: list[TaskRecord] = []
        start, size = 0, min(self.first_slice, self.filter_slice)
        while start < len(source):
            shown.extend(filter(predicate, source[start : start + size]))
            start, size = start + size, self.filter_slice
            yield shown
        if not source:
            yield shown
