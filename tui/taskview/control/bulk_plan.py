"""What a bulk action would do to a set of tasks, and what it did: pure functions, no I/O, no Textual.

``plan`` sorts the chosen tasks into those the action applies to (``Target``)
and those it does not (``Skip``, with the reason: never silently dropped);
``Plan`` describes itself for a confirmation or a ``--dry-run`` (the count,
the breakdown by status and name, the first ids). ``outcome_line`` says what
an execution did in one line (``revoked 182, skipped 3 finished, failed 0``).
The execution itself is ``bulk.py`` beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..results.record import READY_STATES, TaskRecord, display_status

#: The actions, and what each says of a task it did.
VERBS = {
    "revoke": "revoked",
    "terminate": "terminated",
    "kill": "killed",
    "retry": "re-sent",
    "forget": "removed",
}
ACTIONS = tuple(VERBS)
REVOKING = frozenset({"revoke", "terminate", "kill"})
#: How many ids a confirmation or a dry run's summary names.
FIRST_IDS = 5


@dataclass(frozen=True)
class Resend:
    """What retry sends again: ``send_task(name, args, kwargs, queue=queue)`` (no queue: the app routes it)."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        return {"queue": self.queue} if self.queue else {}


@dataclass(frozen=True)
class Target:
    """A task the action applies to: for ``forget`` its file as listed (name, size, mtime),
    for ``retry`` what to send again."""

    task_id: str
    name: str | None
    status: str
    filename: str
    size: int
    mtime: float
    request: Resend | None = None


@dataclass(frozen=True)
class Skip:
    task_id: str
    name: str | None
    status: str
    reason: str


@dataclass
class Plan:
    action: str
    targets: list[Target] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def verb(self) -> str:
        return VERBS[self.action]

    def by_status(self) -> Counter[str]:
        return Counter(t.status for t in self.targets)

    def by_name(self) -> Counter[str]:
        return Counter(t.name or "(no name)" for t in self.targets)

    def skip_reasons(self) -> Counter[str]:
        return Counter(s.reason for s in self.skipped)

    def skipped_text(self) -> str:
        """``skipped 3 finished``, ``skipped 5 (finished 3, unreadable 2)``, ``skipped 0``."""
        reasons = self.skip_reasons()
        if len(reasons) == 1:
            ((reason, n),) = reasons.items()
            return f"skipped {n:,} {reason}"
        return f"skipped {len(self.skipped):,}" + (f" ({_counted(reasons)})" if reasons else "")

    def first_ids(self, count: int = FIRST_IDS) -> list[str]:
        return [t.task_id for t in self.targets[:count]]

    def facts(self, names: int = 3, *, short: bool = False) -> list[tuple[str, str]]:
        """(label, value) lines for a confirmation and a dry run's head: count, statuses, names, first ids, skips.
        ``short``: the ids as the table shows them (their first 8 characters)."""
        facts = [("tasks", f"{len(self.targets):,} to {self.action}")]
        if self.targets:
            facts.append(("status", _counted(self.by_status())))
            facts.append(("name", _counted(self.by_name(), names)))
            more = len(self.targets) - FIRST_IDS
            ids = [i[:8] for i in self.first_ids()] if short else self.first_ids()
            facts.append(("first", " ".join(ids) + (f" (+{more:,})" if more > 0 else "")))
        if self.skipped:
            facts.append(("skipped", _counted(self.skip_reasons())))
        return facts


def _counted(counts: Counter[str], most: int | None = None) -> str:
    items = counts.most_common()
    shown = items if most is None else items[:most]
    text = ", ".join(f"{key} {n:,}" for key, n in shown)
    rest = sum(n for _, n in items[len(shown) :])
    return text + (f", {len(items) - len(shown)} more {rest:,}" if rest else "")


def has_file(record: TaskRecord) -> bool:
    """False for a row taskview added itself (a task it sent, PENDING until its file comes)."""
    return not (record.status == "PENDING" and record.size == 0 and record.error is None)


