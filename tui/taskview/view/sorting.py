"""Row order: the sort keys, a full sort, and moving changed rows into an order already sorted.

Pure functions over records (and the store's id -> record mapping): the table
model calls them, and tests check them against a brute-force sort.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import compress, repeat
from operator import attrgetter, is_not, not_
from typing import Any

from ..query import Predicate
from ..results.record import TaskRecord, display_status
from ..store import Store

#: Sortable fields: name -> value getter (None sorts last either way).
SORT_KEYS: dict[str, Callable[[TaskRecord], Any]] = {
    # attrgetter where it will do: a million calls per sort, in C.
    "id": attrgetter("task_id"),
    "name": attrgetter("name"),
    "status": display_status,
    "worker": attrgetter("worker"),
    "progress": lambda r: r.progress[0] / r.progress[1] if r.progress else None,
    # The table's TIME column: when it finished, or when it was first seen.
    "time": lambda r: r.date_done if r.date_done is not None else r.first_seen,
    "first_seen": attrgetter("first_seen"),
    "date_done": attrgetter("date_done"),
    "runtime": attrgetter("runtime"),
    "last_change": attrgetter("last_change"),
    "size": attrgetter("size"),
}
#: Keys every stored record has (the store sets first_seen and last_change): no
#: pass to set unknown values apart.
NEVER_UNKNOWN = frozenset({"id", "status", "time", "first_seen", "last_change", "size"})
#: Computed keys that are unknown wherever this field is None: a C pass over the
#: field finds the few records worth a Python call (at a million records, the
#: call on every one was most of a re-sort by progress or runtime).
UNKNOWN_WITHOUT = {"progress": "running", "runtime": "started"}

_by_id = attrgetter("task_id")


def ordered(
    store: Store, sort_key: str = "last_change", reverse: bool = True, predicate: Predicate | None = None
) -> list[TaskRecord]:
    """The store's records in display order: filtered, sorted, unknown values last, ties by id."""
    if predicate is None and (made := store.presorted(sort_key, reverse)) is not None:
        return made  # a first scan's order, made off the UI thread
    records = store.by_id()
    if predicate is not None:
        records = [r for r in records if predicate(r)]
        if reverse:
            records.reverse()
    else:  # a copy to sort in place (one list fewer at a million rows: 8 MB)
        records = records[::-1] if reverse else records[:]
    return sort_id_ordered(records, sort_key, reverse)


def ordered_ids(
    store: Store, sort_key: str = "last_change", reverse: bool = True, predicate: Predicate | None = None
) -> list[str]:
    """Task ids in display order (``ordered``, as ids)."""
    return list(map(_by_id, ordered(store, sort_key, reverse, predicate)))


def sort_id_ordered(records: list[TaskRecord], sort_key: str, reverse: bool) -> list[TaskRecord]:
    """``records``, already in id order (descending when ``reverse``), sorted by
    ``sort_key``: the same list, sorted in place, where it can be.

    Ties are broken by id in the same direction so the order never depends on
    the directory's listing order: a stable sort of id-ordered records, rather
    than one sort by (value, id) tuples, which at a million rows cost ~80 MB
    and a third of the time.
    """
    getter = SORT_KEYS[sort_key]
    if sort_key in NEVER_UNKNOWN:
        records.sort(key=getter, reverse=reverse)
        return records
    # Each key computed once: every getter call reads a record (a cache miss
    # at a million, in any order), and progress and runtime are Python.
    field = UNKNOWN_WITHOUT.get(sort_key)
    keys: list[Any]
    if field is None:
        keys = list(map(getter, records))
    else:
        keys = [None] * len(records)
        for index in compress(range(len(records)), map(is_not, map(attrgetter(field), records), repeat(None))):
            keys[index] = getter(records[index])
    unknown: list[TaskRecord] = []
    if None in keys:
        is_known = list(map(is_not, keys, repeat(None)))
        unknown = list(compress(records, map(not_, is_known)))
        records = list(compress(records, is_known))
        keys = list(compress(keys, is_known))
        del is_known
    # list.sort calls its key once per item, in list order, before sorting:
    # next(keys, item) hands it the key already computed for that item.
    records.sort(key=partial(next, iter(keys)), reverse=reverse)
    if unknown:
        if reverse:
            unknown.reverse()
        records += unknown
    return records


