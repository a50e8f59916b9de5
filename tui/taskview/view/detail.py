"""What the detail pane shows of one task, prepared off the UI thread (no Textual).

A result can be many megabytes: the pane gets the first part of its JSON (a
text widget takes about a second per megabyte to lay out, twice that to
highlight), with a line saying how much there is; copying takes the whole of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..results.json_output import jsonable
from ..results.record import TaskRecord
from ..results.record import exception_line as record_exception_line
from ..results.scan import FullRead
from ..text import inert, summary

#: The most of a result's JSON the pane lays out: about a thousand lines, in under a tenth of a
#: second here (Textual's TextArea took 0.3-0.5 s for 128 KB on the UI thread, 1 s per MB).
BODY_LIMIT = 32 * 1024
#: The most it highlights (tree-sitter doubles the cost).
HIGHLIGHT_LIMIT = 16 * 1024
#: The states whose result is the exception that ended (or paused) the task.
EXCEPTION_STATES = frozenset({"FAILURE", "RETRY", "REVOKED"})
#: How much of an unreadable file's raw bytes to show.
RAW_PREVIEW = 64 * 1024


@dataclass
class DetailContent:
    """Everything the pane shows, prepared off the UI thread."""

    record: TaskRecord
    history: list[tuple[float, str]]
    full: FullRead | None
    body: str  # pretty JSON, or the escaped raw bytes of an unreadable file; at most BODY_LIMIT
    body_size: int  # the whole body's length, before it was cut
    traceback: str | None
    exception: str | None  # "ValueError: card declined": the line a traceback ends with
    related: list[tuple[str, str]]  # (relation, task id)
    workflow: str | None = None  # a workflow's root: what its workflow says (counts, span, slowest)

    @property
    def cut(self) -> bool:
        return self.body_size > len(self.body)

    @property
    def highlight(self) -> bool:
        """JSON worth highlighting: a whole decoded meta, small enough."""
        return self.full is not None and self.full.error is None and len(self.body) <= HIGHLIGHT_LIMIT


def prepare(record: TaskRecord, history: list[tuple[float, str]], full: FullRead | None) -> DetailContent:
    meta = full.meta if full is not None else None
    traceback = exception = None
    related: list[tuple[str, str]] = []
    body = None
    shrunk = False
    if meta is not None:
        # Long strings cut before the JSON is made: a 10 MB string costs json.dumps and the
        # escaping a quarter of a second of C holding the GIL, a stall of the screen.
        small, shrunk = _shrunk(meta)
        body = meta_json(small)
        tb = meta.get("traceback")
        if isinstance(tb, str) and tb.strip():
            traceback = inert(tb)
        exception = exception_line(meta)
        related = related_ids(meta, record.kind)
    if body is None and full is not None and full.read.data is not None:
        raw = full.read.data[:RAW_PREVIEW]
        body = inert(raw.decode("utf-8", "backslashreplace"))
        if len(full.read.data) > RAW_PREVIEW:
            body += f"\n... ({len(full.read.data) - RAW_PREVIEW:,} more bytes)"
    body = body or ""
    shown = cut_at_line(body, BODY_LIMIT)
    whole = max(len(body), full.read.size) if shrunk and full is not None else len(body)
    return DetailContent(record, history, full, shown, whole, traceback, exception, related)


def _shrunk(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """``value`` with every string longer than the pane shows cut to that (a copy where anything
    was cut); and whether anything was."""
    if isinstance(value, str):
        return (value[:BODY_LIMIT], True) if len(value) > BODY_LIMIT else (value, False)
    if depth > 50 or not isinstance(value, (dict, list)):
        return value, False
    cut = False
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            items[key], cut_here = _shrunk(item, depth + 1)
            cut = cut or cut_here
        return (items if cut else value), cut
    shrunk_items = []
    for item in value:
        small, cut_here = _shrunk(item, depth + 1)
        shrunk_items.append(small)
        cut = cut or cut_here
    return (shrunk_items if cut else value), cut


def meta_json(meta: dict[str, Any]) -> str | None:
    """The whole meta as indented JSON, made inert; None when it nests deeper than Python's stack."""
    try:
        return inert(json.dumps(jsonable(meta), indent=2, ensure_ascii=False))
    except RecursionError:
        return None


def cut_at_line(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters: at the end of a line when one ends
    in the second half (a result that is one long string is cut inside it)."""
    if len(text) <= limit:
        return text
    end = text.rfind("\n", limit // 2, limit)
    return text[: end if end > 0 else limit]


def exception_line(meta: dict[str, Any]) -> str | None:
    """``Type: message`` of a failed, retried or revoked task, as Celery stored the exception
    (the line the table's filter reads, made one inert line)."""
    if meta.get("status") not in EXCEPTION_STATES:
        return None
    line = record_exception_line(meta.get("result"))
    return None if line is None else summary(line, 300)


def related_ids(meta: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """Parent, group and children ids, from Celery's result tuples."""
    found: list[tuple[str, str]] = []
    for relation in ("parent_id", "group_id"):
        value = meta.get(relation)
        if isinstance(value, str) and value:
            found.append((relation.removesuffix("_id"), value))
    children = meta.get("children") if kind == "task" else meta.get("result")
    for child in _tuple_ids(children):
        found.append(("child", child))
    # Each id once (a parent can also be the group, a retry lists itself as a
    # child), and never the task itself.
    seen = {meta.get("task_id")}
    unique = []
    for relation, task_id in found:
        if task_id not in seen:
            seen.add(task_id)
            unique.append((relation, task_id))
    return unique


def with_members(
    task_id: str, related: list[tuple[str, str]], groups: list[str], records: list[TaskRecord]
) -> list[tuple[str, str]]:
    """``related`` (of task ``task_id``) with, after each of ``groups``, its other members among
    ``records`` (those naming it as their group_id), by id: what a group link shows when no
    taskset file saved it."""
    members: dict[str, list[str]] = {gid: [] for gid in groups}
    for record in records:
        gid = record.group_id
        if gid is not None and gid in members:
            members[gid].append(record.task_id)
    shown = {task_id, *(other for _, other in related)}
    out: list[tuple[str, str]] = []
    for relation, other in related:
        out.append((relation, other))
        for member in sorted(members.get(other, ()) if relation == "group" else ()):
            if member not in shown:
                shown.add(member)
                out.append(("member", member))
    return out


def _tuple_ids(value: Any, depth: int = 0) -> list[str]:
    """Ids in AsyncResult.as_tuple() shapes: ((id, parent), children) nested, groups deeper."""
    if depth > 20 or not isinstance(value, (list, tuple)):
        return []
    if len(value) == 2 and isinstance(value[0], str) and (value[1] is None or isinstance(value[1], (list, tuple))):
        return [value[0]]  # (id, parent)
    ids: list[str] = []
    for item in value:
        ids.extend(_tuple_ids(item, depth + 1))
    return ids
