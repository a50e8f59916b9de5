"""A real Celery worker for the demo tasks, started and stopped by taskview (``--demo``).

    with EmbeddedWorker(results_dir) as worker:
        controller = Controller(worker.app)
        ...

The worker is ``celery -A taskview.control.demo_tasks worker -P prefork -c 2``
(prefork: revoke terminate needs it) on kombu's filesystem broker, in a
private temporary folder, writing results into ``results_dir``. It runs in its
own process group; stopping it asks for a cold shutdown (SIGQUIT, ~1.5 s),
then SIGKILLs the whole group.

No worker process outlives taskview:

- ``stop()`` / leaving the ``with`` block;
- an ``atexit`` hook (normal exit, an exception, KeyboardInterrupt);
- ``install_cleanup_handlers()``, which the CLI calls once: SIGTERM and SIGHUP
  stop the workers first, then end taskview;
- and when taskview dies without any of these (SIGKILL, os._exit), the worker
  notices within ``PARENT_CHECK_SECONDS`` that its parent is gone and kills its
  own process group (see ``demo_tasks``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from . import demo_tasks

DEFAULT_NODENAME = "taskview-demo@%h"
#: the env of the worker must not send it to the user's broker or backend
_SCRUBBED_ENV = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_CONFIG_MODULE",
)


class EmbeddedWorkerError(RuntimeError):
    """The worker did not start; ``str()`` is one line (details: ``log_tail``)."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


_LIVE: set[EmbeddedWorker] = set()
_LIVE_LOCK = threading.RLock()
_ATEXIT_REGISTERED = False


