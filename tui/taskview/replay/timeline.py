"""The events a replay plays, in time order, from a directory, an archive or a journal.

A result file holds only a task's last state, so a directory gives one event
per file, at ``date_done`` when the task finished, else at the file's mtime
(Celery writes no start time). A journal recorded with ``--record`` holds
every change taskview saw, each with the meta of that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from ..results.codec import Decoded
from ..results.files import FileRead, parse_name
from ..results.json_output import encode_json
from ..results.record import TaskRecord, display_status
from ..results.scan import FullRead, ResultDirectory


@dataclass(eq=False)
class Event:
    time: float  # epoch seconds
    task_id: str
    status: str | None  # the displayed status after the event; None: the file went away
    record: TaskRecord | None  # what the row shows after it (copied before it enters a store)
    old: str | None = None  # the status before, when known (journals)
    source: str = "mtime"  # where the time comes from: date_done, mtime, or journal
    live: bool = False  # journal: seen while watching, not in the first scan
    meta: dict[str, Any] | None = None  # journal: the meta at that moment


@dataclass(eq=False)
class Timeline:
    path: str
    kind: str  # "directory", "archive" or "journal"
    events: list[Event]
    results: ResultDirectory | None = None  # where a directory's or archive's files are read again
    notices: list[str] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.events[0].time if self.events else 0.0

    @property
    def end(self) -> float:
        return self.events[-1].time if self.events else 0.0

    def full_read(self, event: Event | None, record: TaskRecord) -> FullRead | None:
        """The whole meta behind a row: the journal's copy of that moment, or the file itself."""
        if self.results is not None:
            return self.results.read_full(record.filename)
        parsed = parse_name(record.filename)
        if event is None or parsed is None:
            return None
        read = FileRead(b"", record.size, event.time, record.error)
        decoded = Decoded(event.meta, "json", None, None if event.meta is not None else record.error, plain=True)
        return FullRead(parsed, self.path, read, decoded if event.meta is not None else None)


def from_results(results: ResultDirectory, kind: str = "directory") -> Timeline:
    """One event per result file. Ties in time go by task id, so a copy of a directory replays the same."""
    events = []
    for batch in results.scan():
        for record in batch:
            if record.date_done is not None:
                when, source = record.date_done, "date_done"
            else:
                when, source = record.mtime, "mtime"
            events.append(Event(when, record.task_id, display_status(record), record, source=source))
    events.sort(key=lambda e: (e.time, e.task_id))
    return Timeline(results.path, kind, events, results=results)


def event_row(event: Event) -> dict[str, Any]:
    """What ``--replay --dump jsonl`` prints for one event."""
    record = event.record
    row: dict[str, Any] = {
        "time": event.time,
        "task_id": event.task_id,
        "status": event.status,
        "old": event.old,
        "name": record.name if record is not None else None,
        "kind": record.kind if record is not None else None,
        "source": event.source,
    }
    if record is not None and record.error is not None:
        row["error"] = record.error.message
    return row


def write_events_jsonl(events: Iterable[Event], out: IO[bytes]) -> int:
    count = 0
    for event in events:
        out.write(encode_json(event_row(event), False) + b"\n")
        count += 1
    return count
