"""Task id -> summary record, the transitions seen while watching, counts kept as rows change.

Knows nothing of Textual: the UI and the headless modes both read it; the
order rows are shown in is the view's (``view/``), built on ``by_id``.
All times are the files' own mtimes where there is one, so what the store
says is what the disk said, not when taskview happened to look.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import chain, compress
from operator import attrgetter, not_

from .insights.aggregates import Insights
from .query import Predicate
from .results.files import TASK_PREFIX
from .results.record import READY_STATES, Links, TaskRecord, display_status, display_statuses
from .workflows import WorkflowIndex

Transition = tuple[float, str]
#: A task a worker holds, unstarted, as ``Store.set_held`` takes it: (status, name, worker, args preview).
HeldRow = tuple[str, "str | None", "str | None", "str | None"]
#: The statuses of rows with no file whose task has not started: not unfinished (no stale check).
NOT_STARTED = frozenset({"PENDING", "RESERVED", "SCHEDULED"})


class Store:
    def __init__(self) -> None:
        self.records: dict[str, TaskRecord] = {}
        # Only tasks that changed while watched have an entry: a million
        # quiet tasks cost nothing here.
        self.transitions: dict[str, list[Transition]] = {}
        # Rows per displayed status, kept as rows come and go: the summary bar
        # reads it ten times a second, a recount would be O(N) each time.
        self._counts: Counter[str] = Counter()
        # Every task still to finish (see ``unfinished_record``): the stale check looks
        # at these every few seconds, without walking a million records. Ids only
        # (a tenth of a big directory): their records say the rest.
        self.unfinished: set[str] = set()
        # Bumped when an unfinished task comes, changes or goes: the stale check makes
        # its candidates again only then (not a walk of them all every few seconds).
        self.unfinished_version = 0
        # The worker an earlier file named, for unfinished tasks whose file names
        # none (a custom state written without result_extended).
        self._workers: dict[str, str] = {}
        # Unfinished tasks whose worker is gone, as last judged (``set_stale``). Changed
        # in place, never replaced: a filter compiled with it sees each judgement.
        self.stale: set[str] = set()
        # Tasks whose only read so far was mid-write (empty, cut): id -> first seen while
        # watching. Their first whole read is their first sight, not a change.
        self._in_between: dict[str, bool] = {}
        # Every record in id order, brought up to date only when a sort asks:
        # the tie-break of every sort, without sorting (or looking up) a
        # million ids each time. Changes since: ids new, gone, or re-read.
        self._by_id: list[TaskRecord] = []
        self._ids_new: set[str] = set()
        self._ids_gone: set[str] = set()
        self._ids_replaced: set[str] = set()
        # Records a first scan added in bulk (add_scanned), as runs sorted by id: a scan
        # read by id ranges gives one run a range, and by_id() only joins them.
        self._runs: list[list[TaskRecord]] = []
        # The first scan's own recent order of its records (adopt_order), for the next
        # full sort by RECENT_ORDER (presorted); the tasks added or changed outside it
        # since the scan began (put in place when it is taken), None when not tracked.
        self._order: list[TaskRecord] | None = None
        self._order_final = False
        self._order_broken = False
        self._outside: set[str] | None = None
        # Which tasks belong together (chains, groups, chords): the way down, as records come and go.
        self.workflows = WorkflowIndex(self.records)
        # Per-name figures, error groups, time buckets (insights/): kept as records come and go.
        self.insights = Insights(self.records)
        # Rows with no file yet, shown from what taskview knows: the tasks it sent (PENDING) and
        # those workers hold without having started them (RESERVED, SCHEDULED; ``set_held``).
        # A file read for one of them ends its entry: the file says from then on.
        self._sent: set[str] = set()
        self._held: set[str] = set()
        # What a view's order may still hold of each task changed live (see ``track_replaced``).
        self._replaced: dict[str, TaskRecord | None] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self.records

    def get(self, task_id: str) -> TaskRecord | None:
        return self.records.get(task_id)

    def add(self, record: TaskRecord, *, live: bool = False, placeholder: bool = False) -> bool:
        """Take a record read from disk; True when the visible row changed.

        A file caught mid-write (empty, truncated) keeps the last good value:
        Celery rewrites files in place, and the next close-after-write brings
        the whole content. A file first read mid-write shows as such until then,
        and its first whole read is its first sight, not a change from unreadable.
        ``live``: the file is new since taskview started watching, so its first
        write is when the task started running. ``placeholder``: not read from a file (a row
        of ``add_pending`` or ``set_held``).
        """
        task_id = record.task_id
        old = self.records.get(task_id)
        partial = record.error is not None and record.error.partial
        if old is not None and (self._held or self._sent) and not placeholder:
            self._sent.discard(task_id)
            self._held.discard(task_id)
        if self._outside is not None:
            self._note_outside(task_id)
        if old is None:
            if partial:
                self._in_between[task_id] = live
            _observe_first(record, live)
            self.records[task_id] = record
            self.workflows.add(record)
            self._counts[display_status(record)] += 1
            self._index(record)
            self.insights.change(None, record)
            if task_id in self._ids_gone:
                # Back before anyone sorted: its old record is still in _by_id.
                self._ids_gone.discard(task_id)
                self._ids_replaced.add(task_id)
            else:
                self._ids_new.add(task_id)
            return True
        first_live = self._in_between.get(task_id)
        if first_live is not None:
            if not partial:
                del self._in_between[task_id]
                _observe_first(record, first_live)
                self._counts[display_status(old)] -= 1
                self._counts[display_status(record)] += 1
                self._replace(record)
                self._index(record, old)
                self.insights.change(old, record)
                return True
        elif partial and old.error is None:
            return False
        _carry_what_the_file_lacks(old, record)
        record.first_seen = old.first_seen
        record.started = old.started
        old_status = display_status(old)
        new_status = display_status(record)
        if new_status != old_status:
            self._counts[old_status] -= 1
            self._counts[new_status] += 1
            when = record.mtime  # the write that changed it
            record.last_change = when
            if record.status == "STARTED" or (old.status == "PENDING" and unfinished_record(record)):
                # The STARTED write is the start; for a task taskview sent (its PENDING row),
                # so is the first write of any running state (PROGRESS at once, STARTED not seen).
                record.started = when
            history = self.transitions.get(task_id)
            if history is None:
                history = self.transitions[task_id] = [(old.last_change or old.mtime, old_status)]
            history.append((when, new_status))
        else:
            record.last_change = old.last_change
        self.insights.change(old, record)
        if new_status == old_status and _same_row(old, record):
            self._replace(record)
            return False
        self._replace(record)
        self._index(record, old)
        return True

    def _replace(self, record: TaskRecord) -> None:
        self.workflows.replace(self.records[record.task_id], record)
        self.records[record.task_id] = record
        if record.task_id not in self._ids_new:
            self._ids_replaced.add(record.task_id)

    def _index(self, record: TaskRecord, old: TaskRecord | None = None) -> None:
        task_id = record.task_id
        if unfinished_record(record):
            self.unfinished_version += 1
            self.unfinished.add(task_id)
            if record.worker is not None:
                self._workers.pop(task_id, None)
            elif old is not None and old.worker is not None:
                self._workers[task_id] = old.worker
        elif task_id in self.unfinished:
            self.unfinished_version += 1
            self.unfinished.discard(task_id)
            self._workers.pop(task_id, None)
            self.stale.discard(task_id)

    @property
    def started(self) -> set[str]:
        """The unfinished tasks whose file says STARTED."""
        records = self.records
        return {task_id for task_id in list(self.unfinished) if records[task_id].status == "STARTED"}

    def worker_of(self, task_id: str) -> str | None:
        """The worker running an unfinished task: the one its file names, or an earlier file named."""
        record = self.records.get(task_id)
        if record is None:
            return None
        return record.worker if record.worker is not None else self._workers.get(task_id)

    def stale_candidates(self) -> list[StaleCandidate]:
        """(task id, worker, pool process while STARTED) of every unfinished task, for
        ``control.stale.StaleWatch.check``: a new list, safe to hand to another thread."""
        candidates = []
        records = self.records
        for task_id in list(self.unfinished):
            record = records.get(task_id)
            if record is not None:
                pid = record.pid if record.status == "STARTED" else None
                candidates.append((task_id, self.worker_of(task_id), pid))
        return candidates

    def set_stale(self, task_ids: Iterable[str]) -> set[str]:
        """The unfinished tasks whose worker is gone are now ``task_ids`` (others are
        ignored: finished or gone meanwhile); returns the ids whose staleness changed."""
        if task_ids == self.stale:
            return set()  # the same judgement as last time (a set, compared in C)
        now = {task_id for task_id in task_ids if task_id in self.unfinished}
        changed = now ^ self.stale
        if changed:
            self.stale.intersection_update(now)
            self.stale.update(now)
        return changed

    def known_status(self, task_id: str) -> str | None:
        """The displayed status of the task's last whole read; None when unknown, or only read mid-write."""
        record = self.records.get(task_id)
        if record is None or task_id in self._in_between:
            return None
        return display_status(record)

    def add_pending(self, task_id: str, name: str | None, when: float) -> None:
        """A task just sent: Celery writes no file until it starts, so it is PENDING until one comes."""
        if task_id in self.records:
            return
        self.add(TaskRecord(task_id, TASK_PREFIX, status="PENDING", name=name, mtime=when), placeholder=True)
        self._sent.add(task_id)

    def has_file(self, task_id: str) -> bool:
        """Whether the task's row comes from its file (not a placeholder: sent, or held by a worker)."""
        return task_id in self.records and task_id not in self._sent and task_id not in self._held

    def set_held(self, held: Mapping[str, HeldRow], when: float) -> list[str]:
        """The tasks workers hold without having started them are now ``held`` (id -> (status,
        name, worker, args preview)); returns the ids whose rows changed.

        A task with no row gets one in that status; a row with no file yet (a task taskview
        sent, PENDING, or one held before) takes it. A task with a file keeps what its file
        says. A row held before and no longer held goes back to PENDING when taskview sent
        it, else leaves the table (started without a file, revoked, or back in its queue).
        """
        changed = []
        records = self.records
        for task_id, (status, name, worker, args) in held.items():
            record = records.get(task_id)
            if record is not None and not (task_id in self._held or task_id in self._sent):
                continue  # its file says
            if record is not None and record.status == status and record.worker == worker:
                continue
            name = name or (record.name if record is not None else None)
            self.add(
                TaskRecord(task_id, TASK_PREFIX, status=status, name=name, worker=worker, args=args, mtime=when),
                placeholder=True,
            )
            self._held.add(task_id)
            changed.append(task_id)
        for task_id in [t for t in self._held if t not in held]:
            self._held.discard(task_id)
            record = records.get(task_id)
            if record is None:
                continue
            if task_id in self._sent:
                pending = TaskRecord(task_id, TASK_PREFIX, status="PENDING", name=record.name, mtime=when)
                self.add(pending, placeholder=True)
            else:
                self.remove(task_id)
            changed.append(task_id)
        return changed

    def add_many(self, records: Iterable[TaskRecord], *, live: bool = False) -> list[str]:
        """Add a batch; returns the ids whose rows changed."""
        replaced = self._replaced
        if replaced is not None:
            records = list(records)
            get = self.records.get
            for record in records:
                replaced.setdefault(record.task_id, get(record.task_id))
        return [r.task_id for r in records if self.add(r, live=live)]

    def track_replaced(self) -> dict[str, TaskRecord | None]:
        """A dict the store fills from now on with the record each task had before a batch
        (``add_many``) or a removal first changed it (None: new), for a view to find where
        the task sits in an order it made before (``update_order``): the view empties it when
        it has put them in place. Other changes are not in it (the view then looks up the
        task's current record)."""
        if self._replaced is None:
            self._replaced = {}
        return self._replaced

    def add_scanned(self, records: list[TaskRecord]) -> list[str]:
        """Take a first scan's records in bulk (what ``add`` does for a first sight, for a
        whole batch at once); returns their ids, and those of the tasks it held already whose
        rows changed.

        For records new to the store, read by a first scan (not live), whose first-sight
        times are set (``first_sight``); sorted by id here if they are not (a scan by id
        ranges sends them sorted: then by_id() only joins its runs). A record of a task
        the store holds already (a task sent while the scan runs) goes through ``add``.
        """
        records.sort(key=_by_id)  # already in order: one pass
        ids = list(map(_by_id, records))
        current = self.records
        if not current.keys().isdisjoint(ids) or (self._ids_gone and not self._ids_gone.isdisjoint(ids)):
            known = [r for r in records if r.task_id in current or r.task_id in self._ids_gone]
            changed = [record.task_id for record in known if self.add(record)]
            # Its place in a scan's recent order was taken with the times the scan gave it.
            self._order_broken = True
            records = [r for r in records if r.task_id not in current]
            ids = list(map(_by_id, records))
        else:
            changed = []
        if self._outside is None and not self._order_final:
            self._outside = set()
        current.update(zip(ids, records, strict=True))
        self.workflows.add_many(records)
        statuses = display_statuses(records)
        self._counts.update(statuses)
        self.insights.add_bulk(records, statuses)
        # Only the few rows that may be unfinished, or unreadable, are looked at one by one.
        unfinished = self.unfinished
        for record in compress(records, map(not_, map(_SETTLED.__contains__, statuses))):
            status = record.status
            if status not in READY_STATES and status is not None and record.error is None and status != "PENDING":
                if record.kind == "task":
                    unfinished.add(record.task_id)
                    self.unfinished_version += 1
            elif record.error is not None and record.error.partial:
                self._in_between[record.task_id] = False
        if records:
            self._add_run(records)
        return ids + changed if changed else ids

    def _note_outside(self, task_id: str) -> None:
        """A task added, changed or gone outside a first scan's order: put in place when it is taken;
        too many, and the order is dropped (a full sort costs less than so many moves)."""
        outside = self._outside
        assert outside is not None
        outside.add(task_id)
        if len(outside) > MAX_OUTSIDE:
            self._order_broken = True
            if self._order_final:
                self._order, self._outside = None, None

    def _add_run(self, records: list[TaskRecord]) -> None:
        """Records sorted by id, after the run whose last id is the greatest below their first."""
        first = records[0].task_id
        after = None
        for run in self._runs:
            last = run[-1].task_id
            if last < first and (after is None or last > after[-1].task_id):
                after = run
        if after is not None:
            after += records
        else:
            self._runs.append(records)

    def adopt_order(self, order: list[TaskRecord], *, final: bool = False) -> None:
        """A first scan's records (every one it added so far, and none it did not) in
        RECENT_ORDER, for the next full sort by it (``presorted``). ``final``: the scan is done."""
        self._order = order
        self._order_final = final

    def has_order(self, sort_key: str, reverse: bool, *, coming: bool = False) -> bool:
        """Whether ``presorted`` would give this order now; ``coming``: or will, when the first
        scan feeding the store sends its next one."""
        if (sort_key, reverse) != RECENT_ORDER or self._order_broken:
            return False
        return self._order is not None or (coming and self._outside is not None and not self._order_final)

    def presorted(self, sort_key: str, reverse: bool) -> list[TaskRecord] | None:
        """Every record in ``sort_key`` order when the store has it ready (a first scan's
        order, with the tasks added or changed outside the scan put in place), else None.
        Once: the list is the caller's."""
        order = self._order
        if order is None or (sort_key, reverse) != RECENT_ORDER or self._order_broken:
            return None
        outside = self._outside or set()
        self._order = None
        records = self.records
        if outside:
            # Their records in the scan's order are as the scan read them: changed or gone since.
            order = [record for record in order if record.task_id not in outside]
        for task_id in sorted(outside):
            record = records.get(task_id)
            if record is not None:
                order.insert(_recent_position(order, record), record)
        if self._order_final:
            self._outside = None
        return order

    def remove(self, task_id: str) -> bool:
        if self._outside is not None:
            self._note_outside(task_id)
        self.transitions.pop(task_id, None)
        if task_id in self.unfinished:
            self.unfinished_version += 1
            self.unfinished.discard(task_id)
        self._workers.pop(task_id, None)
        self.stale.discard(task_id)
        self._in_between.pop(task_id, None)
        self._sent.discard(task_id)
        self._held.discard(task_id)
        record = self.records.pop(task_id, None)
        if record is None:
            return False
        self.workflows.remove(record)
        self._ids_replaced.discard(task_id)
        if task_id in self._ids_new:
            self._ids_new.discard(task_id)
        else:
            self._ids_gone.add(task_id)
        self._counts[display_status(record)] -= 1
        self.insights.change(record, None)
        if self._replaced is not None:
            self._replaced.setdefault(task_id, record)
        return True

    def history(self, task_id: str) -> list[Transition]:
        """The statuses this task was seen in, with times; one entry if it never changed."""
        history = self.transitions.get(task_id)
        if history is not None:
            return list(history)
        record = self.records.get(task_id)
        if record is None:
            return []
        return [(record.last_change or record.mtime, display_status(record))]

    def select(self, predicate: Predicate | None = None) -> list[TaskRecord]:
        if predicate is None:
            return list(self.records.values())
        return [r for r in self.records.values() if predicate(r)]

    def by_id(self) -> list[TaskRecord]:
        """Every record, in id order (the store's own list: the caller must not
        change it, nor keep it, as the next call may change it)."""
        records = self._by_id
        if self._runs:
            runs, self._runs = sorted(self._runs, key=lambda run: run[0].task_id), []
            joined = all(a[-1].task_id < b[0].task_id for a, b in zip(runs, runs[1:], strict=False))
            scanned = runs[0] if len(runs) == 1 and not records else list(chain.from_iterable(runs))
            if records:
                records += scanned
                records.sort(key=_by_id)  # sorted runs: Timsort merges them
            elif not joined:
                records = sorted(scanned, key=_by_id)
            else:
                records = scanned
        if self._ids_gone:
            gone, self._ids_gone = self._ids_gone, set()
            records = [r for r in records if r.task_id not in gone]
        if self._ids_replaced:
            current = self.records
            for task_id in self._ids_replaced:  # re-read files: the new record in the old place
                records[bisect_left(records, task_id, key=_by_id)] = current[task_id]
            self._ids_replaced = set()
        if self._ids_new:
            # In place (only ordered() reads this list, and copies it): one list fewer at the peak.
            records.extend(sorted(map(self.records.__getitem__, self._ids_new), key=_by_id))
            self._ids_new = set()
            records.sort(key=_by_id)  # two sorted runs: Timsort merges them in one pass
        self._by_id = records
        return records

    def counts(self, predicate: Predicate | None = None) -> Counter[str]:
        """How many rows per displayed status (GROUP, unreadable included)."""
        if predicate is None:
            return +self._counts  # a copy without the zeros
        return Counter(display_status(r) for r in self.select(predicate))


