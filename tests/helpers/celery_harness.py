"""Run a REAL Celery worker subprocess (kombu filesystem broker, file backend).

No broker server is needed: messages are files in a per-worker broker folder.
The worker imports ``tests/worker_app/sampletasks.py``; this process never
does (it is not on our ``sys.path``), it only builds a client app with the
same configuration and sends tasks by name.

    from helpers.celery_harness import CeleryWorker
    with CeleryWorker(results_dir, serializer="msgpack", compression="gzip",
                      extended=True) as w:
        r = w.send("add", 2, 3)                     # task args/kwargs
        q = w.send("sleep", 30, options={"countdown": 5})  # send_task options
        meta = w.wait_for(r.id, "SUCCESS")

``celery_backend(results_dir, serializer, compression, extended)`` gives a
Celery backend configured the same way, to decode files exactly as Celery
does: ``backend.decode(raw_bytes)``.
"""

from __future__ import annotations

import atexit
import functools
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

HERE = Path(__file__).resolve().parent
WORKER_APP_DIR = HERE / "worker_app"
TASK_MODULE = "sampletasks"
#: kombu's filesystem transport with atomic publishing (taskview.control.atomic_fs)
ATOMIC_FS_TRANSPORT = "taskview.control.atomic_fs:Transport"

SERIALIZERS = ("json", "msgpack", "yaml", "pickle")
COMPRESSIONS = ("", "gzip", "bzip2", "lzma", "brotli", "zstd")
#: content type written after the magic for each compression alias
COMPRESSION_CONTENT_TYPES = {
    "": None,
    "gzip": "application/x-gzip",
    "bzip2": "application/x-bz2",
    "lzma": "application/x-lzma",
    "brotli": "application/x-brotli",
    "zstd": "application/zstd",
}
TASK_PREFIX = "celery-task-meta-"
GROUP_PREFIX = "celery-taskset-meta-"
READY_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


