"""The small per-task summary kept in memory; the full meta stays on disk.

A directory can hold a million tasks, so a record is a compact struct of
interned strings and numbers (DESIGN.md: ~430 B against ~1.5 KB for a dict).
"""

from __future__ import annotations

import math
import reprlib
import sys
from collections import Counter
from datetime import datetime, timezone
from itertools import chain, compress, repeat
from operator import attrgetter, is_not
from typing import Any

import msgspec

from .codec import Decoded
from .files import GROUP_PREFIX
from .problems import Problem, ProblemKind

READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
#: The states whose ``result`` is an exception (``exc_type``, ``exc_message``).
EXCEPTION_STATES = frozenset({"FAILURE", "RETRY", "REVOKED"})
ARGS_PREVIEW = 40
#: An exception line is kept to this many characters (a message can be megabytes).
EXC_LINE = 200

_intern = sys.intern


class Links(msgspec.Struct, frozen=True, gc=False):
    """What ties a task to others, and the line of its exception: only for tasks that have one.

    Frozen and compared by value, so that records saying the same share one
    (``shared_links``): the members of a group, the children of one parent, the
    failures of one exception.
    """

    prefix: str  # the record's file name prefix (see TaskRecord.prefix_or_links)
    exc: str | None = None  # "ValueError: bad value: -1" of a FAILURE, RETRY or REVOKED result
    group_id: str | None = None
    # Ids naming the task itself are not kept (a retried task's parent_id is its own id).
    parent_id: str | None = None
    root_id: str | None = None  # when the meta names one (Celery's file backend does not)
    # The tasks it started, as its ``children`` names them (a group file: its members):
    # each a task id, or (group id, its members) for a group started from it (``children_of``).
    # Never the task itself (a retried task lists itself). Empty for most tasks.
    children: tuple[Any, ...] = ()


class TaskRecord(msgspec.Struct, gc=False, eq=False):
    """What the table shows of one result file.

    A msgspec Struct of 14 fields: 128 bytes (a 15th would cost 16 more: the
    allocator rounds to 16), outside the garbage collector (gc=False: it holds
    strings, numbers and small frozen structs, never a cycle), so a million of
    them cost a collection nothing. Compared by identity (eq=False), like any object.
    """

    task_id: str
    # The file name's prefix, interned ("celery-task-meta-" or "celery-taskset-meta-" after
    # any keyprefix), or, for a task with links or an exception line, a Links holding it:
    # one field for the two, so a million tasks without links pay nothing for them.
    # Read ``prefix`` and ``links``.
    prefix_or_links: str | Links
    status: str | None = None
    name: str | None = None
    worker: str | None = None
    args: str | None = None  # a short preview of args/kwargs, for filtering
    date_done: float | None = None  # epoch seconds
    mtime: float = 0.0
    size: int = 0
    error: Problem | None = None  # why the file could not be read, or None
    # What a task still running says of itself: the pool process id of a STARTED
    # task (an int) or (current, total) of a progress-like state (a tuple). One
    # field for the two, which never go together: a million records, 8 MB.
    running: int | tuple[float, float] | None = None
    # Set by the store from what it observes; None means "the file's mtime".
    first_seen: float | None = None
    last_change: float | None = None
    started: float | None = None

    @property
    def prefix(self) -> str:
        head = self.prefix_or_links
        return head if isinstance(head, str) else head.prefix

    @property
    def links(self) -> Links | None:
        """The task's group, parent and root ids and its exception line, when it has any."""
        head = self.prefix_or_links
        return head if type(head) is Links else None

    @links.setter
    def links(self, links: Links | None) -> None:
        prefix = self.prefix
        self.prefix_or_links = prefix if links is None else shared_links(msgspec.structs.replace(links, prefix=prefix))

    @property
    def exc(self) -> str | None:
        """``ExcType: message`` of a FAILURE, RETRY or REVOKED result (at most EXC_LINE characters)."""
        links = self.links
        return None if links is None else links.exc

    @property
    def group_id(self) -> str | None:
        links = self.links
        return None if links is None else links.group_id

    @property
    def parent_id(self) -> str | None:
        links = self.links
        return None if links is None else links.parent_id

    @property
    def root_id(self) -> str | None:
        """The root the meta names; None when it names none or the task itself (see ``query.root_of``)."""
        links = self.links
        return None if links is None else links.root_id

    @property
    def kind(self) -> str:
        """ "task" or "group": what the file name says (kept as its prefix, one field less)."""
        return "group" if self.prefix.endswith(GROUP_PREFIX) else "task"

    @property
    def pid(self) -> int | None:
        """The pool process of a STARTED task."""
        running = self.running
        return running if type(running) is int else None

    @pid.setter
    def pid(self, pid: int | None) -> None:
        self.running = pid

    @property
    def progress(self) -> tuple[float, float] | None:
        """(current, total) for progress-like meta."""
        running = self.running
        return running if type(running) is tuple else None

    @progress.setter
    def progress(self, progress: tuple[float, float] | None) -> None:
        self.running = progress

    @property
    def filename(self) -> str:
        return self.prefix + self.task_id

    @property
    def runtime(self) -> float | None:
        """Seconds from the STARTED we saw to date_done; unknown from files alone."""
        if self.started is None or self.date_done is None:
            return None
        return max(0.0, self.date_done - self.started)

    def __repr__(self) -> str:
        state = self.status if self.error is None else f"error={self.error.message!r}"
        return f"<TaskRecord {self.kind} {self.task_id} {state}>"


