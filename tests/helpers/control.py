"""Helpers for the control tests: waiting on result files, finding leftover processes,
and a demo worker started exactly as a user would (``celery -A taskview.control.demo_tasks worker``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from taskview.control import demo_tasks
from taskview.results.codec import decode

TASK_PREFIX = "celery-task-meta-"


def read_status(results: Path, task_id: str) -> tuple[str | None, dict | None]:
    """(status, meta) of a task's file as taskview decodes it; (None, None) while absent/partial."""
    try:
        raw = (Path(results) / f"{TASK_PREFIX}{task_id}").read_bytes()
    except FileNotFoundError:
        return None, None
    meta = decode(raw).meta
    if not isinstance(meta, dict):
        return None, None
    return meta.get("status"), meta


def wait_status(results: Path, task_id: str, status: str | set[str], timeout: float = 30.0) -> tuple[dict, float]:
    """Wait until the task's file says ``status``; returns (meta, seconds waited)."""
    wanted = {status} if isinstance(status, str) else set(status)
    start = time.monotonic()
    seen = None
    while True:
        seen, meta = read_status(results, task_id)
        if seen in wanted:
            return meta, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{task_id}: wanted {wanted} within {timeout} s, file says {seen}")
        time.sleep(0.02)


def processes_mentioning(marker: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose command line or environment mentions
    ``marker``, and of every descendant of one.

    Descendants count because a worker's pool processes may carry neither: with
    setproctitle installed, Celery retitles them ("[celeryd: w@host:ForkPoolWorker-1]"),
    which overwrites the memory /proc shows as their command line and environment.
    """
    needle = marker.encode()
    cmdlines: dict[int, bytes] = {}
    parents: dict[int, int] = {}
    hits: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        stat = _stat_fields(entry)
        if stat is None or stat[0] == b"Z":
            continue  # gone, or a zombie (dead, not yet reaped)
        parents[pid] = int(stat[1])
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{name}", "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            if name == "cmdline":
                cmdlines[pid] = data
            if needle in data:
                hits.add(pid)
    found = set(hits)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted((pid, cmdlines.get(pid, b"").replace(b"\0", b" ").decode(errors="replace")) for pid in found)


def _stat_fields(pid: str) -> list[bytes] | None:
    """(state, parent pid, ...) from /proc/PID/stat; None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def wait_no_process(marker: str, timeout: float = 5.0) -> float:
    """Wait until no process mentions ``marker`` (nor descends from one), and every one
    seen doing so at the start has ended; returns the seconds it took."""
    start = time.monotonic()
    seen = {pid for pid, _ in processes_mentioning(marker)}
    while True:
        left = processes_mentioning(marker)
        seen.update(pid for pid, _ in left)
        # An orphaned pool process is reparented: it no longer descends from anything marked.
        alive = [pid for pid in seen if (fields := _stat_fields(str(pid))) is not None and fields[0] != b"Z"]
        if not left and not alive:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"processes left behind: {left or alive}")
        time.sleep(0.05)


def wait_processes(marker: str, count: int, timeout: float = 5.0) -> list[tuple[int, str]]:
    """Wait until at least ``count`` processes mention ``marker`` (a pool replacing a
    terminated child has one fewer for a moment); returns them."""
    deadline = time.monotonic() + timeout
    while True:
        found = processes_mentioning(marker)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"wanted {count} processes mentioning {marker}, found {found}")
        time.sleep(0.05)


