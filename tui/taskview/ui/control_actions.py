"""The keys that act on Celery: enqueue (n), revoke (x), re-enqueue (R), and stale-task checks.

A mixin of the app, kept apart from viewing. Every broker call runs in a
thread worker (a broker that is down must never freeze the screen), and its
outcome comes back as one line in the summary bar.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from textual import work

from ..results.record import TaskRecord
from .confirm_screen import ConfirmScreen
from .enqueue_menu import EnqueueMenu

if TYPE_CHECKING:
    from ..control.connection import Controller, Outcome

NOT_CONNECTED = (
    "not connected to a broker: start taskview with -A yourproject, -b amqp://… "
    "(or CELERY_BROKER_URL), or try taskview --demo"
)
log = logging.getLogger(__name__)

#: How often STARTED tasks are checked for a dead worker.
STALE_CHECK_SECONDS = 5.0


class ControlActions:
    """Mixed into TaskviewApp; uses its store, table, results and notice line."""

    controller: Controller | None
    stale: set[str]
    _missed_ping: set[str] = set()  # workers that missed the last ping (replaced, never mutated)

    # --- guards ----------------------------------------------------------------

    def _can_send(self, what: str) -> bool:
        if self.controller is None:
            self.say(NOT_CONNECTED, error=True)  # type: ignore[attr-defined]
            return False
        if self.controller.read_only:
            self.say(f"read-only: {what} not sent", error=True)  # type: ignore[attr-defined]
            return False
        return True

    # --- n: demo tasks -----------------------------------------------------------

    def action_enqueue(self) -> None:
        if not self._can_send("enqueue"):
            return
        from ..control.demo_tasks import DEMO_MENU

        choices = [(key, entry[0]) for key, entry in DEMO_MENU.items()]
        self.push_screen(  # type: ignore[attr-defined]
            EnqueueMenu(choices, self.controller.broker_display), self._enqueue_chosen  # type: ignore[union-attr]
        )

    def _enqueue_chosen(self, key: str | None) -> None:
        if key is not None:
            self._send_demo(key)

    @work(thread=True, group="control")
    def _send_demo(self, key: str) -> None:
        from ..control.demo_tasks import DEMO_MENU, send_demo

        log.info("enqueue demo task %r via %s", key, self.controller.broker_display)  # type: ignore[union-attr]
        outcome = send_demo(self.controller, key)
        log.info("enqueue: ok=%s %s", outcome.ok, outcome.message)
        self.call_from_thread(self._sent, outcome, DEMO_MENU[key][1])  # type: ignore[attr-defined]

    def _sent(self, outcome: Outcome, task_name: str) -> None:
        self.say(outcome.message, error=not outcome.ok)  # type: ignore[attr-defined]
        if outcome.ok and outcome.task_id:
            # Celery writes nothing for a task until it starts: show it at once.
            self.store.add_pending(outcome.task_id, task_name, time.time())  # type: ignore[attr-defined]
            self.show_changed(outcome.task_id)  # type: ignore[attr-defined]
            self.table.select_task(outcome.task_id)  # type: ignore[attr-defined]

    # --- x: revoke ---------------------------------------------------------------

    def action_revoke(self) -> None:
        record = self._selected_record()
        if record is None or not self._can_send("revoke"):
            return
        screen = ConfirmScreen(
            "Revoke this task?",
            _facts(record),
            [("r", "revoke"), ("t", "terminate (SIGTERM)"), ("k", "kill (SIGKILL)")],
        )
        self.push_screen(screen, lambda key: self._revoke_chosen(record.task_id, key))  # type: ignore[attr-defined]

    def _revoke_chosen(self, task_id: str, key: str | None) -> None:
        if key is not None:
            self.say(f"revoking {task_id}…")  # type: ignore[attr-defined]
            self._send_revoke(task_id, terminate=key in ("t", "k"), signal="SIGKILL" if key == "k" else "SIGTERM")

    @work(thread=True, group="control")
    def _send_revoke(self, task_id: str, *, terminate: bool, signal: str) -> None:
        log.info("revoke %s terminate=%s signal=%s", task_id, terminate, signal)
        outcome = self.controller.revoke(task_id, terminate=terminate, signal=signal)  # type: ignore[union-attr]
        log.info("revoke: ok=%s %s", outcome.ok, outcome.message)
        self.call_from_thread(self.say, outcome.message, error=not outcome.ok)  # type: ignore[attr-defined]

    # --- R: re-enqueue -----------------------------------------------------------

    def action_reenqueue(self) -> None:
        record = self._selected_record()
        if record is None or not self._can_send("re-enqueue"):
            return
        self._prepare_reenqueue(record)

    @work(thread=True, group="control")
    def _prepare_reenqueue(self, record: TaskRecord) -> None:
        full = self.results.read_full(record.filename)  # type: ignore[attr-defined]
        meta = full.meta if full is not None else None
        self.call_from_thread(self._confirm_reenqueue, record, meta)  # type: ignore[attr-defined]

    def _confirm_reenqueue(self, record: TaskRecord, meta: dict[str, Any] | None) -> None:
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            self.say(
                "cannot re-enqueue: the file has no task name (the workers run without result_extended)", error=True
            )  # type: ignore[attr-defined]
            return
        name = meta["name"]
        args = meta.get("args") or []
        kwargs = meta.get("kwargs") or {}
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            self.say("cannot re-enqueue: the stored args/kwargs are not a list and a mapping", error=True)  # type: ignore[attr-defined]
            return
        screen = ConfirmScreen(
            "Send this task again, as a new task?",
            [("name", name), ("args", repr(list(args))), ("kwargs", repr(kwargs)), ("was", record.task_id)],
            [("y", "send it")],
        )
        self.push_screen(  # type: ignore[attr-defined]
            screen, lambda key: key and self._send_again(name, list(args), dict(kwargs))
        )

    @work(thread=True, group="control")
    def _send_again(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        log.info("re-enqueue %s", name)
        outcome = self.controller.enqueue(name, args, kwargs)  # type: ignore[union-attr]
        log.info("re-enqueue: ok=%s %s", outcome.ok, outcome.message)
        self.call_from_thread(self._sent, outcome, name)  # type: ignore[attr-defined]

    # --- stale STARTED tasks -------------------------------------------------------

    def check_stale(self) -> None:
        started = list(self.store.started)  # type: ignore[attr-defined]
        if started or self.stale:
            self._find_stale(started)

    @work(thread=True, exclusive=True, group="stale")
    def _find_stale(self, started_ids: list[str]) -> None:
        from ..control.connection import is_stale

        # Read here, not on the UI thread: dead workers leave STARTED files behind, and
        # a directory can hold a hundred thousand of them. One get() at a time is safe
        # beside the UI thread's changes; a task gone meanwhile is skipped.
        records = self.store.records  # type: ignore[attr-defined]
        started = [(r.task_id, r.worker, r.pid) for t in started_ids if (r := records.get(t)) is not None]

        replies = None  # unknown: a broker that cannot be asked blames no worker
        controller = self.controller
        if controller is not None and not controller.read_only:
            replies = controller.ping_workers(timeout=1.0)
        # A busy worker can miss one ping: only two misses in a row count.
        missed_before = self._missed_ping
        if replies is not None:
            self._missed_ping = {w for _, w, _ in started if w and w not in replies}
            replies = {**replies, **{w: {} for w in self._missed_ping - missed_before}}
        stale = {task_id for task_id, worker, pid in started if is_stale(worker, pid, replies)}
        self.call_from_thread(self._stale_found, stale)  # type: ignore[attr-defined]

    def _stale_found(self, stale: set[str]) -> None:
        if stale != self.stale:
            self.stale.clear()
            self.stale.update(stale)
            self.table.refresh()  # type: ignore[attr-defined]

    # --- helpers ---------------------------------------------------------------------

    def _selected_record(self) -> TaskRecord | None:
        task_id = self.table.selected_id  # type: ignore[attr-defined]
        return self.store.get(task_id) if task_id else None  # type: ignore[attr-defined]


def _facts(record: TaskRecord) -> list[tuple[str, str]]:
    return [
        ("id", record.task_id),
        ("name", record.name or "?"),
        ("status", record.status or "?"),
        ("worker", record.worker or "?"),
    ]