#: The fields a record crosses a pipe with (sources/child_scan.py), in order.
ROW_FIELDS = ("task_id", "prefix", "status", "name", "worker", "args", "date_done", "mtime", "size", "error", "running")
#: Those with a few distinct values in a whole directory: sent as indexes into a
#: table of strings once per batch, so the receiving side makes each string once
#: (and its heap is not strewn with short-lived copies).
_SHARED = frozenset({"prefix", "status", "name", "worker"})
_ROW = attrgetter(*ROW_FIELDS)
_ERROR = ROW_FIELDS.index("error")
_STATUS = ROW_FIELDS.index("status")
_PREFIX = ROW_FIELDS.index("prefix")


#: One int object per distinct file size. Files of one kind of task mostly share
#: a few sizes (the same fields, ids and dates of one length), so a million tasks
#: have a few thousand sizes, and an int is 32 bytes. Bounded: files may all differ.
_SIZES: dict[int, int] = {}
_MAX_SIZES = 1 << 16


def shared_size(size: int) -> int:
    shared = _SIZES.get(size)
    if shared is None:
        if len(_SIZES) >= _MAX_SIZES:
            return size
        shared = _SIZES.setdefault(size, size)
    return shared


#: Links by value, so records saying the same share one (a group's members, a
#: parent's children, the failures of one exception). Emptied when full: the
#: records arriving together (a group's, a scan's) are the ones that repeat.
_LINKS: dict[Links, Links] = {}
_MAX_LINKS = 1 << 12


def shared_links(links: Links) -> Links:
    shared = _LINKS.get(links)
    if shared is None:
        if len(_LINKS) >= _MAX_LINKS:
            _LINKS.clear()
        shared = _LINKS.setdefault(links, links)
    return shared


def records_to_batch(records: list[TaskRecord]) -> dict[str, Any]:
    """Records as columns (one list per field: no short-lived list per record on the other side);
    ``links``: each distinct [exc, group_id, parent_id, root_id] once, and ``linked``: [the
    indexes of the records that have links, the index of theirs in ``links``] (a group's
    members, a parent's children say the same: a batch a third bigger with a row each)."""
    fields = zip(*map(_ROW, records), strict=True)
    columns: list[list[Any]] = [list(column) for column in fields] or [[] for _ in ROW_FIELDS]
    shared = [at for at, field in enumerate(ROW_FIELDS) if field in _SHARED]
    # Each distinct string once, in C: the table, then every value as its index in it.
    strings = dict.fromkeys(chain.from_iterable(columns[at] for at in shared))
    strings.pop(None, None)
    position: dict[str | None, int] = {value: at for at, value in enumerate(strings)}
    position[None] = -1
    for at in shared:
        columns[at] = list(map(position.__getitem__, columns[at]))
    errors = columns[_ERROR]
    if errors.count(None) != len(errors):
        columns[_ERROR] = [None if v is None else v.as_row() for v in errors]
    table: dict[Links, int] = {}
    rows: list[int] = []
    which: list[int] = []
    for index, record in enumerate(records):
        if type(head := record.prefix_or_links) is Links:
            rows.append(index)
            which.append(table.setdefault(head, len(table)))
    links = [[links.exc, links.group_id, links.parent_id, links.root_id, links.children] for links in table]
    return {"strings": list(strings), "columns": columns, "links": links, "linked": [rows, which]}


