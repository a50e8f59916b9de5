"""The filter language typed after ``/``, compiled to a predicate on records.

    failure               free text: id, name, status, worker or args contain it
    status:FAILURE        exact status (case-insensitive); status:FAILURE,RETRY for either
    name:billing          name contains; worker:w1 likewise
    id:3f2a               id starts with
    -status:SUCCESS       any term negated with a leading '-'
    status:unreadable     files taskview could not read; kind:group for group files

Terms combine with AND. Quotes keep spaces: name:"send email".
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from .results.record import TaskRecord, display_status

Predicate = Callable[[TaskRecord], bool]

FIELDS = ("status", "name", "worker", "id", "kind", "args")


def compile_query(text: str) -> Predicate | None:
    """A predicate for ``text``; None when it filters nothing out."""
    try:
        terms = shlex.split(text)
    except ValueError:  # an unclosed quote while typing: use the words so far
        terms = text.replace('"', " ").replace("'", " ").split()
    predicates = [p for p in (_term(t) for t in terms) if p is not None]
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda r: all(p(r) for p in predicates)


def _term(term: str) -> Predicate | None:
    negate = term.startswith("-") and len(term) > 1
    if negate:
        term = term[1:]
    field, sep, value = term.partition(":")
    if sep and field.lower() in FIELDS:
        predicate = _field(field.lower(), value)
    else:
        predicate = _free_text(term)
    if predicate is None:
        return None
    if negate:
        inner = predicate
        return lambda r: not inner(r)
    return predicate


def _field(field: str, value: str) -> Predicate | None:
    if not value:
        return None
    needle = value.lower()
    if field == "status":
        wanted = {v.strip().lower() for v in needle.split(",") if v.strip()}
        status_matches = _memo(lambda status: status.lower() in wanted)
        return lambda r: status_matches(display_status(r))
    if field == "id":
        return lambda r: r.task_id.lower().startswith(needle)
    if field == "kind":
        return lambda r: r.kind == needle
    contains = _memo(lambda text: needle in text.lower())
    if field == "args":  # unique per task: not worth remembering
        return lambda r: r.args is not None and needle in r.args.lower()
    attr = field  # name, worker: a few distinct (interned) values in a whole directory
    return lambda r: (value := getattr(r, attr)) is not None and contains(value)


def _free_text(needle: str) -> Predicate | None:
    needle = needle.lower()
    if not needle:
        return None
    # Statuses, names and workers repeat across a million rows: test each
    # distinct value once. Ids are mostly lowercase already: skip lower() then.
    contains = _memo(lambda text: needle in text.lower())

    def match(r: TaskRecord) -> bool:
        task_id = r.task_id
        return (
            needle in task_id
            or (not task_id.islower() and needle in task_id.lower())
            or contains(display_status(r))
            or (r.name is not None and contains(r.name))
            or (r.worker is not None and contains(r.worker))
            or (r.args is not None and needle in r.args.lower())
        )

    return match


def _memo(test: Callable[[str], bool], limit: int = 10_000) -> Callable[[str], bool]:
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
