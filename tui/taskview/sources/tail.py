"""Follow a result directory: a first scan in batches, then every change, off the UI thread.

inotify is restricted to close-after-write, delete and move: Celery writes
files in place, and only IN_CLOSE_WRITE says a write is whole. On Linux the
tail's thread waits on the inotify descriptor itself (``inotify_watch``);
elsewhere a watchdog observer queues each path and wakes it. Woken, it waits a
tick (50 ms) more and takes what is queued keeping one read per file, so a flood
of writes costs one read per file per tick; with nothing queued it sleeps (a
quiet directory costs a wake-up a second, not twenty). A full
rescan follows an inotify overflow, and a periodic reconcile catches anything
else missed. ``poll_interval`` replaces inotify for network filesystems.

The directory itself is checked every tick and at least once a second (one
stat): deleted, renamed away,
replaced (a new directory or a symlink at its path) or unreadable, the rows last
read stay, ``problem`` says why, and the tail re-attaches by itself when a
directory is back at the path. A file left cut short (a full filesystem, a
writer killed mid-write) is not "being written": after ``settle`` seconds
unchanged it becomes an unreadable row, its last good state kept in the history.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING

from ..results.files import ResultName, parse_name
from ..results.problems import ProblemKind, cut_short
from ..results.record import TaskRecord
from ..results.scan import ResultDirectory
from ..store import first_sight
from .child_scan import BIG_DIRECTORY_BYTES, ChildScanFailed, ReaderPool, id_bounds, reader_count, worth_a_child
from .fsinfo import directory_times_trusted, filesystem_type, is_network_filesystem
from .known import KnownRecords
from .recent_order import RecentOrder
from .scan_index import Header, IndexWriter, open_index
from .wakeup import Wakeup

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver

    from .inotify_watch import DirectoryWatch

log = logging.getLogger(__name__)

NETWORK_POLL_INTERVAL = 2.0
#: Watch with inotify directly (the tail's thread reads it); elsewhere a watchdog observer.
NATIVE_INOTIFY = sys.platform == "linux"
#: With nothing queued, the directory is still checked (cut files settled, reconciles run) this often.
IDLE_SECONDS = 1.0
#: A reconcile waits at least this many times as long as the last one took.
RECONCILE_SHARE = 200
#: The first scan's first batch is small, so rows paint at once.
FIRST_BATCH = 200
#: Names of the listing whose ids cut a first scan's shares between its readers (``_id_sample``).
ID_SAMPLE = 5000
#: Under a stream of changes, a batch at most this often (a trickle's first change goes at once).
STREAM_SECONDS = 0.2
#: This many changes queued is a flood: they go at once, whenever the last batch went.
STREAM_FLOOD = 20
#: A first scan merges its order this long between two looks at its readers' pipes. Each look is a
#: system call that hands the GIL over and takes it back at once, which restarts the UI thread's
#: wait for it (CPython forces a switch only after 5 ms of waiting with no hand-over): looks every
#: 4 ms starved the UI for 45-70 ms at a time; three times the switch interval lets it in.
MERGE_SLICE = 0.015
#: A cut file unchanged this long is not being written any more.
SETTLE_SECONDS = 3.0
#: Less free space than this, and a cut file is blamed on a full filesystem.
FULL_BELOW = 64 * 1024


@dataclass
class TailBatch:
    """What changed since the last batch. Sent from the tail's thread."""

    records: list[TaskRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # task ids whose files are gone
    scanning: bool = False  # part of the first scan (not changes seen while watching)
    scanned: int = 0  # result files the first scan has read so far
    scan_done: bool = False  # the last batch of the first scan
    notice: str | None = None  # something the user should hear about
    # A first scan's records new to the store, sorted by id, their first-sight times set:
    # for Store.add_scanned, which takes them in bulk.
    in_id_order: bool = False
    # Every record the first scan has sent so far (up to this batch), in the store's
    # RECENT_ORDER, for Store.adopt_order: the table's next sort is made already.
    order: list[TaskRecord] | None = None
    # How many rows the whole first scan will hold by display status, known before they all
    # came (a reopen's readers check every file against the scan index first): sent once.
    census: Counter[str] | None = None


class _OverflowWatch(logging.Handler):
    """watchdog only logs an inotify overflow; this turns the log line into a flag."""

    def __init__(self, flag: threading.Event, wake: Wakeup) -> None:
        super().__init__(logging.WARNING)
        self.flag = flag
        self.wake = wake

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage():
            self.flag.set()
            self.wake.set()


class DirectoryTail:
    def __init__(
        self,
        results: ResultDirectory,
        deliver: Callable[[TailBatch], None] | None = None,
        *,
        poll_interval: float | None = None,
        tick: float = 0.05,
        reconcile_interval: float = 30.0,
        scan_batch: int = 2000,
        first_batch: int = FIRST_BATCH,
        child_scan_bytes: int = BIG_DIRECTORY_BYTES,
        settle: float = SETTLE_SECONDS,
        cache_dir: str | None = None,
    ) -> None:
        """``cache_dir``: where a big directory's first scan keeps its index (``scan_index``),
        None for none."""
        self.results = results
        #: Where batches go; set before ``start`` when the tail was made before its UI (``prepare``).
        self.deliver = deliver if deliver is not None else _not_started
        self.tick = tick
        self.reconcile_interval = reconcile_interval
        self.scan_batch = scan_batch
        self.first_batch = first_batch
        self.child_scan_bytes = child_scan_bytes  # directories this big are first read by a child process
        self.settle = settle
        # --allow-pickle: summaries of unpickled content are neither taken from an index nor written to one.
        self.cache_dir = None if results.allow_pickle else cache_dir
        #: How the first scan's readers used the index: {"reused": files not read again, "read": files read}.
        self.index_use: dict[str, int] | None = None
        self.fs_type = filesystem_type(results.path)
        self.network = is_network_filesystem(self.fs_type)
        if poll_interval is None and self.network:
            poll_interval = NETWORK_POLL_INTERVAL
        self.poll_interval = poll_interval
        self._events: queue.SimpleQueue[str] = queue.SimpleQueue()  # paths, from watchdog's observer
        self._watched_names: set[str] = set()  # names, read from the inotify watch and not yet taken
        self._stop = threading.Event()
        self._wake = Wakeup()  # something is queued (or stop): the thread has work
        self._overflowed = threading.Event()
        self._watch_lost = threading.Event()  # inotify saw the watched directory itself deleted
        self._overflow_log = _OverflowWatch(self._overflowed, self._wake)
        # task id -> the record last read from its file: its (mtime, size) tell a
        # reconcile what changed (the store holds the same objects).
        self._known = KnownRecords()
        # Read every file at the next rescan, whatever its (mtime, size): they say
        # nothing across directories. Cleared once a rescan has gone through.
        self._reread_all = False
        self._thread: threading.Thread | None = None
        # Set by ``start``: until then a thread begun by ``prepare`` delivers nothing.
        self._go = threading.Event()
        self._reader: ReaderPool | None = None  # the reader processes of a first scan
        self.readers = reader_count()  # how many, for a big directory's first scan
        self._observer: BaseObserver | None = None  # watchdog's, where inotify is not read directly
        # Linux: the directory's inotify watch, waited on and read by the tail's thread (and
        # closed by it: stop() from another thread only asks it to end).
        self._watch: DirectoryWatch | None = None
        self._observer_lock = threading.Lock()
        # inotify watches what a symlink points to only when given the real path.
        self._watched = os.path.realpath(results.path)
        self.fallback: str | None = None  # why inotify could not be used
        #: What is wrong with the directory now (gone, unreadable...), else None. Set by the tail's thread.
        self.problem: str | None = None
        self._identity = _identity(results.path)
        self._cut: dict[str, tuple[float, int, float]] = {}  # filename -> (mtime, size, monotonic) of a cut read
        # task id -> record of the first screenful, when read before the watch started (read_first_screenful).
        self._early: dict[str, TaskRecord] | None = None
        # Last, so that the mutants numbered before it in mutation/EQUIVALENT.md keep their numbers.
        self.index_kept = False  # the last index kept as it was: no file changed since
        self.first_scan_over = False  # its last batch sent (or the tail stopped during it)

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

    def read_first_screenful(self, seconds: float | None = None) -> TailBatch:
        """The first rows, read by the caller before ``start``, so that they can be on
        the first frame (in the tail's thread they wait ~0.2 s for the GIL while the
        UI starts). Files that change or go before the watch starts are caught by the
        first scan, which reads every file again once it has. ``seconds``: stop
        reading then (a slow disk, big files), with what was read."""
        batch = TailBatch(scanning=True)
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            for filename, parsed in islice(self.results.iter_names(), self.first_batch):
                self._read_into(batch, filename, parsed)
                if deadline is not None and time.monotonic() > deadline:
                    break
        except OSError:
            return TailBatch(scanning=True)  # the first scan says what is wrong
        batch.scanned = len(batch.records)
        first_sight(batch.records)  # as the store will: the first scan's order sorts them by it
        self._early = {r.task_id: r for r in batch.records}
        return batch

    def prepare(self) -> None:
        """Begin before the UI is up: the tail's thread starts the watch, then waits for ``start``
        (set ``deliver`` before it). A big directory's ``inotify_add_watch`` holds a core in the
        kernel for 70-90 ms, and begun from the UI's first frame it took the tail's thread ~0.2 s
        (the first paint holds the GIL): begun while the UI is imported, on the other core, the
        first scan's readers start that much sooner. Not the readers themselves: their start and
        listing beside the UI's import made the first rows ~50 ms later (0.48-0.53 s against
        0.40-0.46 s, with an empty directory's first frame at 0.39-0.49 s, 2026-12-04)."""
        self._begin(prepared=True)

    def start(self) -> None:
        self._go.set()
        if self._thread is None:
            self._begin(prepared=False)

    def _begin(self, *, prepared: bool) -> None:
        self._thread = threading.Thread(target=self._run, args=(prepared,), name="taskview-tail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()
        self._wake.set()
        if self._reader is not None:
            self._reader.stop()  # a first scan in a child process ends now
        with self._observer_lock:
            # Taken: stopped here at once (its threads are not the tail's), not again as the tail's thread ends.
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._overflow_log)
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._thread is None or not self._thread.is_alive():
            self._stop_inotify()  # a thread still running closes its watch itself when it ends

    # --- the thread ------------------------------------------------------------

    def _run(self, prepared: bool = False) -> None:
        """The tail's thread; ``prepared``: begun by ``prepare``, it waits for ``start``."""
        try:
            notice = self._watch_or_poll() if self.poll_interval is None else None
            if prepared:
                self._go.wait()
            if self._stop.is_set():
                return
            if notice is not None:
                self.deliver(notice)
            started = time.monotonic()
            self._scan(initial=True)
            self.first_scan_over = True
            next_reconcile = time.monotonic() + self._first_reconcile_wait(time.monotonic() - started)
            # The interval is read each time: a directory that comes back may have to be polled.
            while self._wait():
                if not self._directory_usable():
                    continue
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
                    # It only catches what inotify missed (an overflow rescans at once): at
                    # most ~0.5 % of a core, what an idle inspector may cost in all (a 1M
                    # directory's listing and stats, ~10 s here, then once in ~35 minutes).
                    spent = time.monotonic() - started
                    next_reconcile = time.monotonic() + max(self.reconcile_interval, spent * RECONCILE_SHARE)
                if self._cut:
                    self._settle_cut_files()
        except Exception as exc:  # keep the UI alive and say what broke
            log.exception("directory tail failed")
            # A first scan cut short ends here for the UI too (its progress, its pause of the
            # garbage collector).
            over = self.first_scan_over
            if prepared:
                self._go.wait()  # said once there is a UI to say it (stop() sets it too)
            if self.deliver is not _not_started:
                self.deliver(TailBatch(notice=f"watching stopped: {exc}", scanning=not over, scan_done=not over))
        finally:
            self._stop_inotify()

    def _first_reconcile_wait(self, scan_seconds: float) -> float:
        """How long after the first scan (which took ``scan_seconds``) the first reconcile waits:
        ``RECONCILE_SHARE`` times what it will cost, guessed from the scan. A reconcile lists the
        directory and stats each file in this thread: a tenth of a scan that read and decoded every
        file here, about as long as one read by reader processes (measured on 2026-12-02: 0.8 s
        after a 1.1 s scan of 100k files, 10.3 s after a 10.1 s scan of 1M, which had waited 200 s
        and now waits 2,000)."""
        spent = scan_seconds if self._reader is not None else scan_seconds / 10
        return max(self.reconcile_interval, spent * RECONCILE_SHARE)

    def _wait(self) -> bool:
        """Until there is something to do (or a tick, polling); False once stopped."""
        if self.poll_interval is not None:
            return not self._stop.wait(self.poll_interval)
        watching = () if self._watch is None else (self._watch.fileno(),)
        if self._wake.wait(IDLE_SECONDS, *watching) and not self._stop.wait(self.tick):
            # A tick after the first event: a burst of writes to one file is read once.
            self._wake.clear()  # before the queue is drained: a later event wakes it again
            self._gather()
        # Every queued event read now: the loop may skip this tick (the directory gone), and
        # the descriptor would stay readable and never let the thread sleep.
        self._pull_watch()
        return not self._stop.is_set()

    #: See STREAM_SECONDS (tests make it 0).
    stream_seconds = STREAM_SECONDS
    _gathered = -float("inf")  # when the last batch was gathered (monotonic)

    def _gather(self) -> None:
        """Under a stream of changes (the last batch gathered less than ``stream_seconds`` ago),
        wait until that long after it, so that more changes come in this batch: each batch costs
        the UI a message and an intake whatever it holds (at 70 writes/s, 15 batches a second
        cost a third of the inspector's CPU), and a trickle is redrawn twice a second anyway
        (``RefreshPace``). Not under a flood (``STREAM_FLOOD`` changes queued): it shows at the
        flood's pace, as soon as may be."""
        rest = self._gathered + self.stream_seconds - time.monotonic()
        if rest > 0 and self._queued() < STREAM_FLOOD:
            self._stop.wait(rest)
        self._gathered = time.monotonic()

    def _queued(self) -> int:
        """How many changes wait to be read."""
        self._pull_watch()
        return self._events.qsize() + len(self._watched_names)

    def _pull_watch(self) -> None:
        """Read the inotify watch's queued events (without waiting) into the names to read and the flags.
        Also between a scan's batches: the kernel queues 16,384 events (fs.inotify.max_queued_events),
        and a first scan of a 1M directory takes ~15 s, 1,000 writes a second at most."""
        if self._watch is None:
            return
        changes = self._watch.read()
        self._watched_names |= changes.names
        if changes.overflowed:
            self._overflowed.set()
        if changes.ended:
            self._watch_lost.set()

    #: How often a scan reads the inotify watch (see ``_pull_watch_while_scanning``).
    SCAN_PULL_SECONDS = 0.1
    _pulled = -float("inf")  # when a scan last read it (monotonic)

    def _pull_watch_while_scanning(self) -> None:
        """``_pull_watch`` between a scan's pieces of work, at most every ``SCAN_PULL_SECONDS``: each
        read is a system call, which hands the GIL over and takes it back at once, and CPython's
        GIL then restarts the UI thread's wait for it (the UI stopped for 0.35 s in a 1M first
        scan's last merge, read at each of its steps)."""
        now = time.monotonic()
        if now - self._pulled >= self.SCAN_PULL_SECONDS:
            self._pulled = now
            self._pull_watch()

    def _watch_or_poll(self) -> TailBatch | None:
        """Start inotify; when it cannot be (e.g. fs.inotify.max_user_instances reached), poll,
        and the batch that says so."""
        try:
            self._start_inotify()
        except OSError as exc:
            self.poll_interval = NETWORK_POLL_INTERVAL
            self.fallback = f"inotify unavailable: {exc.strerror or exc}"
            return TailBatch(notice=f"{self.fallback}; polling every {self.poll_interval:g}s")
        return None

    def _start_inotify(self) -> None:
        """Watch ``self._watched``; raises OSError when inotify cannot be used."""
        if NATIVE_INOTIFY:
            from .inotify_watch import DirectoryWatch

            watch = DirectoryWatch(self._watched)
            with self._observer_lock:
                self._watch = watch
        else:
            self._start_observer()

    def _start_observer(self) -> None:
        """Watch ``self._watched`` with watchdog's observer, which queues paths in ``_events``."""
        from watchdog.events import (
            DirDeletedEvent,
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileMovedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        events = self._events
        root, watch_lost, wake = self._watched, self._watch_lost, self._wake

        class Enqueue(FileSystemEventHandler):
            def dispatch(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    if event.event_type == "deleted" and os.fsdecode(event.src_path) == root:
                        watch_lost.set()  # the watch died with it
                        wake.set()
                    return
                events.put(os.fsdecode(event.src_path))
                if event.event_type == "moved":
                    events.put(os.fsdecode(event.dest_path))
                wake.set()

        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._overflow_log)
        observer = Observer()
        observer.schedule(
            Enqueue(),
            self._watched,
            recursive=False,
            # Created: a file moved in from elsewhere (rsync, a restore) raises only that.
            event_filter=[FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileMovedEvent, DirDeletedEvent],
        )
        observer.daemon = True
        with self._observer_lock:
            if self._stop.is_set():
                return  # stop() came first: start nothing it would not stop
            observer.start()
            self._observer = observer

    def _stop_inotify(self) -> None:
        with self._observer_lock:
            observer, self._observer = self._observer, None
            watch, self._watch = self._watch, None
        if observer is not None:
            observer.stop()  # not joined: its thread is a daemon and may be stuck on a dead watch
        if watch is not None:
            watch.close()

    # --- the directory itself ----------------------------------------------------

    def _directory_usable(self) -> bool:
        """Check the directory (one stat); on a change of state say so and re-attach. False: skip this tick."""
        path = self.results.path
        now = _identity(path)
        if isinstance(now, str):
            if now != self.problem:
                self.problem = now
                self._drain_events()  # events of a directory that is not there any more
                log.warning("directory %s: %s", path, now)
                self.deliver(
                    TailBatch(notice=f"{path}: {now}; showing the rows last read, waiting for it to come back")
                )
            return False
        replaced = now != self._identity
        # Deleted and recreated within one tick can reuse the inode number: the dead watch says so.
        lost = self._watch_lost.is_set()
        if self.problem is None and not replaced and not lost:
            return True
        self._watch_lost.clear()
        was, self.problem = self.problem, None
        self._identity = now
        # Watch it afresh, and read every file again: (mtime, size) say nothing across directories.
        self._watched = now[2]
        if self.poll_interval is None:
            self._stop_inotify()
            self._watch_or_poll()
        self._reread_all = True
        self._drain_events()
        if was is None and replaced:
            notice = f"{path}: another directory now (replaced, or a symlink switched); rescanned"
        elif was is None or not was.startswith("directory unreadable"):
            notice = f"{path}: a directory is back at this path; rescanned"
        else:
            notice = f"{path}: directory readable again; rescanned"
        log.warning(notice)
        self._scan(notice=notice)
        return False

    def _settle_cut_files(self) -> None:
        """Files read cut short and unchanged for ``settle`` s: no write is coming, show them as they are."""
        now = time.monotonic()
        batch = TailBatch()
        for filename, (mtime, size, since) in list(self._cut.items()):
            if now - since < self.settle:
                continue
            del self._cut[filename]
            parsed = parse_name(filename)
            record = self.results.read_record(filename, parsed) if parsed is not None else None
            error = record.error if record is not None else None
            if record is None or error is None or not error.partial or (record.mtime, record.size) != (mtime, size):
                if record is not None:
                    self._take(batch, filename, record)  # it moved on: the normal path
                continue
            record.error = cut_short(error, self.settle)
            self._known.put(record)
            batch.records.append(record)
        if not batch.records and not batch.removed:
            return
        cut = sum(1 for r in batch.records if r.error is not None and r.error.kind is ProblemKind.CUT_SHORT)
        if cut:
            free = _free_bytes(self.results.path)
            if free is not None and free < FULL_BELOW:
                batch.notice = f"filesystem full ({free:,} bytes free): {cut} file(s) cut short"
            else:
                batch.notice = f"{cut} file(s) cut short and not rewritten (a writer killed mid-write?)"
            log.warning("%s in %s", batch.notice, self.results.path)
        self.deliver(batch)

    def _drain_events(self) -> set[str]:
        """The names of the entries changed since the last drain, each once."""
        self._pull_watch()
        names, self._watched_names = self._watched_names, set()
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

    def _read_into(self, batch: TailBatch, filename: str, parsed: ResultName | None = None) -> None:
        record = self.results.read_record(filename, parsed)
        if record is not None:
            self._take(batch, filename, record)

    def _take(self, batch: TailBatch, filename: str, record: TaskRecord) -> None:
        """Remember what was read of one file and pass it on (or its removal)."""
        if record.error is not None and record.error.kind is ProblemKind.GONE:
            if self._known.pop(record.task_id) is not None:
                batch.removed.append(record.task_id)
            return
        self._known.put(record)
        if record.error is not None and record.error.partial:
            if self._cut.get(filename, (None, None))[:2] != (record.mtime, record.size):
                self._cut[filename] = (record.mtime, record.size, time.monotonic())
        else:
            self._cut.pop(filename, None)
        batch.records.append(record)

    def _scan(self, *, initial: bool = False, notice: str | None = None) -> None:
        """Read what is new or changed in the directory; report what vanished.

        Streams: rows reach the UI while the listing is still going, the first
        ones after a few hundred files. ``initial`` reads everything; later
        scans read only files whose mtime or size differ from the last read.
        """
        if initial and worth_a_child(self.results, self.child_scan_bytes):
            try:
                self._first_scan_in_child()
                return
            except ChildScanFailed as exc:
                log.warning("reading %s in a child process failed (%s): reading it here", self.results.path, exc)
        batch = TailBatch(scanning=initial, notice=notice)
        if initial:
            batch.removed.extend(self._early_gone())
        limit = self.first_batch if initial else self.scan_batch
        began = time.monotonic()
        scanned = 0
        present: set[str] = set()
        reread_all = self._reread_all
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
                        known = None if reread_all else self._known.get(parsed.task_id)
                        if known is not None and known.mtime == st.st_mtime and known.size == st.st_size:
                            continue
                    self._read_into(batch, entry.name, parsed)
                    scanned += 1
                    if len(batch.records) >= limit:
                        batch.scanned = scanned
                        self._pull_watch_while_scanning()
                        self.deliver(batch)
                        batch, limit = TailBatch(scanning=initial), self.scan_batch
        except OSError as exc:
            self.deliver(
                TailBatch(
                    scanning=initial,
                    scan_done=initial,
                    removed=batch.removed,
                    notice=f"cannot list {self.results.path}: {exc.strerror or exc}",
                )
            )
            return
        gone = [] if initial else [task_id for task_id in self._known if task_id not in present]
        for task_id in gone:
            self._known.pop(task_id)
            batch.removed.append(task_id)
        if not initial:
            self._reread_all = False  # this rescan went through
        batch.scanned = scanned
        batch.scan_done = initial
        log.debug(
            "%s scan of %s: %d files read, %d gone, %.3f s",
            "first" if initial else "re",
            self.results.path,
            scanned,
            len(gone),
            time.monotonic() - began,
        )
        if batch.records or batch.removed or batch.notice or initial:
            self.deliver(batch)

    def _first_scan_in_child(self) -> None:
        began = time.monotonic()
        # The first screenful first, before the readers start (~0.1 s of a core
        # that the first paint needs too), unless the UI read it already.
        if self._early is None:
            self.deliver(self.read_first_screenful())
        early = self._early or {}
        # Started once the directory is watched (a change from here on is seen), not before to
        # overlap their start with the watch's: a 1M directory's ``inotify_add_watch`` holds a
        # core in the kernel for ~70 ms, and with the readers' start on the other one the UI
        # thread got neither (frames of 75-95 ms just after the first).
        pool, bounds, writer = self._start_readers(early)
        try:
            self._read_in_child(pool, bounds, early, writer, began)
        finally:
            if writer is not None:
                writer.discard()  # unless committed: stopped, or the readers failed

    def _start_readers(self, early: dict[str, TaskRecord]) -> tuple[ReaderPool, list[str], IndexWriter | None]:
        """The first scan's reader processes, their shares of the ids cut at quantiles of a sample
        of the listing (``_id_sample``), and the writer of the directory's next index."""
        bounds = id_bounds(self._id_sample(early), self.readers)
        # The writer before the readers: it keeps the directory's times from before they list it
        # (a file made after that changes them, and the next reopen lists the directory again).
        index, writer = self._scan_index()
        try:
            try:
                self._reader = pool = ReaderPool(
                    self.results,
                    bounds,
                    index_fd=None if index is None else index[0],
                    on_line=None if writer is None else writer.add,
                    names_from_index=directory_times_trusted(self.fs_type),
                )
            finally:
                if index is not None:
                    os.close(index[0])  # the readers have their own
        except ChildScanFailed:
            if writer is not None:
                writer.discard()
            raise
        return pool, bounds, writer

    def _id_sample(self, early: dict[str, TaskRecord]) -> list[str]:
        """The ids of the listing's first ``ID_SAMPLE`` names (the first screenful's among them), to
        cut the readers' shares at. A first scan lasts as long as its biggest share: cut at the
        first screenful's 200 ids, the first of two shares of a 1M directory came out anywhere
        from 41 % to 55 % (20 samples); at 5,000, within about 1 %. Names only: ~7 ms."""
        if self.readers <= 1:
            return []
        try:
            return [parsed.task_id for _, parsed in islice(self.results.iter_names(), ID_SAMPLE)]
        except OSError:
            return list(early)  # the readers say what is wrong

    def _scan_index(self) -> tuple[tuple[int, Header] | None, IndexWriter | None]:
        """The last index of this directory (open and checked) and a writer of the next, when kept."""
        cache = self.cache_dir
        if cache is None:
            return None, None
        path, max_bytes = self.results.path, self.results.max_bytes
        try:
            index = open_index(path, cache, max_bytes)
        except Exception:  # never a reason for the scan to fail
            log.debug("scan index of %s ignored", path, exc_info=True)
            index = None
        writer = IndexWriter(path, cache, max_bytes, time.time())
        return index, (writer if writer.writing else None)

    def _read_in_child(
        self,
        pool: ReaderPool,
        bounds: list[str],
        early: dict[str, TaskRecord],
        writer: IndexWriter | None,
        began: float,
    ) -> None:
        # Each reader's records come sorted by id, and its ids all sort before the next one's.
        by_id: list[list[TaskRecord]] = [[] for _ in range(len(bounds) + 1)]
        order = RecentOrder(early.values())
        scanned = 0
        census_sent = False
        for index, records in pool.batches(self._stop.is_set, lambda: 0.0 if order.busy else 0.05):
            self._pull_watch_while_scanning()
            if not census_sent and (census := pool.census()) is not None:
                census_sent = True
                log.debug(
                    "first scan of %s: counts whole (the readers' census of %d files) after %.3f s",
                    self.results.path,
                    census.total(),
                    time.monotonic() - began,
                )
                self.deliver(TailBatch(scanning=True, scanned=max(scanned, len(early)), census=census))
                if writer is not None and pool.unchanged and not (pool.listed and writer.keeps_dir_times):
                    # Nothing changed since the index was written: it stays as it is (a new
                    # one, 174 MB at 1M, would say the same), and what was written goes. Unless
                    # its readers listed the directory (a file made and gone since, as Celery's
                    # probe is) and the new one can keep the directory's times: the next reopen
                    # lists nothing.
                    writer.discard()
                    self.index_kept = True
                    log.debug("scan index of %s kept: no file changed since it was written", self.results.path)
            if index < 0:  # nothing to read now: merge a piece
                order.step(MERGE_SLICE)
                ready = order.take()
                if ready is not None:
                    self.deliver(TailBatch(scanning=True, scanned=max(scanned, len(early)), order=ready))
                continue
            scanned += len(records)
            new = self._sort_out(records, early, order, max(scanned, len(early)))
            by_id[index] += new
            order.add(new, ids_ascending=True)
            batch = TailBatch(records=new, scanning=True, in_id_order=True, order=order.take())
            batch.scanned = max(scanned, len(early))
            self.deliver(batch)
        if self._stop.is_set():
            return
        self._index_used(pool, writer)
        self._known.add_sorted([record for run in by_id for record in run])
        gone = self._early_gone()
        order.exclude(gone)
        merge = order.finishing()
        while merge.step():
            self._pull_watch_while_scanning()
            if self._stop.is_set():
                return
        log.debug(
            "first scan of %s by %d reader processes: %d files, %.3f s",
            self.results.path,
            len(bounds) + 1,
            scanned,
            time.monotonic() - began,
        )
        final = order.done_with(merge)
        self.deliver(TailBatch(scanning=True, scanned=scanned, scan_done=True, removed=gone, order=final))

    def _index_used(self, pool: ReaderPool, writer: IndexWriter | None) -> None:
        """Every reader is done: put the new index in place, and note what the last one saved."""
        notes = [reader.note or {} for reader in pool.readers]
        use = {key: sum(note[key] for note in notes if type(note.get(key)) is int) for key in ("reused", "read")}
        whole = all(type(note.get(key)) is int for note in notes for key in use)  # every reader said its count
        if writer is not None and writer.commit(sum(use.values()) if whole else None):
            log.debug("scan index of %s written: %s", self.results.path, writer.path)
        if self.cache_dir is None:
            return
        for note in notes:
            if note.get("problem"):
                log.debug("scan index of %s ignored by a reader: %s", self.results.path, note["problem"])
                if self.index_kept and writer is not None:
                    # Kept as it was on the readers' census, then found to hold a corrupt chunk as
                    # they sent its rows: gone, so that the next first scan writes a whole one.
                    self.index_kept = False
                    try:
                        os.unlink(writer.path)
                    except OSError:
                        pass
        self.index_use = use
        log.debug("first scan of %s: %d files unchanged since the index, %d read", self.results.path, *use.values())
        unlisted = sum(note.get("listed") is False for note in notes)
        if unlisted:
            log.debug(
                "first scan of %s: %d of %d readers took their file names from the index (the directory's"
                " entries as indexed)",
                self.results.path,
                unlisted,
                len(pool.readers),
            )

    def _sort_out(
        self, records: list[TaskRecord], early: dict[str, TaskRecord], order: RecentOrder, scanned: int
    ) -> list[TaskRecord]:
        """The records of a reader's batch new to the store, their first-sight times set (the
        rest, rare, are sent as reads are: a file gone since the listing, one of the first
        screenful changed since it was read); files read mid-write are noted (``_take``)."""
        new = records
        if early and not early.keys().isdisjoint(map(_by_id, records)):
            again = [r for r in records if r.task_id in early]
            changed = []
            for record in again:
                seen = early[record.task_id]
                # Read already, as the reader saw it (a rewrite within one mtime tick changes the size).
                if record.mtime != seen.mtime or record.size != seen.size:
                    changed.append(record)
            if changed:
                order.exclude(r.task_id for r in changed)
                batch = TailBatch(scanning=True, scanned=scanned)
                for record in changed:
                    self._take(batch, record.filename, record)
                self.deliver(batch)
            new = [r for r in records if r.task_id not in early]
        if any(r.error is not None for r in new):
            kept = []
            batch = TailBatch(scanning=True, scanned=scanned)
            for record in new:
                if record.error is None:
                    kept.append(record)
                elif record.error.kind is ProblemKind.GONE:
                    self._take(batch, record.filename, record)  # deleted since the listing: nothing to show
                else:
                    self._take(TailBatch(), record.filename, record)  # a read mid-write is watched
                    kept.append(record)
            new = kept
            if batch.removed:
                self.deliver(batch)
        first_sight(new)
        return new

    def _early_gone(self) -> list[str]:
        """Tasks of the first screenful whose files went before the watch could see them go."""
        early, self._early = self._early or {}, None
        gone = []
        for task_id, record in early.items():
            if not os.path.lexists(self.results.file_path(record.filename)) and self._known.pop(task_id) is not None:
                gone.append(task_id)
        return gone


_by_id = attrgetter("task_id")


def _not_started(batch: TailBatch) -> None:
    raise RuntimeError("a prepared tail delivered a batch before start() (set its deliver first)")


def _identity(path: str) -> tuple[int, int, str] | str:
    """(device, inode, real path) of the directory at ``path``, or what is wrong with it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "directory gone (deleted or renamed)"
    except OSError as exc:
        return f"directory unreadable: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return "no longer a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return "directory unreadable: permission denied"
    return (st.st_dev, st.st_ino, os.path.realpath(path))


def _free_bytes(path: str) -> int | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize
