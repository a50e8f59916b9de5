"""CPU while watching: what the inspector costs the server it runs on.

The inspector runs as a user runs it: ``python -m taskview DIR`` in a pseudo-terminal
(Textual's real driver, every frame rendered and written to the terminal, which this
process reads and throws away). Its CPU is user + sys of its whole process tree (the
process, its threads, any child still running, and the children it reaped), read from
/proc/<pid>/stat before and after a window, divided by the window's wall time: 100 % is
one core.

Writes: 4 writer processes rewrite the files of a directory of 5,000 real result files
(sample_results/ content, as bench/make_results.py makes them) in place, as Celery does
(truncate + write), at 30, 300 and 2,000 writes/s. Each write moves its task on a step of
a lifecycle (STARTED, PROGRESS, then SUCCESS or FAILURE, with the samples' content), so
statuses, counts and the order change as on a busy server. Baseline, same run and load:
a bare watchdog reader (close-write events only) that reads and decodes every changed
file, in a process of its own, measured the same way. The 30 writes/s are also measured
among 100,000 files, beside the 5,000 files' figure: what a write costs must not grow with
the directory.

Idle: no writes, after the first scan of a big directory has ended (its child process
gone, then a few seconds to settle); the baseline is the inspector over an empty
directory. The window is long enough to hold the periodic work (a reconcile, the stale
check): idle is what a quiet evening costs.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import pty
import random
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from common import BENCH_DIR, PYTHON, TASKVIEW, Figure, empty_dir, size_label

COLUMNS, ROWS = 120, 40
#: Rows of the directory the writers rewrite.
FILES = 5000
WRITERS = 4
#: Rows of a directory the 30 writes/s are measured in too (``writes_dir``).
BIG_FILES = 100_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Escape sequences, to read the screen's text (as tests/helpers/terminal.py does).
_SEQUENCE = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


# --- CPU of a process tree, from /proc ---------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, clock ticks of user + sys of the process and of the children it reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
    except OSError:
        return None
    # After the command's ")": state, ppid, ..., utime (14th field), stime, cutime, cstime.
    return int(fields[1]), int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])


def tree_cpu(root: int) -> tuple[float, int]:
    """(CPU seconds of ``root`` and every living descendant, including what they reaped; how many processes)."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None:
                stats[int(name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, count, todo = 0, 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            count += 1
            todo.extend(children.get(pid, ()))
    return total / CLOCK_TICKS, count


# --- the inspector in a terminal ---------------------------------------------------


class Inspector:
    """``taskview DIR`` on a pty of COLUMNS x ROWS; a thread reads (and mostly drops) what it draws."""

    def __init__(self, directory: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
        env.pop("TEXTUAL", None)
        self.proc = subprocess.Popen(
            [*TASKVIEW, str(directory)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.written = 0  # bytes the inspector wrote to its terminal
        self._tail = b""  # the last of them, to read the screen's text
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._done.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.written += len(chunk)
                self._tail = (self._tail + chunk)[-262144:]

    def text(self) -> str:
        with self._lock:
            raw = self._tail
        return _SEQUENCE.sub(b"", raw).decode("utf-8", "replace")

    def wait_for_rows(self, count: int, timeout: float) -> None:
        """Until the summary says ``count`` tasks and no child process (the first scan's) is left."""
        wanted = f"{count:,} task"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"taskview exited ({self.proc.returncode}):\n{self.text()[-2000:]}")
            if wanted in self.text() and tree_cpu(self.proc.pid)[1] == 1:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"taskview never showed {wanted!r}:\n{self.text()[-2000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.write(self.master, b"q")
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self._done.set()
        self._reader.join(2)
        os.close(self.master)


# --- writers ------------------------------------------------------------------------


def _lifecycles() -> list[list[bytes]]:
    """The files a task's life writes, from the real samples (TASKID and DATEDONE to fill in):
    STARTED (a new file), then PROGRESS, then SUCCESS or FAILURE (the same file rewritten)."""
    from make_results import templates

    by_state = templates()

    def content(state: str, index: int = 0) -> bytes:
        _prefix, template = by_state[state][index % len(by_state[state])]
        meta = dict(template, task_id="TASKID")
        if meta.get("date_done"):
            meta["date_done"] = "DATEDONE"
        return json.dumps(meta).encode()

    return [
        [content("STARTED"), content("PROGRESS"), content("SUCCESS", 0)],
        [content("STARTED"), content("PROGRESS"), content("FAILURE")],
        [content("STARTED"), content("SUCCESS", 1)],
    ]


#: Tasks each writer has under way at once (a worker's pool), written in turn.
IN_FLIGHT = 8


def writer(directory: str, seed: int, rate: float, seconds: float, out) -> None:  # type: ignore[no-untyped-def]
    """A worker's pool at ``rate`` writes/s: IN_FLIGHT tasks at a time, one step of a task's life a write
    (a new task's file when one has finished)."""
    lives = _lifecycles()
    rng = random.Random(seed)
    started_tasks = 0

    def new_task() -> tuple[str, list[bytes]]:
        nonlocal started_tasks
        started_tasks += 1
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)), lives[started_tasks % len(lives)]

    flight = [(*new_task(), 0) for _ in range(IN_FLIGHT)]
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    started = time.time()
    n = 0
    while time.time() - started < seconds:
        slot = n % IN_FLIGHT
        task_id, life, step = flight[slot]
        n += 1
        body = life[step].replace(b"TASKID", task_id.encode())
        body = body.replace(b"DATEDONE", datetime.now(timezone.utc).isoformat().encode())
        fd = os.open(f"celery-task-meta-{task_id}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dfd)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        flight[slot] = (*new_task(), 0) if step + 1 == len(life) else (task_id, life, step + 1)
        delay = started + n / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    os.close(dfd)
    out.put((n, started_tasks))


def prepare(directory: Path, count: int = FILES) -> None:
    """A fresh directory of ``count`` real result files (the same ones every run)."""
    from make_results import MARKER, make

    (directory / MARKER).unlink(missing_ok=True)
    make(directory, count)


def run_writers(directory: Path, rate: float, seconds: float) -> tuple[int, int]:
    """(writes, new files) done; the writers' own CPU is theirs, counted nowhere."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(str(directory), i, rate / WRITERS, seconds, out)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    done = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(n for n, _ in done), sum(t for _, t in done)


# --- the floor: a bare watchdog reader ------------------------------------------------


def floor_reader(directory: str) -> None:
    """Run as a process of its own: read and decode every file closed after a write; print how many."""
    import orjson
    from watchdog.events import FileClosedEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    decoded = 0

    class Handler(FileSystemEventHandler):
        def on_closed(self, event) -> None:  # type: ignore[no-untyped-def]
            nonlocal decoded
            try:
                with open(event.src_path, "rb") as f:
                    orjson.loads(f.read())
                decoded += 1
            except (OSError, orjson.JSONDecodeError):
                pass

    observer = Observer()
    observer.schedule(Handler(), directory, event_filter=[FileClosedEvent])
    observer.start()
    print("ready", flush=True)
    sys.stdin.readline()  # until the bench says stop
    observer.stop()
    observer.join()
    print(decoded, flush=True)


# --- measuring -------------------------------------------------------------------------


@dataclass
class Window:
    cpu: float  # % of one core
    writes: int = 0
    new_files: int = 0
    terminal: float = 0.0  # bytes/s written to the terminal (the inspector only)


def _window(pid: int, seconds: float, directory: Path | None, rate: float) -> Window:
    """CPU of ``pid``'s tree over ``seconds``, with writers at ``rate`` in ``directory`` (None: idle)."""
    cpu0, _ = tree_cpu(pid)
    wall0 = time.perf_counter()
    writes = new_files = 0
    if directory is None:
        time.sleep(seconds)
    else:
        writes, new_files = run_writers(directory, rate, seconds)
    cpu1, _ = tree_cpu(pid)
    return Window(100 * (cpu1 - cpu0) / (time.perf_counter() - wall0), writes, new_files)


def measure_floor(rate: float, seconds: float) -> Window:
    directory = writes_dir(FILES)
    prepare(directory)
    proc = subprocess.Popen(
        [PYTHON, __file__, "floor", str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the floor reader did not start")
        time.sleep(1)
        window = _window(proc.pid, seconds, directory, rate)
        time.sleep(0.5)
        proc.stdin.write("\n")
        proc.stdin.flush()
        decoded = int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    if decoded < window.writes * 0.5:
        print(f"   (the floor decoded only {decoded:,} of {window.writes:,} writes)", flush=True)
    return window


def writes_dir(rows: int) -> Path:
    """Where the writers write among ``rows`` files (at FILES, the floor's directory too)."""
    return BENCH_DIR / ("cpu-writes" if rows == FILES else f"cpu-writes-{rows}")


def measure_writes(rows: int, rate: float, seconds: float) -> Window:
    """The inspector among ``rows`` files while the writers write at ``rate`` (a big directory's
    first scan settles longer: its reader processes end, its index is written)."""
    return measure_inspector(writes_dir(rows), rows, rate, seconds, settle=2 if rows == FILES else 5)


def measure_inspector(directory: Path, count: int, rate: float, seconds: float, *, settle: float) -> Window:
    """The inspector over ``directory`` (``count`` rows) for ``seconds``, with writers at ``rate`` (0: idle)."""
    if rate:
        prepare(directory, count)
    app = Inspector(directory)
    try:
        app.wait_for_rows(count, timeout=1800)
        time.sleep(settle)
        before = app.written
        started = time.perf_counter()
        window = _window(app.proc.pid, seconds, directory if rate else None, rate)
        window.terminal = (app.written - before) / (time.perf_counter() - started)
    finally:
        app.close()
    return window


def run(rates: tuple[int, ...], seconds: float, idle_dir: Path, idle_count: int, idle_seconds: float) -> list[Figure]:
    figures = []
    cpu_at: dict[int, float] = {}
    targets = {30: 5.0, 300: 25.0}
    for rate in rates:
        floor = measure_floor(rate, seconds)
        tv = measure_writes(FILES, rate, seconds)
        cpu_at[rate] = tv.cpu
        target = targets.get(rate)
        print(
            f"   {rate:,} writes/s asked: {tv.writes / seconds:,.0f} achieved ({tv.new_files:,} new files;"
            f" the floor's run {floor.writes / seconds:,.0f}), {tv.terminal / 1024:,.1f} KiB/s to the terminal",
            flush=True,
        )
        figures.append(
            Figure(
                f"CPU, {rate:,} writes/s ({size_label(FILES)} rows +)",
                tv.cpu,
                "%",
                floor.cpu,
                "bare watchdog",
                f"<= {target:.0f} % of a core" if target else "(latency: live)",
                tv.cpu <= target if target else None,
            )
        )
    # The same trickle among many rows: what is done per write must not grow with the directory.
    big = measure_writes(BIG_FILES, 30, seconds)
    figures.append(
        Figure(
            f"CPU, 30 writes/s ({size_label(BIG_FILES)} rows +)",
            big.cpu,
            "%",
            cpu_at.get(30),
            f"{size_label(FILES)} rows",
            "<= 5 % of a core",
            big.cpu <= 5.0,
        )
    )
    empty = measure_inspector(empty_dir(), 0, 0, idle_seconds, settle=3)
    idle = measure_inspector(idle_dir, idle_count, 0, idle_seconds, settle=5)
    print(f"   idle: {idle.terminal:,.0f} B/s to the terminal (empty directory {empty.terminal:,.0f} B/s)", flush=True)
    figures.append(
        Figure(
            f"CPU idle, {size_label(idle_count)} rows",
            idle.cpu,
            "%",
            empty.cpu,
            "empty dir",
            "<= 1 % of a core",
            idle.cpu <= 1.0,
        )
    )
    return figures


def _main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "floor":
        floor_reader(sys.argv[2])
        return
    # bench/cpu_watch.py [--rows N] [SECONDS [RATE...]]: the write figures alone, for profiling runs.
    # --rows N: the inspector among N rows (``writes_dir``).
    args = sys.argv[1:]
    rows = FILES
    if "--rows" in args:
        at = args.index("--rows")
        rows = int(args[at + 1])
        del args[at : at + 2]
    seconds = float(args[0]) if args else 10.0
    rates = tuple(int(r) for r in args[1:]) or (30, 300, 2000)
    for rate in rates:
        floor = measure_floor(rate, seconds)
        tv = measure_writes(rows, rate, seconds)
        print(
            f"{rate} writes/s ({tv.writes / seconds:.0f} done): taskview {tv.cpu:.1f} %, floor {floor.cpu:.1f} %,"
            f" {tv.terminal / 1024:.1f} KiB/s to the terminal",
            flush=True,
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    _main()