_by_id = attrgetter("task_id")
#: Display statuses of rows that are neither unfinished tasks nor unreadable (``add_scanned``):
#: not "GROUP", which a task's own custom state may be too.
_SETTLED = frozenset({*READY_STATES, "PENDING"})

#: The order the inspector opens in: the newest change first (ties: the greater id first).
RECENT_ORDER = ("last_change", True)
#: Its key: descending.
recent_key = attrgetter("last_change", "task_id")
#: More tasks than this added outside a first scan's order, and it is sorted anew instead.
MAX_OUTSIDE = 64


def _recent_position(order: list[TaskRecord], record: TaskRecord) -> int:
    """Where ``record`` goes in ``order`` (descending ``recent_key``): a binary search."""
    key = recent_key(record)
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if recent_key(order[mid]) > key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def first_sight(records: Iterable[TaskRecord]) -> None:
    """The times ``add`` gives a task first seen by a scan (not live), set in bulk: a
    finished task's from its date_done, any other's from its file's mtime (_observe_first)."""
    ready = READY_STATES
    for record in records:
        status, done = record.status, record.date_done
        record.first_seen = record.last_change = done if done is not None and status in ready else record.mtime
        if status == "STARTED":
            record.started = record.mtime


#: An unfinished task as the stale check needs it: (task id, worker node name, pool process id).
StaleCandidate = tuple[str, "str | None", "int | None"]


