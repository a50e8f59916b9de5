"""The workers and queues, asked every few seconds on a thread of their own; never two requests at once.

One loop: ask (``Controller.inspect_workers``), then the queues' sizes, hand a
``WorkersReport`` to ``on_report``, sleep ``interval``. A slow broker slows the loop
down; it never stacks requests (and the controller refuses a second one of a kind
while one still waits). Nothing here imports Textual: ``on_report`` is called on the
monitor's thread (the UI posts it as a message).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .queues import DepthHistory, QueueDepth
from .workers import COMMANDS, HeldTask, WorkerBoard, WorkerState

if TYPE_CHECKING:
    from .controller import Controller

log = logging.getLogger(__name__)

#: Seconds between two refreshes, by default (``--workers-every``).
DEFAULT_INTERVAL = 5.0
#: The registered task names are asked once every this many refreshes.
REGISTERED_EVERY = 12


@dataclass
class WorkersReport:
    """A refresh's outcome, the monitor's own copy (safe to read on another thread): the workers,
    the reserved/scheduled tasks by id, the queues' sizes and recent history, the faults as lines."""

    workers: list[WorkerState]
    queued: dict[str, HeldTask] | None  # None: not known (the broker could not be asked)
    consumers: dict[str, int]  # queue -> workers that answered consuming it
    depths: dict[str, QueueDepth]
    history: dict[str, list[int]]  # queue -> its sizes over the last minutes
    last_answer: float | None  # epoch seconds of the last refresh that reached the broker
    error: str | None  # why the last refresh could not ask the broker
    lines: list[str] = field(default_factory=list)
    took: float = 0.0


class WorkerMonitor:
    """Refreshes a ``WorkerBoard`` every ``interval`` seconds on a daemon thread.

    ``app_queues``: the queues to size beside those the workers consume (the ``-A``
    app's configured queues). ``refresh_now()`` wakes the loop (after an action).
    """

    def __init__(
        self,
        controller: Controller,
        on_report: Callable[[WorkersReport], None],
        *,
        interval: float = DEFAULT_INTERVAL,
        inspect_timeout: float = 1.5,
        app_queues: Sequence[str] = (),
    ) -> None:
        self.controller = controller
        self.on_report = on_report
        self.interval = interval
        self.inspect_timeout = inspect_timeout
        self.app_queues = list(app_queues)
        self.board = WorkerBoard()
        self.history = DepthHistory()
        self.depths: dict[str, QueueDepth] = {}
        self.queue_error: str | None = None
        self._refreshes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WorkerMonitor:
        self._thread = threading.Thread(target=self._loop, name="taskview-workers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def refresh_now(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.refresh()
            except Exception:  # never let the loop die: say it once in the log, try again later
                log.exception("workers refresh failed")
            else:
                if not self._stop.is_set():
                    self.on_report(report)
            self._wake.wait(self.interval)
            self._wake.clear()

    def refresh(self) -> WorkersReport:
        """One refresh, on the caller's thread."""
        began = time.monotonic()
        board = self.board
        # The task names a worker registers change only when it restarts: asked now and then,
        # and when a worker is seen that has not told them yet.
        commands = list(COMMANDS)
        if self._refreshes % REGISTERED_EVERY and all(w.registered for w in board.online()):
            commands.remove("registered")
        self._refreshes += 1
        got = self.controller.inspect_workers(self.inspect_timeout, commands)
        if isinstance(got, dict):
            board.update(got)
        else:
            board.failed(got.message)
        names = sorted({*board.consumed_queues(), *self.app_queues, *self.depths})
        if names and board.error is None:
            depths = self.controller.queue_depths(names)
            if isinstance(depths, dict):
                self.depths, self.queue_error = depths, None
                self.history.add(depths)
            else:
                self.queue_error = depths.message
        return WorkersReport(
            # a refresh gives a worker new lists, never changes one: a shallow copy is the monitor's own
            workers=[copy.copy(worker) for _, worker in sorted(board.workers.items())],
            queued=board.queued_tasks() if board.error is None else None,
            consumers=board.consumed_queues(),
            depths=dict(self.depths),
            history={name: self.history.values(name) for name in self.depths},
            last_answer=board.last_answer,
            error=board.error,
            lines=board.lines() + ([self.queue_error] if self.queue_error else []),
            took=time.monotonic() - began,
        )


def configured_queues(app: object) -> list[str]:
    """The queues an app names in its configuration: ``task_default_queue`` and ``task_queues``."""
    names: list[str] = []
    try:
        conf = app.conf  # type: ignore[attr-defined]
        default = conf.task_default_queue
        if isinstance(default, str) and default:
            names.append(default)
        for queue in conf.task_queues or ():
            name = getattr(queue, "name", queue if isinstance(queue, str) else None)
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    except Exception:  # the user's configuration: whatever it holds
        pass
    return names