def update_order(
    current: Mapping[str, TaskRecord],
    order: list[TaskRecord],
    touched: Iterable[str],
    sort_key: str,
    reverse: bool,
    predicate: Predicate | None = None,
    was: Mapping[str, TaskRecord | None] | None = None,
    moved: tuple[list[TaskRecord], list[TaskRecord]] | None = None,
) -> list[TaskRecord]:
    """``order`` (an ``ordered``), changed in place and returned, after the tasks in
    ``touched`` changed, came or went; ``current`` is the store's id -> record.

    The same list ``ordered`` would give, without a full sort: the touched tasks'
    records are taken out, then the current record of each one still shown goes back
    in, by binary search. ``was``: the record each touched task had when ``order`` was
    made (None: it had none; ``Store.track_replaced``): each is then found by binary
    search too, in O(k log N) with no walk of the order (a million rows: 0.2-0.5 s a
    walk). A task it does not name is looked for as the store holds it; one not found
    where it sorts makes it walk the whole order (a filter's rows: those left out do).
    ``moved``: two lists it fills with the records taken out and those put in (a filter's
    counts follow them, rather than count every row again).
    """
    touched = set(touched)
    before = comes_before(sort_key, reverse)
    out, into = moved if moved is not None else ([], [])
    if touched and (was is None or not _take_out(order, touched, current, was, before, out)):
        if moved is not None:
            out += [r for r in order if r.task_id in touched]
        order[:] = [r for r in order if r.task_id not in touched]
    for task_id in sorted(touched):
        record = current.get(task_id)
        if record is None or (predicate is not None and not predicate(record)):
            continue
        order.insert(_insertion_point(order, record, before), record)
        into.append(record)
    return order


_NOT_NAMED = object()


def _take_out(
    order: list[TaskRecord],
    touched: set[str],
    current: Mapping[str, TaskRecord],
    was: Mapping[str, TaskRecord | None],
    before: Callable[[TaskRecord, TaskRecord], bool],
    out: list[TaskRecord],
) -> bool:
    """Take the touched tasks' records out of ``order`` where they sort (into ``out``); False
    (``order`` and ``out`` untouched) when one may be in it elsewhere."""
    places = []
    for task_id in touched:
        old = was.get(task_id, _NOT_NAMED)
        if old is _NOT_NAMED:
            old = current.get(task_id)
            if old is None:
                return False  # gone, and what it was is not known
        if old is None:
            continue  # new since the order was made
        assert isinstance(old, TaskRecord)
        at = _insertion_point(order, old, before)
        if at < len(order) and order[at] is old:
            places.append(at)
        else:
            # Not where it sorts: left out by a filter, or the order holds another record
            # of it (a filter's end put the current one in), or it is not sorted as
            # expected. Only a walk can tell.
            return False
    for at in sorted(places, reverse=True):
        out.append(order.pop(at))
    return True


def position(order: list[TaskRecord], record: TaskRecord, sort_key: str, reverse: bool) -> int | None:
    """Where ``record``'s task is in ``order`` (sorted by ``sort_key``), or None.

    A binary search when the record sorts where it did when ``order`` was made
    (its task did not change since); a walk of the whole list otherwise.
    """
    task_id = record.task_id
    index = _insertion_point(order, record, comes_before(sort_key, reverse))
    if index < len(order) and order[index].task_id == task_id:
        return index
    return next((i for i, r in enumerate(order) if r.task_id == task_id), None)


def _insertion_point(
    order: list[TaskRecord], record: TaskRecord, before: Callable[[TaskRecord, TaskRecord], bool]
) -> int:
    """The first index whose record does not come ``before`` this one (a binary search)."""
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if before(order[mid], record):
            lo = mid + 1
        else:
            hi = mid
    return lo


def comes_before(sort_key: str, reverse: bool) -> Callable[[TaskRecord, TaskRecord], bool]:
    getter = SORT_KEYS[sort_key]

    def before(a: TaskRecord, b: TaskRecord) -> bool:
        """Does ``a`` come before ``b`` in a full sort (known values first, ties by id)?"""
        va, vb = getter(a), getter(b)
        if (va is None) != (vb is None):
            return vb is None
        if va is None:
            return a.task_id < b.task_id
        ka, kb = (va, a.task_id), (vb, b.task_id)
        return bool(ka > kb if reverse else ka < kb)

    return before