def select_rows(batch: dict[str, Any], rows: list[int]) -> dict[str, Any]:
    """The batch of ``rows`` of ``batch`` (ascending row numbers), as ``records_to_batch``
    would have made it of those records (its string table keeps only what they use):
    what a reader forwards of an index without making a record of each row."""
    columns = batch["columns"]
    picked = [list(map(column.__getitem__, rows)) for column in columns]
    shared = [at for at, field in enumerate(ROW_FIELDS) if field in _SHARED]
    used = sorted(set(chain.from_iterable(picked[at] for at in shared)) - {-1})
    strings = batch["strings"]
    position = {old: new for new, old in enumerate(used)}
    position[-1] = -1
    for at in shared:
        picked[at] = list(map(position.__getitem__, picked[at]))
    linked_rows, which = batch.get("linked") or ([], [])
    new_row = {old: new for new, old in enumerate(rows)}
    kept = [(new_row[row], link) for row, link in zip(linked_rows, which, strict=True) if row in new_row]
    links = batch.get("links") or []
    used_links = sorted({link for _, link in kept})
    link_at = {old: new for new, old in enumerate(used_links)}
    return {
        "strings": [strings[at] for at in used],
        "columns": picked,
        "links": [links[at] for at in used_links],
        "linked": [[row for row, _ in kept], [link_at[link] for _, link in kept]],
    }


def records_from_batch(batch: dict[str, Any]) -> list[TaskRecord]:
    """The records of a batch (``records_to_batch``). Made column by column, in C where it
    can be (a million records cross the pipe in a big directory's first scan)."""
    table = [_intern(s) if len(s) < 200 else s for s in batch["strings"]]
    table.append(None)  # index -1: no value
    columns = batch["columns"]
    if len(columns) != len(ROW_FIELDS) or len({len(column) for column in columns}) > 1:
        raise ValueError("a batch whose columns do not line up")
    task_ids, prefixes, statuses, names, workers, args, dates, mtimes, sizes, errors, running = columns
    shared = table.__getitem__
    prefixes, statuses, names, workers = (list(map(shared, c)) for c in (prefixes, statuses, names, workers))
    known_sizes = _SIZES
    sizes = [known_sizes.get(size) or shared_size(size) for size in sizes]
    if errors.count(None) != len(errors):
        errors = [None if error is None else Problem.from_row(error) for error in errors]
    if running.count(None) != len(running):
        # JSON made the (current, total) tuples lists
        running = [value if type(value) is not list else (value[0], value[1]) for value in running]
    records = list(
        map(TaskRecord, task_ids, prefixes, statuses, names, workers, args, dates, mtimes, sizes, errors, running)
    )
    links = batch.get("links")
    if links:
        made: list[Links | None] = [None] * len(links)
        for index, which in zip(*batch["linked"], strict=True):
            record = records[index]
            shared_one = made[which]
            if shared_one is None or shared_one.prefix is not record.prefix:
                exc, group_id, parent_id, root_id, *children = links[which]
                shared_one = made[which] = shared_links(
                    Links(
                        record.prefix,
                        exc,
                        group_id,
                        parent_id,
                        root_id,
                        children_from_json(children[0] if children else ()),
                    )
                )
            record.prefix_or_links = shared_one
    return records


UNREADABLE = "unreadable"


def display_status(record: TaskRecord) -> str:
    """The status as the table, counts and filters show it, for every kind of row."""
    if record.error is not None:
        return UNREADABLE
    status = record.status
    if status is not None:
        return status
    return "GROUP" if record.kind == "group" else ""


_status_of = attrgetter("status")
_error_of = attrgetter("error")


