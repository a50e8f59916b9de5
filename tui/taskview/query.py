"""The filter language typed after ``/``, compiled to a predicate on records.

    failure               free text: id, name, status, worker, args or exception contain it
    status:FAILURE        exact status (case-insensitive); status:FAILURE,RETRY for either
    name:billing          name contains; worker:w1 likewise; name:=billing.charge is exactly that name
    exc:PaymentDeclined   the exception (type and message) of a FAILURE, RETRY or REVOKED contains it
    errgroup:"KeyError: 'user-*'"  the FAILUREs of that error group (the insights screen's; exact)
    id:3f2a               id starts with; group:ID, parent:ID and root:ID likewise
    stale                 unfinished tasks whose worker is gone (status:stale too)
    since:10m             TIME within the last 10 minutes (s, m, h, d, w: since:1h30m);
                          since:2026-12-01T10:00 from then (local time); before:... the other side
    -status:SUCCESS       any term negated with a leading '-'
    status:unreadable     files taskview could not read; kind:group for group files

Terms combine with AND. Quotes keep spaces: name:"send email". TIME is when a task
finished, or when it was first seen (the TIME column); ``root:`` follows parent ids
to the first task of a workflow.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from .insights.aggregates import error_key
from .results.record import UNREADABLE, Links, TaskRecord, display_status

Predicate = Callable[[TaskRecord], bool]
#: The most distinct values a filter remembers its answer for (names could be unique per task).
MEMO_LIMIT = 10_000

FIELDS = (
    "status",
    "name",
    "worker",
    "id",
    "kind",
    "args",
    "exc",
    "group",
    "parent",
    "root",
    "since",
    "before",
    "errgroup",
)
#: The word that stands for the unfinished tasks whose worker is gone, bare or as a status.
STALE = "stale"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)([smhdw]))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


class QueryError(ValueError):
    """A term that cannot be understood (``strict`` compiling); ``str()`` is one line."""


def compile_query(
    text: str,
    *,
    stale: Collection[str] | None = None,
    now: float | None = None,
    records: Mapping[str, TaskRecord] | None = None,
    strict: bool = False,
) -> Predicate | None:
    """A predicate for ``text``; None when it filters nothing out.

    ``stale``: the ids of stale tasks (``Store.stale``: the same set, so each later
    judgement counts); None where staleness is not known (headless), and then
    ``stale`` matches nothing. ``now``: what ``since:10m`` counts back from (the
    inspector's clock; a replay's is the replay clock); default the time of the
    call. ``records``: the tasks by id (``Store.records``), for ``root:`` to follow
    parents. ``strict``: raise QueryError for a term that means nothing (a time
    that is not one, ``stale`` where it is not known) rather than leave it out,
    as typing does.
    """
    context = _Context(stale, time.time() if now is None else now, records, strict)
    predicates = [p for p in (_term(t, context) for t in _terms(text)) if p is not None]
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda r: all(p(r) for p in predicates)


def uses_field(text: str, field: str) -> bool:
    """Whether a term of ``text`` is ``field:...`` (negated or not)."""
    return any(t.removeprefix("-").partition(":")[0].lower() == field for t in _terms(text))


#: Fields whose match can only narrow as their value grows: "contains" and "starts with".
_NARROWING_FIELDS = frozenset({"name", "worker", "exc", "args", "id", "group", "parent"})
#: Terms whose match moves with the clock or the workers (``since:``, ``before:``, ``stale``) or
#: with other tasks' files (``root:`` follows parents): the same text matches other tasks later.
_MOVING_FIELDS = frozenset({"since", "before", "root"})


def narrows(before: str, after: str) -> bool:
    """Whether every task ``after`` matches is one ``before`` matched, from the texts alone: the
    query was typed further, each term of ``before`` kept and its last one at most made longer
    (a free-text, "contains" or "starts with" value: more particular), any terms added. A filter
    then need only look at the rows ``before`` matched (a keystroke at 1M rows: its rows, not
    every task). False when unsure: a term that moves with the clock, the workers or other
    files, a negated, exact or list term made longer."""
    if after == before or not after.startswith(before) or any(c in after for c in "\"'\\"):
        return False  # not typed further, or quotes and escapes: shlex may cut the terms anew
    old, new = _terms(before), _terms(after)
    if not old or any(_moves(term) for term in old):
        return False
    # Split at whitespace alone (no quote, no escape), text added at the end leaves every term of
    # ``old`` as it was in ``new`` but its last one, which it may make longer.
    last, grown = old[-1], new[len(old) - 1]
    if grown == last:
        return True  # only terms added (AND)
    was, now = _shape(last), _shape(grown)
    if was[:2] != now[:2] or was[0]:  # not the same kind of term, or a negated one (it widens)
        return False
    if not now[2].lower().startswith(was[2].lower()):
        return False  # lowercased, the longer one lost its start (a final "Σ" is "ς", not "σ")
    field, value = now[1], now[2]
    if field is None:
        return grown.lower() != STALE  # free text: contains (``last`` is not the word: it would move)
    if not was[2]:
        return True  # "name:" meant nothing yet: anything narrows it
    return field in _NARROWING_FIELDS and not (field == "name" and value.startswith("="))


def _shape(term: str) -> tuple[bool, str | None, str]:
    """(negated, the field or None for free text, the value) as ``_term`` reads a term."""
    negate = term.startswith("-") and len(term) > 1
    if negate:
        term = term[1:]
    field, sep, value = term.partition(":")
    if sep and field.lower() in FIELDS:
        return negate, field.lower(), value
    return negate, None, term


def _moves(term: str) -> bool:
    _, field, value = _shape(term)
    if field is None:
        return value.lower() == STALE
    return field in _MOVING_FIELDS or (field == "status" and STALE in value.lower())


def _terms(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote while typing: use the words so far
        return text.replace('"', " ").replace("'", " ").split()


class _Context:
    __slots__ = ("now", "records", "stale", "strict")

    def __init__(
        self, stale: Collection[str] | None, now: float, records: Mapping[str, TaskRecord] | None, strict: bool
    ) -> None:
        self.stale = stale
        self.now = now
        self.records = records
        self.strict = strict

    def stale_ids(self) -> Collection[str]:
        if self.stale is None:
            if self.strict:
                raise QueryError("'stale' needs the live inspector (it pings the workers)")
            return frozenset()
        return self.stale


def _term(term: str, context: _Context) -> Predicate | None:
    negate = term.startswith("-") and len(term) > 1
    if negate:
        term = term[1:]
    field, sep, value = term.partition(":")
    if sep and field.lower() in FIELDS:
        predicate = _field(field.lower(), value, context)
    elif term.lower() == STALE:
        stale = context.stale_ids()
        predicate = lambda r: r.task_id in stale  # noqa: E731
    else:
        predicate = _free_text(term)
    if predicate is None:
        return None
    if negate:
        inner = predicate
        return lambda r: not inner(r)
    return predicate


def _field(field: str, value: str, context: _Context) -> Predicate | None:
    if not value:
        return None
    needle = value.lower()
    if field == "status":
        wanted = {v.strip().lower() for v in needle.split(",") if v.strip()}
        status_matches = _memo(lambda status: status.lower() in wanted)
        if STALE in wanted:
            stale = context.stale_ids()
            return lambda r: r.task_id in stale or status_matches(display_status(r))
        return lambda r: status_matches(display_status(r))
    if field == "id":
        return lambda r: r.task_id.lower().startswith(needle)
    if field == "errgroup":
        return lambda r: r.status == "FAILURE" and error_key(r) == value
    if field == "name" and value.startswith("=") and len(value) > 1:
        exact = value[1:]
        return lambda r: r.name == exact
    if field == "kind":
        return lambda r: r.kind == needle
    if field in ("since", "before"):
        return _time_range(field, value, context)
    if field in ("group", "parent"):
        attr = field + "_id"
        return lambda r: (found := getattr(r, attr)) is not None and found.lower().startswith(needle)
    if field == "root":
        records = context.records
        return lambda r: root_of(r, records).lower().startswith(needle)
    contains = _memo(lambda text: needle in text.lower())
    if field == "args":  # unique per task: not worth remembering
        return lambda r: r.args is not None and needle in r.args.lower()
    attr = field  # name, worker, exc: a few distinct (interned or shared) values in a whole directory
    return lambda r: (found := getattr(r, attr)) is not None and contains(found)


def _free_text(needle: str) -> Predicate | None:
    needle = needle.lower()
    if not needle:
        return None
    # Statuses, names, workers and exception lines repeat across a million rows: each distinct
    # value is tested once (``seen``, bounded: names could be unique per task). Ids are mostly
    # lowercase already: lower() only when not. The lookups are inlined: a call per field per
    # row was half of a filter's time, and a sparse filter's first screenful may be 100k rows down.
    seen: dict[str, bool] = {}
    known = seen.get

    def test(text: str) -> bool:
        answer = needle in text.lower()
        if len(seen) < MEMO_LIMIT:
            seen[text] = answer
        return answer

    def match(r: TaskRecord) -> bool:
        task_id = r.task_id
        if needle in task_id or (not task_id.islower() and needle in task_id.lower()):
            return True
        status = UNREADABLE if r.error is not None else r.status  # display_status, inlined
        if status is None:
            status = display_status(r)
        hit = known(status)
        if hit if hit is not None else test(status):
            return True
        name = r.name
        if name is not None:
            hit = known(name)
            if hit if hit is not None else test(name):
                return True
        worker = r.worker
        if worker is not None:
            hit = known(worker)
            if hit if hit is not None else test(worker):
                return True
        args = r.args
        if args is not None and needle in args.lower():
            return True
        # The exception line, read off the field (a property call per record costs a filter 10 %).
        head = r.prefix_or_links
        if type(head) is Links and (exc := head.exc) is not None:
            hit = known(exc)
            return hit if hit is not None else test(exc)
        return False

    return match


def task_time(record: TaskRecord) -> float:
    """The TIME column: when the task finished, else when it was first seen (its file's mtime
    where no store has seen it)."""
    if record.date_done is not None:
        return record.date_done
    return record.first_seen if record.first_seen is not None else record.mtime


def parse_time(value: str, now: float) -> float:
    """``10m``, ``1h30m``, ``2d`` (that long before ``now``) or an ISO date and time
    (``2026-12-01``, ``2026-12-01T10:00``; local time unless it says its zone) as epoch
    seconds; raises ValueError for anything else."""
    text = value.strip().lower()
    if _DURATION.fullmatch(text):
        return now - sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"not a time: {value!r} (try 10m, 2h, 3d or 2026-12-01T10:00)") from None


def _time_range(field: str, value: str, context: _Context) -> Predicate | None:
    try:
        edge = parse_time(value, context.now)
    except ValueError as exc:
        if context.strict:
            raise QueryError(f"{field}: {exc}") from None
        return None  # half typed: leave it out until it is a time
    if field == "since":
        return lambda r: task_time(r) >= edge
    return lambda r: task_time(r) < edge


def root_of(record: TaskRecord, records: Mapping[str, TaskRecord] | None = None) -> str:
    """The id of the first task of ``record``'s workflow: the root its meta names, else
    the last parent reached through ``records`` (a parent without a file, as a chord's
    unlock task, is the root as far as files tell), else the task itself."""
    task_id = record.task_id
    seen = {task_id}
    current: TaskRecord | None = record
    while current is not None:
        if current.root_id is not None:
            return current.root_id
        parent = current.parent_id
        if parent is None or parent in seen:
            break
        seen.add(parent)
        task_id = parent
        current = records.get(parent) if records is not None else None
    return task_id


def _memo(test: Callable[[str], bool], limit: int = MEMO_LIMIT) -> Callable[[str], bool]:
    """``test`` remembered per distinct value (bounded: names could be unique per task)."""
    seen: dict[str, bool] = {}

    def remembered(value: str) -> bool:
        answer = seen.get(value)
        if answer is None:
            answer = test(value)
            if len(seen) < limit:
                seen[value] = answer
        return answer

    return remembered