class EmbeddedWorker:
    """A demo-task worker subprocess on a private filesystem broker (context manager).

    - ``results_dir``: where the worker writes results (created if missing).
    - ``.app``: a client Celery app for the same broker and backend;
      ``.results_dir``, ``.broker_dir``, ``.nodename``, ``.pid``, ``.log_path``.
    - ``start()`` returns once the worker is ready (``ready_timeout``), else
      raises ``EmbeddedWorkerError`` with the worker's last log lines.
    """

    def __init__(
        self,
        results_dir: str | os.PathLike[str],
        *,
        concurrency: int = 2,
        nodename: str = DEFAULT_NODENAME,
        ready_timeout: float = 10.0,
        stop_timeout: float = 3.0,  # a cold shutdown takes ~1.5 s
        loglevel: str = "warning",
        queue: str | None = None,
    ) -> None:
        self.results_dir = Path(results_dir).resolve()
        self.concurrency = concurrency
        self.nodename_template = nodename
        self.nodename = nodename.replace("%h", socket.gethostname())
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.loglevel = loglevel
        self.queue = queue or demo_tasks.demo_queue()
        self.broker_dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.app: Any = None
        self.log_path: Path | None = None
        self._log: Any = None
        self._stopped = threading.Event()
        self._stop_lock = threading.RLock()

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        assert self.broker_dir is not None
        return [
            sys.executable,
            "-m",
            "celery",
            # --workdir: also puts the unique broker folder in every worker process's command line
            "--workdir",
            str(self.broker_dir),
            "-A",
            "taskview.control.demo_tasks",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(self.concurrency),
            "-n",
            self.nodename_template,
            "-Q",
            self.queue,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            self.loglevel,
        ]

    def environment(self) -> dict[str, str]:
        assert self.broker_dir is not None
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        # taskview importable even when it runs from a source tree, not installed
        package_root = str(Path(demo_tasks.__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.update(
            {
                demo_tasks.ENV_RESULTS: str(self.results_dir),
                demo_tasks.ENV_BROKER_DIR: str(self.broker_dir),
                demo_tasks.ENV_QUEUE: self.queue,
                demo_tasks.ENV_READY_FILE: str(self.broker_dir / "worker.ready"),
                demo_tasks.ENV_PARENT_PID: str(os.getpid()),
                demo_tasks.ENV_CLEANUP_DIR: str(self.broker_dir),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def start(self) -> EmbeddedWorker:
        if self.proc is not None:
            return self
        from .compat import FILESYSTEM_FANOUT_SINCE, filesystem_fanout, kombu_version

        if not filesystem_fanout():
            # enqueue would work, but ping and revoke never reach the worker (every STARTED task would look stale)
            raise EmbeddedWorkerError(
                f"it needs kombu {FILESYSTEM_FANOUT_SINCE} or newer (kombu {kombu_version()}'s filesystem broker "
                f"has no fanout, so revoke and ping could not reach it); -A/-b with a real broker work with this kombu"
            )
        self.results_dir.mkdir(parents=True, exist_ok=True)
        self.broker_dir = Path(tempfile.mkdtemp(prefix="taskview-demo-broker-")).resolve()
        self.log_path = self.broker_dir / "worker.log"
        self.app = demo_tasks.make_app(str(self.results_dir), broker_dir=str(self.broker_dir), queue=self.queue)
        self._stopped.clear()
        _register(self)
        try:
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.broker_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.wait_ready()
        except BaseException:
            self._stopped.clear()  # a signal may have "stopped" us before Popen returned
            self.stop(timeout=0)
            raise
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        assert self.broker_dir is not None and self.proc is not None
        ready = self.broker_dir / "worker.ready"
        deadline = time.monotonic() + (self.ready_timeout if timeout is None else timeout)
        while not ready.exists():
            code = self.proc.poll()
            if code is not None:
                tail = self.log_tail()
                last = tail.strip().splitlines()[-1] if tail.strip() else "no output"
                raise EmbeddedWorkerError(f"the demo worker exited with code {code}: {last}", tail)
            if time.monotonic() > deadline:
                raise EmbeddedWorkerError(
                    f"the demo worker was not ready within {self.ready_timeout:g} s", self.log_tail()
                )
            time.sleep(0.02)

    def stop(self, timeout: float | None = None) -> None:
        """Cold shutdown (SIGQUIT to the worker), then SIGKILL to its process group.

        The SIGKILL comes after ``timeout`` seconds (``stop_timeout``) at the
        latest, at once with ``timeout=0``; it goes to the whole group, so no
        pool process is left even if the main one is gone already.

        Idempotent; safe from a signal handler and from atexit.
        """
        with self._stop_lock:
            if self._stopped.is_set():
                return
            try:
                self._terminate(self.stop_timeout if timeout is None else timeout)
            finally:
                self._stopped.set()
                _unregister(self)
                if self._log is not None:
                    try:
                        self._log.close()
                    except Exception:
                        pass
                    self._log = None
                if self.app is not None:
                    try:
                        self.app.close()
                    except Exception:
                        pass
                if self.broker_dir is not None:
                    shutil.rmtree(self.broker_dir, ignore_errors=True)

    def _terminate(self, timeout: float) -> None:
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the worker leads its own group
        try:
            if proc.poll() is None and timeout > 0:
                # Cold shutdown of the main process: running demo tasks are
                # abandoned (their broker goes with the worker). Not SIGTERM to
                # the group: the pool children die at once and the main
                # process then hangs in its warm shutdown (seen: never exits).
                # Not a warm SIGTERM to the main process: it waits for the
                # running tasks (sleep(30)...).
                proc.send_signal(signal.SIGQUIT)
                deadline = time.monotonic() + timeout
                while proc.poll() is None and time.monotonic() < deadline:
                    self._nudge()
                    try:
                        proc.wait(0.1)
                    except subprocess.TimeoutExpired:
                        pass
        finally:
            # pool children too, even if the main process is gone already
            _killpg(pgid, signal.SIGKILL)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILLed
                pass

    def _nudge(self) -> None:
        """Make the worker act on SIGTERM now.

        With a polling transport Celery's loop checks its shutdown flag only
        between ``drain_events(timeout=2.0)`` calls: an idle worker takes
        2-4 s to act on SIGTERM. A message to its pidbox ends that wait.
        """
        if self.app is None:
            return
        from .controller import control_mailbox

        try:  # a connection of its own: this may run in a signal handler
            with self.app.connection_for_write() as conn:
                control_mailbox(self.app)(conn)._broadcast(
                    "ping", {}, destination=[self.nodename], reply=False, channel=conn.default_channel
                )
        except Exception:
            pass

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --- no worker left behind ---------------------------------------------------------------


def _register(worker: EmbeddedWorker) -> None:
    global _ATEXIT_REGISTERED
    with _LIVE_LOCK:
        _LIVE.add(worker)
        if not _ATEXIT_REGISTERED:
            atexit.register(stop_all)
            _ATEXIT_REGISTERED = True


def _unregister(worker: EmbeddedWorker) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(worker)


def live_workers() -> list[EmbeddedWorker]:
    with _LIVE_LOCK:
        return list(_LIVE)


def stop_all(timeout: float | None = None) -> None:
    """Stop every EmbeddedWorker of this process (registered with atexit on the first start)."""
    for worker in live_workers():
        try:
            worker.stop(timeout)
        except Exception:
            pass


_INSTALLED: dict[int, Any] = {}


def install_cleanup_handlers(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP),
    on_signal: Callable[[int], None] | None = None,
) -> None:
    """Stop the embedded workers when taskview gets SIGTERM or SIGHUP. Call once, from the main thread.

    After stopping them (1 s grace, then SIGKILL): a previous Python handler
    for that signal is called; otherwise ``on_signal(signum)`` if given, else
    ``SystemExit(128 + signum)`` is raised so that the program unwinds
    (terminal restored, atexit run). Normal exit, exceptions and Ctrl+C
    (KeyboardInterrupt) are covered by atexit; SIGKILL by the worker's own
    parent watch.
    """
    global _ATEXIT_REGISTERED
    with _LIVE_LOCK:
        if not _ATEXIT_REGISTERED:
            atexit.register(stop_all)
            _ATEXIT_REGISTERED = True
    for signum in signals:
        if signum in _INSTALLED:
            continue
        previous = signal.getsignal(signum)
        if previous == signal.SIG_IGN:
            continue  # e.g. SIGHUP under nohup: taskview goes on, so does its worker
        _INSTALLED[signum] = previous

        def handler(num: int, frame: FrameType | None, previous: Any = previous) -> None:
            stop_all(timeout=1.0)
            if callable(previous) and previous not in (signal.SIG_DFL, signal.SIG_IGN):
                previous(num, frame)
            elif on_signal is not None:
                on_signal(num)
            else:
                raise SystemExit(128 + num)

        signal.signal(signum, handler)