def display_statuses(records: list[TaskRecord]) -> list[str]:
    """``display_status`` of each record: in C when every one has a status and no error (a first
    scan's batch nearly always), one by one otherwise."""
    statuses = list(map(_status_of, records))
    if None in statuses or any(map(is_not, map(_error_of, records), repeat(None))):
        return list(map(display_status, records))
    return statuses


def batch_census(batch: dict[str, Any]) -> Counter[str]:
    """How many rows of a batch (``records_to_batch``) the store will count under each display
    status: every row but a file gone before it could be read (the tail removes those). Counted
    from the status column, in C; the few rows with no status or with an error, one by one."""
    columns = batch["columns"]
    statuses, errors = columns[_STATUS], columns[_ERROR]
    strings = batch["strings"]
    counts: Counter[str] = Counter()
    for at, n in Counter(statuses).items():
        if at != -1:
            counts[strings[at]] += n  # += : a table from an index on disk may hold a string twice
    if -1 not in statuses and errors.count(None) == len(errors):
        return counts
    # The few rows whose display status is not their status: one by one.
    rows = range(len(statuses))
    odd = set(compress(rows, map(is_not, errors, repeat(None)))) | set(compress(rows, map((-1).__eq__, statuses)))
    prefixes = columns[_PREFIX]
    for row in odd:
        error, status = errors[row], statuses[row]
        if status != -1:
            counts[strings[status]] -= 1  # counted above
        if error is not None:
            if Problem.from_row(error).kind is not ProblemKind.GONE:
                counts[UNREADABLE] += 1
        else:
            counts["GROUP" if strings[prefixes[row]].endswith(GROUP_PREFIX) else ""] += 1
    return +counts


def classify(kind: str, decoded: Decoded, size: int) -> tuple[str | None, Problem | None]:
    """(status, error) of a decoded file: all ``--stats`` needs, and where a summary starts."""
    if decoded.error is not None:
        return None, decoded.error
    meta = decoded.meta
    if kind == "group":
        if "result" in meta:
            return None, None
        return None, Problem(ProblemKind.NOT_A_RESULT, "not a Celery group result", ": no 'result' field")
    status = meta.get("status")
    if type(status) is not str or not status:
        if decoded.serializer == "yaml" and "status" not in meta and "task_id" not in meta:
            # PyYAML writes keys sorted: a file cut at a line end parses without its last keys.
            return None, Problem(ProblemKind.TRUNCATED, "truncated YAML", f" at byte {size} (no status yet)")
        return None, Problem(ProblemKind.NOT_A_RESULT, "not a Celery task result", ": no status")
    return interned_status(status), None


def interned_status(status: str) -> str:
    """A status string, one object for all the tasks saying it (a long one is not a state)."""
    return _intern(status) if len(status) < 64 else status


def summarize(
    task_id: str,
    kind: str,
    prefix: str,
    decoded: Decoded | None,
    *,
    size: int,
    mtime: float,
    error: Problem | None = None,
) -> TaskRecord:
    """Build the summary of one file from its decoded meta (or its read error).

    Every field is worked out first and the record made once, positionally: this
    runs for every file of a first scan (a million at times)."""
    size = _SIZES.get(size) or shared_size(size)
    if error is not None or decoded is None:
        return TaskRecord(task_id, prefix, None, None, None, None, None, mtime, size, error)
    status, error = classify(kind, decoded, size)
    if status is None:
        if error is None and kind == "group":  # a saved group: its members
            members = children_of(decoded.meta.get("result"), task_id, True)
            if members:
                return TaskRecord(
                    task_id, shared_links(Links(prefix, children=members)), None, None, None, None, None, mtime, size
                )
        return TaskRecord(task_id, prefix, None, None, None, None, None, mtime, size, error)
    get = decoded.meta.get
    return task_summary(
        task_id,
        prefix,
        status,
        get("name"),
        get("result"),
        get("worker"),
        get("args"),
        get("kwargs"),
        get("date_done"),
        get("group_id"),
        get("parent_id"),
        get("root_id"),
        get("children"),
        mtime,
        size,
    )