def _load_worker_config():
    """worker_app/worker_config.py, loaded by path: putting worker_app on
    sys.path would make sampletasks importable here, and the pickle tests need
    its exception classes to be unimportable."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("taskview_test_worker_config", WORKER_APP_DIR / "worker_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.celery_config


celery_config = _load_worker_config()


def make_app(
    results_dir,
    broker_dir,
    serializer="json",
    compression="",
    extended=False,
    name="taskview-test-client",
    broker_transport=None,
):
    app = Celery(name, set_as_current=False)
    app.conf.update(celery_config(results_dir, broker_dir, serializer, compression, extended, broker_transport))
    return app


@functools.cache
def _backend_scratch_dir():
    # The file backend writes/deletes a probe file in its directory at
    # start-up; give decoder-only backends a private directory for that.
    path = tempfile.mkdtemp(prefix="taskview-backend-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def _cached_backend(results_dir, serializer, compression, extended):
    app = make_app(
        results_dir,
        "/nonexistent/taskview-test-broker",
        serializer,
        compression,
        extended,
        name="taskview-test-decoder",
    )
    return app.backend


def celery_backend(results_dir=None, serializer="json", compression="", extended=False):
    """A Celery backend configured like the worker: ``backend.decode(raw)``.

    ``results_dir`` only matters for ``get_task_meta``; decoding does not
    depend on it (compression is read from the payload itself).
    """
    results_dir = os.path.abspath(results_dir or _backend_scratch_dir())
    return _cached_backend(results_dir, serializer, compression or "", bool(extended))


def task_file(results_dir, task_id):
    return Path(results_dir) / f"{TASK_PREFIX}{task_id}"


def group_file(results_dir, group_id):
    return Path(results_dir) / f"{GROUP_PREFIX}{group_id}"


class WorkerError(RuntimeError):
    pass


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (Exception,), {"__module__": module})


def lenient_unpickle(raw):
    """Unpickle a (maybe compressed) result file, with stand-ins for classes
    that cannot be imported here. For waiting on statuses only."""
    import io

    from celery.backends.base import decompress_payload

    return _LenientUnpickler(io.BytesIO(decompress_payload(raw))).load()


def stop_workers(workers, timeout=None, sig=signal.SIGTERM, interval=0.1):
    """Stop several workers at once: signal all, nudge, then SIGKILL stragglers.

    Always ends with SIGKILL to each whole process group, so that no pool
    child can outlive the test even if the main process is gone already.
    """
    workers = [w for w in workers if w.proc is not None]
    try:
        for w in workers:
            w.signal_stop(sig)
        if timeout is None:
            timeout = max([w.stop_timeout for w in workers] or [0])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [w for w in workers if w.running]
            if not alive:
                break
            for w in alive:
                w.nudge()
            time.sleep(interval)
    finally:
        for w in workers:
            w.kill()


class CeleryWorker:
    """Context manager running one real ``celery worker`` subprocess.

    - ``pool``: "prefork" (needed for revoke terminate) or "solo" (cheaper).
    - The worker runs in its own session/process group; ``stop()``/exit sends
      SIGTERM (warm shutdown), waits ``stop_timeout`` seconds, then SIGKILLs
      the whole group, so no process is ever left behind.
    - ``kill()`` SIGKILLs the group at once (tasks running stay STARTED).
    - ``atomic_broker`` (default True): both sides use kombu's filesystem
      transport with atomic message publishing (taskview.control.atomic_fs);
      with kombu's own, a worker can read a half-written message and die.
    """

    def __init__(
        self,
        results_dir,
        *,
        serializer="json",
        compression="",
        extended=False,
        pool="prefork",
        concurrency=2,
        name="taskview-test",
        broker_dir=None,
        loglevel="warning",
        ready_timeout=30.0,
        stop_timeout=10.0,
        ping=False,
        extra_args=(),
        wait_ready=True,
        atomic_broker=True,
    ):
        self.results_dir = Path(results_dir).resolve()
        self.serializer = serializer
        self.compression = compression or ""
        self.extended = bool(extended)
        self.pool = pool
        self.concurrency = concurrency
        self.name = name
        self.nodename = f"{name}@{socket.gethostname()}"
        self._own_broker_dir = broker_dir is None
        self.broker_dir = Path(broker_dir or tempfile.mkdtemp(prefix="taskview-broker-")).resolve()
        self.loglevel = loglevel
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.ping_on_start = ping
        self.extra_args = list(extra_args)
        self.wait_ready_on_enter = wait_ready
        self.broker_transport = ATOMIC_FS_TRANSPORT if atomic_broker else None
        self.proc: subprocess.Popen | None = None
        self._killed = False
        self.app: Celery | None = None
        self._log = None
        self.log_path = self.broker_dir / "worker.log"
        self.ready_file = self.broker_dir / "worker.ready"

    # -- lifecycle ---------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(WORKER_APP_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        env.update(
            {
                "TASKVIEW_TEST_RESULTS": str(self.results_dir),
                "TASKVIEW_TEST_BROKER_DIR": str(self.broker_dir),
                "TASKVIEW_TEST_SERIALIZER": self.serializer,
                "TASKVIEW_TEST_COMPRESSION": self.compression,
                "TASKVIEW_TEST_EXTENDED": "1" if self.extended else "0",
                "TASKVIEW_TEST_READY_FILE": str(self.ready_file),
                "TASKVIEW_TEST_BROKER_TRANSPORT": self.broker_transport or "",
                # the worker kills its process group if we die without cleanup
                "TASKVIEW_TEST_PARENT_PID": str(os.getpid()),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        if self.serializer == "pickle" and hasattr(os, "geteuid") and os.geteuid() == 0:
            # A worker whose accept_content has pickle refuses to run as
            # root unless told to (test containers often run as root).
            env["C_FORCE_ROOT"] = "1"
        return env

    def command(self):
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            TASK_MODULE,
            "worker",
            "-P",
            self.pool,
            "-n",
            f"{self.name}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            self.loglevel,
        ]
        if self.pool != "solo":
            cmd += ["-c", str(self.concurrency)]
        return cmd + self.extra_args

    def start(self):
        self.results_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "control", "processed"):
            (self.broker_dir / sub).mkdir(parents=True, exist_ok=True)
        try:
            self.ready_file.unlink()
        except FileNotFoundError:
            pass
        self.app = make_app(
            self.results_dir,
            self.broker_dir,
            self.serializer,
            self.compression,
            self.extended,
            broker_transport=self.broker_transport,
        )
        self._log = open(self.log_path, "ab")
        self._killed = False
        self.proc = subprocess.Popen(
            self.command(),
            cwd=WORKER_APP_DIR,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise WorkerError(f"worker exited with {self.proc.returncode} before ready:\n{self.log()}")
            if time.monotonic() > deadline:
                raise WorkerError(f"worker not ready:\n{self.log()}")
            time.sleep(0.02)
        if self.ping_on_start and not self.ping():
            raise WorkerError(f"worker does not answer ping:\n{self.log()}")
        return self

    def __enter__(self):
        self.start()
        try:
            if self.wait_ready_on_enter:
                self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout=None, sig=signal.SIGTERM):
        """Warm shutdown (SIGTERM to the main process), SIGKILL on timeout."""
        stop_workers([self], timeout=timeout, sig=sig)

    def signal_stop(self, sig=signal.SIGTERM):
        if self.running:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def nudge(self):
        """Make the worker's event loop notice a pending shutdown now.

        With a polling transport Celery's ``synloop`` only checks the shutdown
        flag between ``drain_events(timeout=2.0)`` calls, and runs one more
        cycle after it: an idle worker takes 2-4 s to act on SIGTERM. Any
        message delivered ends a cycle, so we broadcast a harmless ``ping``
        (no reply wanted) to this worker's pidbox.
        """
        if not self.running or self.app is None:
            return
        try:
            self.app.control.broadcast("ping", reply=False, destination=[self.nodename])
        except Exception:
            pass

    def kill(self):
        """SIGKILL the whole process group (main process and pool children)."""
        if self.proc is None or self._killed:
            return
        self._killed = True  # the group id must not be signalled twice
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def close(self):
        try:
            self.stop()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self.app is not None:
                try:
                    self.app.close()
                except Exception:
                    pass
            if self._own_broker_dir:
                shutil.rmtree(self.broker_dir, ignore_errors=True)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- client side -------------------------------------------------------
    @property
    def backend(self):
        return self.app.backend

    def send(self, task, *args, options=None, **kwargs):
        """Send ``sampletasks.<task>(*args, **kwargs)`` by name.

        ``options`` go to ``app.send_task`` (``countdown``, ``task_id``...):
        ``w.send("sleep", 30, options={"countdown": 5})``.
        """
        if "." not in task:
            task = f"{TASK_MODULE}.{task}"
        return self.app.send_task(task, args=args, kwargs=kwargs, **(options or {}))

    def revoke(self, task_id, terminate=False, signal="SIGTERM"):
        self.app.control.revoke(task_id, terminate=terminate, signal=signal, destination=[self.nodename], reply=False)

    def ping(self, timeout=1.0):
        replies = self.app.control.ping(destination=[self.nodename], timeout=timeout)
        return any(self.nodename in r for r in replies or ())

    def path(self, task_id):
        return task_file(self.results_dir, task_id)

    def read_raw(self, task_id):
        try:
            return self.path(task_id).read_bytes()
        except FileNotFoundError:
            return None

    def read_meta(self, task_id):
        """The decoded file (Celery's decode) or None (missing/empty/partial).

        A pickle naming a class this process cannot import (the worker's
        ``sampletasks.InventoryError``) is loaded with stand-in classes, only
        so that its status can be waited for; compare with Celery elsewhere.
        """
        raw = self.read_raw(task_id)
        if not raw:
            return None
        try:
            return self.backend.decode(raw)
        except Exception:
            if self.serializer != "pickle":
                return None
        try:
            return lenient_unpickle(raw)
        except Exception:
            return None

    def wait_for(self, task_id, status, timeout=20.0):
        """Wait until the task's file decodes with ``status`` (str or set)."""
        return self.wait_all({task_id: status}, timeout=timeout)[task_id]

    def wait_all(self, expected, timeout=30.0, interval=0.05):
        """``expected``: {task_id: status or set of statuses}; returns metas."""
        want = {tid: ({s} if isinstance(s, str) else set(s)) for tid, s in expected.items()}
        got = {}
        deadline = time.monotonic() + timeout
        while True:
            for tid in list(want):
                meta = self.read_meta(tid)
                if meta is not None and meta.get("status") in want[tid]:
                    got[tid] = meta
                    del want[tid]
            if not want:
                return got
            if time.monotonic() > deadline:
                seen = {tid: (self.read_meta(tid) or {}).get("status") for tid in want}
                raise TimeoutError(f"timed out waiting for {want}; seen {seen}\nworker log:\n{self.log()}")
            if not self.running:
                raise WorkerError(f"worker died:\n{self.log()}")
            time.sleep(interval)


# -- decoding where the worker's modules ARE importable ------------------------


class ExcInfo(tuple):
    """A portable stand-in for an exception object: (module, name, args)."""

    __slots__ = ()

    def __new__(cls, module, name, args):
        return super().__new__(cls, (module, name, tuple(args)))

    def __reduce__(self):
        return (ExcInfo, tuple(self))

    module = property(lambda self: self[0])
    name = property(lambda self: self[1])
    args = property(lambda self: self[2])

    def __repr__(self):
        return f"ExcInfo({self[0]}.{self[1]}{self[2]!r})"


def describe_exceptions(obj):
    """Copy of ``obj`` with every exception replaced by an ``ExcInfo``.

    Exceptions do not compare equal (``ValueError("x") != ValueError("x")``);
    an ExcInfo does, and it unpickles without the exception's module.
    """
    if isinstance(obj, BaseException):
        return ExcInfo(type(obj).__module__, type(obj).__qualname__, describe_exceptions(list(obj.args)))
    if isinstance(obj, dict):
        return {k: describe_exceptions(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [describe_exceptions(v) for v in obj]
    if isinstance(obj, tuple) and not isinstance(obj, ExcInfo):
        return tuple(describe_exceptions(v) for v in obj)
    return obj


_ORACLE = r"""
import os, pickle, sys
from helpers.celery_harness import celery_backend, describe_exceptions
paths, serializer, compression, extended = pickle.load(sys.stdin.buffer)
backend = celery_backend(None, serializer, compression, extended)
out = []
for path in paths:
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        out.append(("ok", describe_exceptions(backend.decode(raw))))
    except Exception as exc:
        out.append(("error", f"{type(exc).__name__}: {exc}"))
sys.stdout.buffer.write(pickle.dumps(out))
"""


def celery_decode_with_app(paths, serializer="json", compression="", extended=False, timeout=60):
    """Decode files with Celery's backend in a subprocess that CAN import
    ``sampletasks`` (so pickled custom exceptions load).

    Returns ``[("ok", meta) | ("error", text), ...]`` in ``paths`` order, with
    exceptions in the metas replaced by ``ExcInfo`` (see describe_exceptions).
    """
    paths = [str(p) for p in paths]
    if not paths:
        return []
    scratch = _backend_scratch_dir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(WORKER_APP_DIR), str(HERE.parent)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    # importing sampletasks builds its app from these (nothing is written)
    env.update(
        {
            "TASKVIEW_TEST_RESULTS": scratch,
            "TASKVIEW_TEST_BROKER_DIR": scratch,
            "TASKVIEW_TEST_SERIALIZER": serializer,
            "TASKVIEW_TEST_COMPRESSION": compression or "",
            "TASKVIEW_TEST_EXTENDED": "1" if extended else "0",
        }
    )
    env.pop("TASKVIEW_TEST_READY_FILE", None)
    proc = subprocess.run(
        [sys.executable, "-c", _ORACLE],
        cwd=WORKER_APP_DIR,
        env=env,
        input=pickle.dumps((paths, serializer, compression or "", bool(extended))),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"decode subprocess failed:\n{proc.stderr.decode()}")
    return pickle.loads(proc.stdout)