def unfinished_record(record: TaskRecord) -> bool:
    """A task still to finish: a state that is not final (STARTED, RETRY, PROGRESS, any
    custom one), read whole; not a group, nor a PENDING placeholder (no worker has it yet)."""
    status = record.status
    return (
        status is not None
        and record.error is None
        and status not in READY_STATES
        and status not in NOT_STARTED
        and record.kind == "task"
    )


def _observe_first(record: TaskRecord, live: bool) -> None:
    """The times of a task first seen. A finished task's come from its date_done, the task's
    own clock: its file's mtime may be a copy's (cp, tar, rsync without -t) or another
    host's. Any other row's from its file's mtime: Celery writes no start time."""
    when = record.date_done if record.date_done is not None and record.status in READY_STATES else record.mtime
    record.first_seen = record.last_change = when
    status = record.status
    if status == "STARTED" or (live and status is not None and record.error is None and status not in READY_STATES):
        # The STARTED write is the start; a state written after it within
        # one refresh (update_state at once) starts about as early.
        record.started = record.mtime


def _carry_what_the_file_lacks(old: TaskRecord, record: TaskRecord) -> None:
    """A file without result_extended's fields (a queued task revoked: Celery writes no
    name, args, group or parent) keeps what the task was known by: the name taskview sent
    it with (its PENDING row) or read before."""
    if record.name is not None or old.name is None:
        return
    record.name = old.name
    if record.args is None:
        record.args = old.args
    known = old.links
    if known is not None and (known.group_id or known.parent_id or known.root_id):
        links = record.links
        if links is None or not (links.group_id or links.parent_id or links.root_id):
            exc = links.exc if links is not None else None
            children = links.children if links is not None and links.children else known.children
            record.links = Links(record.prefix, exc, known.group_id, known.parent_id, known.root_id, children)


def _same_row(a: TaskRecord, b: TaskRecord) -> bool:
    return (
        a.status == b.status
        and a.error == b.error
        and a.progress == b.progress
        and a.worker == b.worker
        and a.name == b.name
        and a.date_done == b.date_done
        and a.size == b.size
    )


__all__ = [
    "NOT_STARTED",
    "RECENT_ORDER",
    "HeldRow",
    "StaleCandidate",
    "Store",
    "Transition",
    "first_sight",
    "recent_key",
    "unfinished_record",
]
