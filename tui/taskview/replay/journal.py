"""``--record FILE``: every change the live view sees, one JSON object a line (JSONL).

A line: ``{"time", "task_id", "kind", "file", "old", "new", "live", "size", "error", "problem", "meta"}``:
``time`` is the file's mtime at that write (epoch seconds), ``old``/``new`` the
displayed statuses before and after (``old`` null on first sight, ``new`` null
when the file went away), ``live`` false for what the first scan found,
``error`` why the file could not be used and ``problem`` the same as [kind,
reason, detail] (see ``results/problems.py``), and ``meta`` the whole decoded
meta of that moment (values JSON cannot hold as
their repr). Lines are written by a thread of their own, flushed after each
batch, so a killed session loses at most its last batch and the UI never
waits on the disk; a torn last line is ignored when the journal is read.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

import orjson

from ..results.codec import Decoded
from ..results.files import GROUP_PREFIX, TASK_PREFIX, ResultName, parse_name
from ..results.json_output import encode_json
from ..results.problems import Problem, ProblemKind
from ..results.record import TaskRecord, display_status, summarize
from ..results.scan import FullRead, ResultDirectory
from .timeline import Event, Timeline

if TYPE_CHECKING:
    from ..store import Store


class JournalError(ValueError):
    """The file is not a journal taskview can replay; ``str()`` is one line."""


# --- writing ---------------------------------------------------------------------


class JournalWriter:
    """Appends lines from a thread of its own; ``write`` only queues."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        if os.path.isdir(self.path):
            raise IsADirectoryError(21, "is a directory", self.path)
        self._out: IO[bytes] = open(self.path, "ab")  # raises OSError: the CLI reports it
        self._queue: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="taskview-journal", daemon=True)
        self._thread.start()
        self.error: str | None = None  # set when the disk refused a write
        self.written = 0

    def write(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            self._queue.put(entries)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        done = False
        while not done:
            chunk = [self._queue.get()]
            while True:  # everything queued meanwhile goes out in one write and one flush
                try:
                    chunk.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines: list[bytes] = []
            for entries in chunk:
                if entries is None:
                    done = True
                    continue
                lines.extend(encode_json(entry, False) for entry in entries)
            if lines and self.error is None:
                try:
                    self._out.write(b"\n".join(lines) + b"\n")
                    self._out.flush()
                    self.written += len(lines)
                except OSError as exc:
                    self.error = f"recording stopped: {exc.strerror or exc}"
        try:
            self._out.close()
        except OSError:
            pass


class Recorder:
    """Owned by the live app: turns each batch it applies into journal lines.

    ``watch`` gives the tail a directory that keeps the meta of every read, so
    a line carries the exact meta the row was built from (Celery rewrites the
    file in place: reading it again later could give a newer state).
    """

    def __init__(self, writer: JournalWriter) -> None:
        self.writer = writer
        self._metas: dict[tuple[str, float, int], Any] = {}
        self._lock = threading.Lock()

    def watch(self, results: ResultDirectory) -> ResultDirectory:
        return _MetaKeepingDirectory(results, self)

    def keep(self, full: FullRead) -> None:
        if full.meta is not None:
            with self._lock:
                self._metas[(full.name.task_id, full.read.mtime, full.read.size)] = full.meta

    def before(self, store: Store, records: Iterable[TaskRecord], removed: Iterable[str]) -> dict[str, str | None]:
        """The displayed status of each id in a batch, before the store takes it (None for a
        task known only by a read mid-write: that read is not history)."""
        olds: dict[str, str | None] = {}
        for task_id in [r.task_id for r in records] + list(removed):
            olds[task_id] = store.known_status(task_id)
        return olds

    def after(
        self,
        store: Store,
        olds: dict[str, str | None],
        records: list[TaskRecord],
        changed: list[str],
        removed: list[str],
        *,
        live: bool,
    ) -> None:
        """Queue one line per changed row and per file gone; forget the metas of this batch."""
        with self._lock:
            metas = {r.task_id: self._metas.pop((r.task_id, r.mtime, r.size), None) for r in records}
        entries = []
        for task_id in changed:
            record = store.get(task_id)
            # A read mid-write (empty, cut) is not a state the task was in: the whole write comes next.
            if record is not None and (record.error is None or not record.error.partial):
                entries.append(_entry(record, olds.get(task_id), metas.get(task_id), live))
        now = time.time()  # a deleted file has no mtime left
        for task_id in removed:
            if olds.get(task_id) is not None:
                entries.append({"time": now, "task_id": task_id, "old": olds[task_id], "new": None, "live": live})
        self.writer.write(entries)

    def close(self) -> None:
        self.writer.close()


def _entry(record: TaskRecord, old: str | None, meta: Any, live: bool) -> dict[str, Any]:
    return {
        "time": record.mtime,
        "task_id": record.task_id,
        "kind": record.kind,
        "file": record.filename,
        "old": old,
        "new": display_status(record),
        "live": live,
        "size": record.size,
        "error": None if record.error is None else record.error.message,
        "problem": None if record.error is None else record.error.as_row(),
        "meta": meta,
    }


class _MetaKeepingDirectory(ResultDirectory):
    """The same directory; every full read also hands its meta to the recorder."""

    forkable = False  # reads must happen here, where the recorder sees them

    def __init__(self, results: ResultDirectory, recorder: Recorder) -> None:
        super().__init__(results.path, allow_pickle=results.allow_pickle, max_bytes=results.max_bytes)
        self._recorder = recorder

    def read_full(self, filename: str, parsed: ResultName | None = None, *, exact: bool = True) -> FullRead | None:
        full = super().read_full(filename, parsed, exact=exact)
        if full is not None:
            self._recorder.keep(full)
        return full


# --- reading ---------------------------------------------------------------------


def read_journal(path: str) -> Timeline:
    """Every line as an event, in time order (ties keep the journal's order)."""
    events: list[Event] = []
    notices: list[str] = []
    bad = 0
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    torn = lines[-1] != b""  # no newline at the end: the writer was stopped mid-line
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = _event(orjson.loads(line))
        except Exception:  # one line no replay should choke on (bad JSON, odd meta) never stops it
            if torn and number == len(lines):
                notices.append("the journal's last line is cut (the session was killed mid-write): ignored")
            else:
                bad += 1
            continue
        events.append(event)
    if not events and bad:
        raise JournalError(f"not a taskview journal (--record): {path}")
    if bad:
        notices.append(f"{bad:,} journal lines not understood: skipped")
    events.sort(key=lambda e: e.time)
    return Timeline(os.path.abspath(path), "journal", events, notices=notices)


def _problem(line: dict[str, Any]) -> Problem | None:
    """The line's problem: its kind as recorded, or (a journal from before kinds were) any error as unreadable."""
    problem, error = line.get("problem"), line.get("error")
    if isinstance(problem, list) and len(problem) == 3 and all(isinstance(p, str) for p in problem):
        try:
            return Problem.from_row(problem)
        except ValueError:  # a kind this version does not know
            pass
    return Problem(ProblemKind.UNREADABLE, error) if isinstance(error, str) else None


def _event(line: Any) -> Event:
    if not isinstance(line, dict):
        raise ValueError("not an object")
    when, task_id, new = line["time"], line["task_id"], line["new"]
    if not isinstance(when, (int, float)) or isinstance(when, bool) or not isinstance(task_id, str) or not task_id:
        raise ValueError("bad time or task_id")
    if not 0 <= when < 1e11:  # NaN and times beyond the year 5000: not a time a worker wrote
        raise ValueError("time out of range")
    if new is not None and not isinstance(new, str):
        raise ValueError("bad status")
    old = line.get("old") if isinstance(line.get("old"), str) else None
    live = line.get("live") is True
    if new is None:
        return Event(float(when), task_id, None, None, old=old, source="journal", live=live)
    kind = "group" if line.get("kind") == "group" else "task"
    parsed = parse_name(line["file"]) if isinstance(line.get("file"), str) else None
    prefix = parsed.prefix if parsed is not None else (GROUP_PREFIX if kind == "group" else TASK_PREFIX)
    meta = line.get("meta")
    error = _problem(line)
    size = line["size"] if isinstance(line.get("size"), int) else 0
    decoded = Decoded(meta, "json", None, None, plain=True) if isinstance(meta, dict) else None
    record = summarize(task_id, kind, prefix, decoded, size=size, mtime=float(when), error=error)
    if decoded is None and error is None:
        record.status = new  # a line without its meta still says what the status was
    return Event(
        float(when),
        task_id,
        display_status(record),
        record,
        old=old,
        source="journal",
        live=live,
        meta=meta if isinstance(meta, dict) else None,
    )
