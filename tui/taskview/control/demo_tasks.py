"""Demo tasks any Celery worker can run, to try taskview's enqueue and revoke.

    TASKVIEW_DEMO_RESULTS=/tmp/results celery -A taskview.control.demo_tasks worker

The app is configured from the environment when a worker (or anything else)
first reads its configuration:

- ``TASKVIEW_DEMO_RESULTS``: the results directory (``result_backend =
  file://<dir>``); default ``<tmp>/taskview-demo-<user>/results``.
- ``CELERY_BROKER_URL``: the broker; without it kombu's filesystem broker
  (no server) with its folders under ``TASKVIEW_DEMO_BROKER_DIR``
  (default ``<tmp>/taskview-demo-<user>/broker``), published atomically
  (``taskview.control.atomic_fs``).
- ``TASKVIEW_DEMO_QUEUE``: the queue (default ``taskview-demo``, so that
  demo tasks never reach your own workers, nor theirs the demo worker).

``task_track_started``, ``result_extended``, ``task_acks_late`` and
``worker_prefetch_multiplier = 1`` are on: the files show every state, and a
busy prefork worker still acts on a revoke at once.

``DEMO_MENU`` lists what the UI offers (key -> label, task name, args,
kwargs); ``send_demo(controller_or_app, key)`` sends one and returns the
``Outcome`` with the id of the task to show as PENDING.

Internal (set by ``taskview.control.embedded``): ``TASKVIEW_DEMO_READY_FILE``
is written when the worker is ready; with ``TASKVIEW_DEMO_PARENT_PID`` the
worker SIGKILLs its own process group (after deleting
``TASKVIEW_DEMO_CLEANUP_DIR``) as soon as that process is no longer its parent.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from celery import Celery, signals

from .atomic_fs import TRANSPORT as ATOMIC_FS_TRANSPORT

PREFIX = "taskview.demo."
DEFAULT_QUEUE = "taskview-demo"
#: How often the worker checks that its parent (taskview) is still there.
PARENT_CHECK_SECONDS = 0.25

ENV_RESULTS = "TASKVIEW_DEMO_RESULTS"
ENV_BROKER_DIR = "TASKVIEW_DEMO_BROKER_DIR"
ENV_QUEUE = "TASKVIEW_DEMO_QUEUE"
ENV_READY_FILE = "TASKVIEW_DEMO_READY_FILE"
ENV_PARENT_PID = "TASKVIEW_DEMO_PARENT_PID"
ENV_CLEANUP_DIR = "TASKVIEW_DEMO_CLEANUP_DIR"


def _default_base() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name
        user = str(os.getuid())
    return os.path.join(tempfile.gettempdir(), f"taskview-demo-{user}")


def demo_queue(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(ENV_QUEUE) or DEFAULT_QUEUE


def filesystem_broker(broker_dir: str) -> dict[str, Any]:
    """The settings for kombu's filesystem broker in ``broker_dir`` (FORMAT.md), atomic publishing.

    Creates ``data``, ``control`` and ``processed`` in it.
    """
    broker_dir = os.path.abspath(broker_dir)
    data = os.path.join(broker_dir, "data")
    folders = {
        "data": data,
        "control": os.path.join(broker_dir, "control"),
        "processed": os.path.join(broker_dir, "processed"),
    }
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
    return {
        # read/write URLs too: Celery prefers CELERY_BROKER_URL to broker_url
        "broker_url": "filesystem://",
        "broker_read_url": "filesystem://",
        "broker_write_url": "filesystem://",
        "broker_transport": ATOMIC_FS_TRANSPORT,
        "broker_transport_options": {
            "data_folder_in": data,
            "data_folder_out": data,  # the same folder: producers and consumers meet there
            "control_folder": folders["control"],
            "processed_folder": folders["processed"],  # same filesystem: a rename
            "store_processed": False,
            "polling_interval": 0.1,  # kombu's 1.0 s makes revoke take ~0.7 s
        },
    }


def demo_config(
    results_dir: str,
    *,
    broker_url: str | None = None,
    broker_dir: str | None = None,
    queue: str = DEFAULT_QUEUE,
) -> dict[str, Any]:
    """The demo app's settings (the same for worker and client). Creates the directories."""
    results_dir = os.path.abspath(results_dir)
    os.makedirs(results_dir, exist_ok=True)
    conf: dict[str, Any] = {
        "result_backend": "file://" + results_dir,
        "result_extended": True,
        "task_track_started": True,
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_default_queue": queue,
        "broker_connection_retry_on_startup": True,
    }
    if broker_url and not broker_url.startswith("filesystem:"):
        conf.update(broker_url=broker_url, broker_read_url=broker_url, broker_write_url=broker_url)
    else:
        conf.update(filesystem_broker(broker_dir or os.path.join(_default_base(), "broker")))
    return conf


def config_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    return demo_config(
        env.get(ENV_RESULTS) or os.path.join(_default_base(), "results"),
        broker_url=env.get("CELERY_BROKER_URL") or None,
        broker_dir=env.get(ENV_BROKER_DIR) or None,
        queue=demo_queue(env),
    )