def task_summary(
    task_id: str,
    prefix: str,
    status: str,
    name: Any,
    result: Any,
    worker: Any,
    args: Any,
    kwargs: Any,
    date_done: Any,
    group_id: Any,
    parent_id: Any,
    root_id: Any,
    children: Any,
    mtime: float,
    size: int,
) -> TaskRecord:
    """The record of a task file (not a group's) with a status, from its meta's fields as they
    were decoded (absent ones None): ``summarize``'s, and the lean first scan's, which decodes
    only these (``lean_summary``). ``result`` is looked at only when the status is not SUCCESS."""
    if type(name) is str:
        name = _intern(name) if len(name) < 200 else name
    else:
        name = None
    running: int | tuple[float, float] | None = None
    if isinstance(result, dict):
        if status == "STARTED":
            if worker is None:
                worker = result.get("hostname")
            pid = result.get("pid")
            running = pid if type(pid) is int else None
        elif status not in READY_STATES:
            running = progress_of(result)
    if type(worker) is str:
        worker = _intern(worker) if len(worker) < 200 else worker
    else:
        worker = None
    preview = args_preview(args, kwargs) if args is not None or kwargs is not None else None
    if date_done is not None:
        date_done = epoch(date_done)
    head: str | Links = prefix
    exc = exception_line(result) if status in EXCEPTION_STATES else None
    group_id = group_id if type(group_id) is str and group_id else None
    parent_id = parent_id if type(parent_id) is str and parent_id and parent_id != task_id else None
    root_id = _other_id(root_id, task_id)
    children = children_of(children, task_id) if children else ()
    if exc is not None or group_id is not None or parent_id is not None or root_id is not None or children:
        head = shared_links(Links(prefix, exc, group_id, parent_id, root_id, children))
    return TaskRecord(task_id, head, status, name, worker, preview, date_done, mtime, size, None, running)


#: The most children kept of one task (a task may start thousands: the rest stay in its file).
MAX_CHILDREN = 1000


def children_of(value: Any, own: str, group: bool = False) -> tuple[Any, ...]:
    """The children a meta's ``children`` names (AsyncResult.as_tuple() shapes: ``[[id, parent],
    None]`` a task, ``[[gid, parent], [members]]`` a group), as ``Links.children`` keeps them;
    ``group``: ``value`` is a group file's ``result``, one group tuple: its members. Anything
    else in there is left out; never ``own``, at most MAX_CHILDREN (and 20 levels deep)."""
    if group:
        parsed = _child(value, "", 0)  # the group itself: its own id heads it
        return parsed[1] if type(parsed) is tuple else ()
    if type(value) is not list:
        return ()
    found = []
    for item in value[:MAX_CHILDREN]:
        child = _child(item, own, 0)
        if child is not None:
            found.append(child)
    return tuple(found)


def _child(item: Any, own: str, depth: int) -> Any:
    if type(item) is not list or len(item) != 2 or depth > 20:
        return None
    head, members = item
    if type(head) is not list or not head or type(head[0]) is not str or not head[0] or head[0] == own:
        return None
    if members is None:
        return head[0]
    if type(members) is not list:
        return None
    inner = [child for child in (_child(m, own, depth + 1) for m in members[:MAX_CHILDREN]) if child is not None]
    return (head[0], tuple(inner))


def children_from_json(value: Any) -> tuple[Any, ...]:
    """``Links.children`` back from JSON (its tuples made lists)."""
    if not value:
        return ()
    return tuple(c if type(c) is str else (c[0], children_from_json(c[1])) for c in value)


def _other_id(value: Any, own: str) -> str | None:
    """An id the meta names, unless it is none or the task's own."""
    return value if type(value) is str and value and value != own else None


def summarize_safely(
    task_id: str,
    kind: str,
    prefix: str,
    decoded: Decoded | None,
    *,
    size: int,
    mtime: float,
    error: Problem | None = None,
) -> TaskRecord:
    """``summarize``, or a record saying the content could not be summarized: one file never stops a scan."""
    try:
        return summarize(task_id, kind, prefix, decoded, size=size, mtime=mtime, error=error)
    except Exception as exc:  # content no summary should choke on
        problem = Problem(ProblemKind.INVALID, "cannot summarize", f": {type(exc).__name__}")
        return TaskRecord(task_id, prefix, size=size, mtime=mtime, error=problem)