class DemoWorkerProcess:
    """``python -m celery -A taskview.control.demo_tasks worker`` on a real broker, as a user runs it.

    A unique node name and queue per instance, so that nothing else on a
    shared broker interferes; the queue is deleted afterwards.
    """

    def __init__(
        self,
        broker_url: str,
        results: Path,
        tmp: Path,
        *,
        concurrency: int = 2,
        extra_args: tuple[str, ...] = (),
        broker_dir: Path | None = None,
        queue: str | None = None,
    ) -> None:
        """``broker_url`` "filesystem://": kombu's filesystem broker in ``broker_dir``; ``extra_args``:
        more ``celery worker`` options (``--prefetch-multiplier 4``); ``queue``: its queue (default: its own)."""
        tag = uuid.uuid4().hex[:8]
        self.extra_args = tuple(extra_args)
        self.broker_dir = broker_dir
        self.broker_url = broker_url
        self.results = Path(results)
        self.queue = queue or f"taskview-test-{tag}"
        self.nodename = f"taskview-test-{tag}@{socket.gethostname()}"
        self.ready_file = Path(tmp) / f"ready-{tag}"
        self.log_path = Path(tmp) / f"worker-{tag}.log"
        self.marker = tag
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> DemoWorkerProcess:
        if self.proc is None:
            self.start()
        return self.wait_ready()

    def start(self) -> DemoWorkerProcess:
        """Start the worker without waiting for it (``with`` it later waits until it is ready)."""
        env = dict(os.environ)
        env.update(
            {
                "CELERY_BROKER_URL": self.broker_url,
                demo_tasks.ENV_RESULTS: str(self.results),
                demo_tasks.ENV_QUEUE: self.queue,
                demo_tasks.ENV_READY_FILE: str(self.ready_file),
                demo_tasks.ENV_PARENT_PID: str(os.getpid()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.broker_dir is not None:
            env[demo_tasks.ENV_BROKER_DIR] = str(self.broker_dir)
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "taskview.control.demo_tasks",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(self.concurrency),
            "-n",
            self.nodename,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
            *self.extra_args,
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=self.results.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self) -> DemoWorkerProcess:
        assert self.proc is not None
        deadline = time.monotonic() + 20
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AssertionError(f"demo worker did not start:\n{self.log()}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(5)
        self._log.close()
        self._delete_queue()

    def _delete_queue(self) -> None:
        app = demo_tasks.make_app(str(self.results), broker_url=self.broker_url, queue=self.queue)
        try:
            with app.connection_for_write(connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
                conn.default_channel.queue_delete(self.queue)
        except Exception:
            pass
        finally:
            app.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class BroadcastWatcher:
    """Every control broadcast (ping, revoke, ...) sent on a broker, as a worker would receive it:
    a queue of its own bound to Celery's control exchange (``celery.pidbox``), drained by a thread.

    It answers nothing. ``methods`` lists what it saw, in order. ``fence()`` publishes a marker
    of its own and waits until the marker arrives, so that whatever was sent before it has arrived
    too: what is missing then was not sent.
    """

    def __init__(self, broker_url: str, namespace: str = "celery") -> None:
        from kombu import Connection, Queue
        from kombu.pidbox import Mailbox

        self.broker_url = broker_url
        self.exchange = Mailbox(namespace, type="fanout").exchange  # declared exactly as workers declare it
        tag = uuid.uuid4().hex[:8]
        self.queue = Queue(f"taskview-watch-{tag}", exchange=self.exchange, durable=False, auto_delete=True)
        self.connection = Connection(broker_url, connect_timeout=5)
        self.methods: list[str] = []
        self._markers = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="broadcast-watcher", daemon=True)

    def __enter__(self) -> BroadcastWatcher:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"broadcast watcher could not consume on {self.broker_url}: {self._error!r}")
        self.fence()  # on Redis the subscription is made once draining starts: wait for it
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.connection.release()

    def _drain(self) -> None:
        from kombu import Consumer

        def seen(body: object, message: object) -> None:
            self.methods.append(body.get("method", "?") if isinstance(body, dict) else repr(body))

        try:
            self.connection.ensure_connection(max_retries=1)
            with Consumer(
                self.connection.default_channel, [self.queue], accept=["json"], no_ack=True, callbacks=[seen]
            ):
                self._ready.set()
                while not self._stop.is_set():
                    try:
                        self.connection.drain_events(timeout=0.1)
                    except TimeoutError:
                        pass
        except BaseException as exc:  # reported by __enter__ or fence()
            self._error = exc
            self._ready.set()

    def fence(self, timeout: float = 10.0) -> None:
        """Publish a marker broadcast (again every 0.2 s until seen) and wait until it is seen."""
        from kombu import Connection, Producer

        self._markers += 1
        marker = f"taskview-watcher-marker-{self._markers}"
        deadline = time.monotonic() + timeout
        with Connection(self.broker_url, connect_timeout=5) as conn:
            producer = Producer(conn.default_channel, exchange=self.exchange, serializer="json")
            while marker not in self.methods:
                assert self._error is None and self._thread.is_alive(), f"broadcast watcher failed: {self._error!r}"
                assert time.monotonic() < deadline, f"marker broadcast not seen within {timeout} s: {self.methods}"
                producer.publish({"method": marker}, routing_key="", declare=[self.exchange])
                waited = time.monotonic() + 0.2
                while marker not in self.methods and time.monotonic() < waited:
                    time.sleep(0.01)

    def commands(self) -> list[str]:
        """What was broadcast, the watcher's own markers left out."""
        return [m for m in self.methods if not m.startswith("taskview-watcher-marker-")]