def make_app(
    results_dir: str,
    *,
    broker_url: str | None = None,
    broker_dir: str | None = None,
    queue: str = DEFAULT_QUEUE,
    name: str = "taskview-demo-client",
) -> Celery:
    """A client app configured like the demo worker (sends tasks by name)."""
    app = Celery(name, set_as_current=False)
    app.conf.update(demo_config(results_dir, broker_url=broker_url, broker_dir=broker_dir, queue=queue))
    return app


#: The worker's app (``celery -A taskview.control.demo_tasks worker``); its
#: configuration is read from the environment when it is first needed.
app = Celery("taskview.control.demo_tasks", set_as_current=False)
app.add_defaults(config_from_env)


# --- worker-side helpers ------------------------------------------------------------


def _ours(sender: Any) -> bool:
    return getattr(sender, "app", None) is app


@signals.worker_init.connect
def _die_with_parent(sender: Any = None, **_: Any) -> None:
    """When taskview (our parent) is gone, even by SIGKILL, take the whole worker down."""
    parent = os.environ.get(ENV_PARENT_PID)
    if not parent or not _ours(sender):
        return
    parent_pid = int(parent)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        cleanup = os.environ.get(ENV_CLEANUP_DIR)
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
        if os.getpgid(0) == os.getpid():  # our own process group (start_new_session)
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="taskview-parent-watch", daemon=True).start()


@signals.worker_ready.connect
def _write_ready_file(sender: Any = None, **_: Any) -> None:
    path = os.environ.get(ENV_READY_FILE)
    if path and _ours(sender):
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(tmp, path)


# --- the tasks --------------------------------------------------------------------------


@app.task(name=PREFIX + "add")
def add(x: float, y: float) -> float:
    return x + y


@app.task(name=PREFIX + "sleep")
def sleep(seconds: float = 30) -> float:
    time.sleep(seconds)
    return seconds


@app.task(name=PREFIX + "fail")
def fail(message: str = "the demo task failed on purpose") -> None:
    raise ValueError(message)


@app.task(bind=True, name=PREFIX + "progress")
def progress(self: Any, total: int = 10, delay: float = 1.0) -> dict[str, int]:
    """State PROGRESS {current, total}: 0 at once, then +1 every ``delay`` seconds."""
    for current in range(total):
        self.update_state(state="PROGRESS", meta={"current": current, "total": total})
        time.sleep(delay)
    return {"current": total, "total": total}


@app.task(bind=True, name=PREFIX + "going_to_sleep")
def going_to_sleep(self: Any, seconds: float = 10) -> str:
    """A custom state with no meta (Celery's own example), then a nap."""
    self.update_state(state="GOING_TO_SLEEP")
    time.sleep(seconds)
    return "awake"


@app.task(bind=True, name=PREFIX + "retry", max_retries=5)
def retry(self: Any, times: int = 2, countdown: float = 1) -> str:
    """Fails ``times`` times (RETRY, one second apart), then succeeds."""
    if self.request.retries < times:
        raise self.retry(
            exc=ConnectionError(f"demo: upstream not ready (attempt {self.request.retries + 1})"),
            countdown=countdown,
        )
    return f"ok after {self.request.retries} retries"


# --- the menu ----------------------------------------------------------------------------


class DemoTask(NamedTuple):
    label: str
    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


#: chain(add(1, 2), add(3), add(4)) = 10: each result is the next one's first argument
DEMO_CHAIN: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = (
    (PREFIX + "add", (1, 2), {}),
    (PREFIX + "add", (3,), {}),
    (PREFIX + "add", (4,), {}),
)

#: key -> (label, task name, args, kwargs), in menu order. "c" is a chain
#: (DEMO_CHAIN); its entry names its first task.
DEMO_MENU: dict[str, DemoTask] = {
    "a": DemoTask("add(2, 3): succeeds at once", PREFIX + "add", (2, 3), {}),
    "s": DemoTask("sleep(30): runs 30 s, long enough to revoke", PREFIX + "sleep", (), {"seconds": 30}),
    "f": DemoTask("fail(): raises ValueError", PREFIX + "fail", (), {}),
    "p": DemoTask("progress(10): state PROGRESS every second", PREFIX + "progress", (), {"total": 10}),
    "g": DemoTask("going_to_sleep(10): custom state, then sleeps", PREFIX + "going_to_sleep", (), {"seconds": 10}),
    "r": DemoTask("retry(): fails twice (RETRY), then succeeds", PREFIX + "retry", (), {}),
    "c": DemoTask("chain: add(1, 2) | add(3) | add(4)", PREFIX + "add", (1, 2), {}),
}


def send_demo(controller_or_app: Any, key: str, *, queue: str | None = None) -> Any:
    """Send the demo task of ``key`` through a ``Controller`` (or a Celery app).

    Returns the ``Outcome``; its ``task_id`` is the task to show as PENDING
    (for the chain, its first task). The tasks go to the demo queue
    (``TASKVIEW_DEMO_QUEUE``, default ``taskview-demo``) unless ``queue`` says otherwise.
    """
    from .controller import Controller, Outcome

    entry = DEMO_MENU.get(key)
    if entry is None:
        return Outcome(False, f"no demo task for key {key!r}")
    controller = controller_or_app if isinstance(controller_or_app, Controller) else Controller(controller_or_app)
    options = {"queue": queue or demo_queue()}
    if key == "c":
        return controller.enqueue_chain(DEMO_CHAIN, **options)
    return controller.enqueue(entry.task, entry.args, entry.kwargs, **options)