def exception_line(result: Any) -> str | None:
    """``ExcType: message`` of an exception result (Celery's dict, or the exception itself from pickle),
    its arguments joined by commas as the detail pane shows them; at most EXC_LINE characters."""
    if isinstance(result, dict):
        exc_type, args = result.get("exc_type"), result.get("exc_message")
        if type(exc_type) is not str or not exc_type:
            return None
    elif isinstance(result, BaseException):
        exc_type, args = type(result).__name__, result.args
    else:
        return None
    if isinstance(args, (list, tuple)):
        message = ", ".join(_text(arg) for arg in args[:8])
    else:
        message = "" if args is None else _text(args)
    line = f"{exc_type}: {message}" if message else exc_type
    return line if len(line) <= EXC_LINE else line[: EXC_LINE - 1] + "…"


def _text(value: Any) -> str:
    return value if type(value) is str else _SHORT_REPR.repr(value)


def progress_of(result: dict[str, Any]) -> tuple[float, float] | None:
    """``{current, total}`` meta, the convention of Celery's progress examples."""
    current, total = _number(result.get("current")), _number(result.get("total"))
    if current is not None and total is not None and math.isfinite(current) and math.isfinite(total) and total > 0:
        return (current, total)
    return None


def _number(value: Any) -> float | None:
    """An int or float (not a bool) as a float; None for anything else, or an int too big for a float."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _short_repr() -> reprlib.Repr:
    # Bounded in depth and length: task arguments come from anywhere, and a
    # plain repr() of deeply nested lists raises RecursionError.
    short = reprlib.Repr()
    short.maxlevel = 3
    short.maxstring = short.maxother = ARGS_PREVIEW
    return short


_SHORT_REPR = _short_repr()


def args_preview(args: Any, kwargs: Any) -> str | None:
    if type(args) is list and not kwargs and len(args) <= 8:
        # The common call (a few numbers or short strings, no kwargs): a list's repr joins
        # the same reprs with the same ", ", in one C call.
        kinds = set(map(type, args))
        if (
            kinds <= _INTS
            and (not args or (min(args) > -(10**15) and max(args) < 10**15))
            or kinds <= _SCALARS
            or kinds == _STR
            and max(map(len, args)) <= ARGS_PREVIEW
        ):
            text = repr(args)[1:-1]
            return text if len(text) <= ARGS_PREVIEW else text[: ARGS_PREVIEW - 1] + "…"
    parts: list[str] = []
    if isinstance(args, (list, tuple)):
        parts.extend(_short(a) for a in args[:8])
    elif args is not None:
        parts.append(_short(args))
    if isinstance(kwargs, dict):
        parts.extend(f"{k}={_short(v)}" for k, v in list(kwargs.items())[:8])
    text = ", ".join(parts)
    return text if len(text) <= ARGS_PREVIEW else text[: ARGS_PREVIEW - 1] + "…"


_PLAIN_SCALARS = frozenset({bool, float, type(None)})
#: Lists whose repr is what _short makes of each item (ints and strings checked for size).
_INTS = frozenset({int, bool})
_SCALARS = _PLAIN_SCALARS
_STR = frozenset({str})


def _short(value: Any) -> str:
    # Most arguments are small numbers and short strings: repr() them directly,
    # and leave the rest to reprlib (a tenth of the speed, but bounded).
    kind = type(value)
    if kind in _PLAIN_SCALARS or (kind is int and -(10**15) < value < 10**15):
        return repr(value)
    if kind is str and len(value) <= ARGS_PREVIEW:
        return repr(value)
    return _SHORT_REPR.repr(value)


def epoch(value: Any) -> float | None:
    """date_done as epoch seconds: an ISO string (json/msgpack/yaml) or a datetime (pickle).
    Without a zone it is UTC: Celery up to 5.3 wrote ``datetime.utcnow()`` (5.4 adds +00:00)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        try:
            return value.timestamp()
        except (OverflowError, ValueError, OSError, TypeError):  # TypeError: a zone without an offset
            return None
    return None
