"""Follow a result directory: a first scan in batches, then every change, off the UI thread.

inotify (watchdog) is restricted to close-after-write, delete and move: Celery
writes files in place, and only IN_CLOSE_WRITE says a write is whole. The
handler only queues the path; a timer drains the queue at ~20 Hz keeping one
read per file, so a flood of writes costs one read per file per tick. A full
rescan follows an inotify overflow, and a periodic reconcile catches anything
else missed. ``poll_interval`` replaces inotify for network filesystems.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..results.files import parse_name
from ..results.record import TaskRecord
from ..results.scan import ResultDirectory
from .fsinfo import filesystem_type, is_network_filesystem

log = logging.getLogger(__name__)

NETWORK_POLL_INTERVAL = 2.0
#: The first scan's first batch is small, so rows paint at once.
FIRST_BATCH = 200


@dataclass
class TailBatch:
    """What changed since the last batch. Sent from the tail's thread."""

    records: list[TaskRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # task ids whose files are gone
    scanning: bool = False  # part of the first scan (not changes seen while watching)
    scanned: int = 0  # result files the first scan has read so far
    scan_done: bool = False  # the last batch of the first scan
    notice: str | None = None  # something the user should hear about


class _OverflowWatch(logging.Handler):
    """watchdog only logs an inotify overflow; this turns the log line into a flag."""

    def __init__(self, flag: threading.Event) -> None:
        super().__init__(logging.WARNING)
        self.flag = flag

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage():
            self.flag.set()


class DirectoryTail:
    def __init__(
        self,
        results: ResultDirectory,
        deliver: Callable[[TailBatch], None],
        *,
        poll_interval: float | None = None,
        tick: float = 0.05,
        reconcile_interval: float = 30.0,
        scan_batch: int = 2000,
        first_batch: int = FIRST_BATCH,
    ) -> None:
        self.results = results
        self.deliver = deliver
        self.tick = tick
        self.reconcile_interval = reconcile_interval
        self.scan_batch = scan_batch
        self.first_batch = first_batch
        self.fs_type = filesystem_type(results.path)
        self.network = is_network_filesystem(self.fs_type)
        if poll_interval is None and self.network:
            poll_interval = NETWORK_POLL_INTERVAL
        self.poll_interval = poll_interval
        self._events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._overflowed = threading.Event()
        self._overflow_log = _OverflowWatch(self._overflowed)
        # task id -> the record last read from its file: its (mtime, size) tell a
        # reconcile what changed. The store holds the same objects, so this costs
        # a dict entry per task rather than a filename and a tuple (~200 B).
        self._known: dict[str, TaskRecord] = {}
        self._thread: threading.Thread | None = None
        self._observer = None
        self._observer_lock = threading.Lock()
        # inotify watches what a symlink points to only when given the real path.
        self._watched = os.path.realpath(results.path)
        self.fallback: str | None = None  # why inotify could not be used

    @property
    def mode(self) -> str:
        """How changes are noticed, for the status bar."""
        if self.poll_interval is None:
            return "inotify"
        text = f"polling {self.poll_interval:g}s"
        if self.fallback:
            text += f" ({self.fallback})"
        elif self.network:
            text += f" ({self.fs_type}: network filesystem)"
        return text

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskview-tail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._observer_lock:
            if self._observer is not None:
                self._observer.stop()
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._overflow_log)
        if self._thread is not None:
            self._thread.join(timeout=2)

    # --- the thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self.poll_interval is None:
                try:
                    self._start_inotify()
                except OSError as exc:
                    # e.g. fs.inotify.max_user_instances reached: poll instead, and say so.
                    self.poll_interval = NETWORK_POLL_INTERVAL
                    self.fallback = f"inotify unavailable: {exc.strerror or exc}"
                    self.deliver(TailBatch(notice=f"{self.fallback}; polling every {self.poll_interval:g}s"))
            self._scan(initial=True)
            interval = self.tick if self.poll_interval is None else self.poll_interval
            next_reconcile = time.monotonic() + self.reconcile_interval
            while not self._stop.wait(interval):
                if self._overflowed.is_set():
                    self._overflowed.clear()
                    self._drain_events()  # what is queued is superseded by the rescan
                    self._scan(notice="inotify queue overflowed: rescanned the directory")
                elif self.poll_interval is not None:
                    self._scan()
                else:
                    self._read_events()
                if self.poll_interval is None and time.monotonic() >= next_reconcile:
                    started = time.monotonic()
                    self._scan()
                    # Never spend more than ~10 % of a core on reconciling.
                    spent = time.monotonic() - started
                    next_reconcile = time.monotonic() + max(self.reconcile_interval, spent * 10)
        except Exception as exc:  # keep the UI alive and say what broke
            log.exception("directory tail failed")
            self.deliver(TailBatch(notice=f"watching stopped: {exc}"))

    def _start_inotify(self) -> None:
        from watchdog.events import (
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileMovedEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        events = self._events

        class Enqueue(FileSystemEventHandler):
            def dispatch(self, event):  # type: ignore[no-untyped-def]
                events.put(os.fsdecode(event.src_path))
                if event.event_type == "moved":
                    events.put(os.fsdecode(event.dest_path))

        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._overflow_log)
        observer = Observer()
        observer.schedule(
            Enqueue(),
            self._watched,
            recursive=False,
            # Created: a file moved in from elsewhere (rsync, a restore) raises only that.
            event_filter=[FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileMovedEvent],
        )
        observer.daemon = True
        with self._observer_lock:
            if self._stop.is_set():
                return  # stop() came first: start nothing it would not stop
            observer.start()
            self._observer = observer

    def _drain_events(self) -> set[str]:
        names: set[str] = set()
        prefix = self._watched + os.sep
        while True:
            try:
                path = self._events.get_nowait()
            except queue.Empty:
                return names
            if path.startswith(prefix):
                names.add(path[len(prefix) :])

    def _read_events(self) -> None:
        batch = TailBatch()
        for filename in self._drain_events():
            parsed = parse_name(filename)
            if parsed is not None:
                self._read_into(batch, filename, parsed)
        if batch.records or batch.removed:
            self.deliver(batch)

    def _read_into(self, batch: TailBatch, filename: str, parsed=None) -> None:  # type: ignore[no-untyped-def]
        record = self.results.read_record(filename, parsed)
        if record is None:
            return
        if record.error is not None and record.error.startswith("gone"):
            if self._known.pop(record.task_id, None) is not None:
                batch.removed.append(record.task_id)
            return
        self._known[record.task_id] = record
        batch.records.append(record)

    def _scan(self, *, initial: bool = False, notice: str | None = None) -> None:
        """Read what is new or changed in the directory; report what vanished.

        Streams: rows reach the UI while the listing is still going, the first
        ones after a few hundred files. ``initial`` reads everything; later
        scans read only files whose mtime or size differ from the last read.
        """
        batch = TailBatch(scanning=initial, notice=notice)
        limit = self.first_batch if initial else self.scan_batch
        scanned = 0
        present: set[str] = set()
        try:
            with os.scandir(self.results.path) as entries:
                for entry in entries:
                    if self._stop.is_set():
                        return  # quitting: a long first scan must not hold the exit up
                    parsed = parse_name(entry.name)
                    if parsed is None:
                        continue
                    if not initial:
                        present.add(parsed.task_id)
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        known = self._known.get(parsed.task_id)
                        if known is not None and known.mtime == st.st_mtime and known.size == st.st_size:
                            continue
                    self._read_into(batch, entry.name, parsed)
                    scanned += 1
                    if len(batch.records) >= limit:
                        batch.scanned = scanned
                        self.deliver(batch)
                        batch, limit = TailBatch(scanning=initial), self.scan_batch
        except OSError as exc:
            self.deliver(TailBatch(scanning=initial, scan_done=initial, notice=f"cannot list {self.results.path}: {exc.strerror or exc}"))
            return
        gone = [] if initial else [task_id for task_id in self._known if task_id not in present]
        for task_id in gone:
            del self._known[task_id]
            batch.removed.append(task_id)
        batch.scanned = scanned
        batch.scan_done = initial
        if batch.records or batch.removed or batch.notice or initial:
            self.deliver(batch)