def plan(
    action: str,
    records: Iterable[TaskRecord],
    *,
    metas: Mapping[str, Any] | None = None,
    stale: Collection[str] = (),
    include_unfinished: bool = False,
) -> Plan:
    """Which of ``records`` ``action`` applies to, and why each other one is skipped.

    - revoke, terminate, kill: unfinished tasks (a finished one has nothing left to stop).
    - retry: finished or stale tasks whose file has a name, args and kwargs (``metas``:
      task id -> the decoded meta, read by the caller; result_extended writes them).
    - forget: result files of finished tasks and groups; unfinished and unreadable ones only
      with ``include_unfinished``; never a row with no file.
    """
    if action not in VERBS:
        raise ValueError(f"unknown action {action!r}")
    result = Plan(action)
    targets, skipped = result.targets, result.skipped
    for record in records:
        status = display_status(record)
        reason = _why_not(action, record, status, metas, stale, include_unfinished)
        if isinstance(reason, str):
            skipped.append(Skip(record.task_id, record.name, status, reason))
            continue
        targets.append(
            Target(record.task_id, record.name, status, record.filename, record.size, record.mtime, reason)
        )
    return result


def _why_not(
    action: str,
    record: TaskRecord,
    status: str,
    metas: Mapping[str, Any] | None,
    stale: Collection[str],
    include_unfinished: bool,
) -> str | Resend | None:
    """The reason ``action`` skips ``record``; else None (or, for retry, what to send)."""
    group = record.kind == "group"
    unreadable = record.error is not None
    finished = record.status in READY_STATES
    if action == "forget":
        if not has_file(record):
            return "no file yet"
        if group:
            return None
        if unreadable and not include_unfinished:
            return "unreadable"
        if not finished and not unreadable and not include_unfinished:
            return "unfinished"
        return None
    if group:
        return "a group"
    if unreadable:
        return "unreadable"
    if action in REVOKING:
        return "finished" if finished else None
    # retry
    if not finished and record.task_id not in stale:
        return "unfinished"
    meta = (metas or {}).get(record.task_id)
    if not isinstance(meta, dict):
        return "file unreadable now"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        # result_extended off, or a task Celery failed before it ran (a chain link or chord body after a
        # failure: written from the failed task, without its own request)
        return "no name in its file (result_extended off, or failed before it ran)"
    args = meta.get("args") or []
    kwargs = meta.get("kwargs") or {}
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
        return "stored args/kwargs unusable"
    queue = meta.get("queue")
    return Resend(name, list(args), dict(kwargs), queue if isinstance(queue, str) and queue else None)


# --- what it did -------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """One task's outcome: ``ok``, or why not (``detail``); ``cancelled``: never tried; ``sent``: the id
    of the new task a retry sent."""

    task_id: str
    name: str | None
    ok: bool
    detail: str = ""
    cancelled: bool = False
    sent: str | None = None


def outcome_line(bulk: Plan, done: Sequence[Done]) -> str:
    """``revoked 182, skipped 3 finished, failed 0`` (and ``cancelled N`` when some were not tried)."""
    ok = sum(1 for d in done if d.ok)
    cancelled = sum(1 for d in done if d.cancelled)
    failed = len(done) - ok - cancelled
    line = f"{bulk.verb} {ok:,}, {bulk.skipped_text()}, failed {failed:,}"
    if cancelled:
        line += f", cancelled {cancelled:,}"
    return line


def detail_lines(bulk: Plan, done: Sequence[Done]) -> list[str]:
    """Every task, one line each: what happened to it (failures first), then the skipped ones."""
    lines = [f"failed     {d.task_id}  {d.name or '?'}  {d.detail}" for d in done if not d.ok and not d.cancelled]
    lines += [f"cancelled  {d.task_id}  {d.name or '?'}" for d in done if d.cancelled]
    lines += [f"{bulk.verb:<10} {d.task_id}  {d.name or '?'}  {d.detail}".rstrip() for d in done if d.ok]
    lines += [f"skipped    {s.task_id}  {s.name or '?'}  {s.status}: {s.reason}" for s in bulk.skipped]
    return lines
