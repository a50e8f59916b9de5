"""The live inspector: a result directory tailed as workers write it, and the keys that act on Celery.

Every broker call runs in a thread worker (a broker that is down must never
freeze the screen), and its outcome comes back as one line in the summary bar.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.binding import Binding, BindingType
from textual.message import Message

from ...control.app_tasks import AppTask
from ...control.bulk_plan import Done, Plan, outcome_line, plan
from ...control.monitor import DEFAULT_INTERVAL, WorkerMonitor, WorkersReport, configured_queues
from ...control.stale import StaleWatch
from ...results.record import TaskRecord
from ...results.scan import FullRead, ResultDirectory
from ...sources.tail import DirectoryTail, TailBatch
from ...store import StaleCandidate, Store
from ...view.enqueue import EnqueueRequest
from ...workflows import GROUP, MISSING
from ..worker_rows import held_rows, queued_summary
from .bulk_progress import BulkProgress
from .confirm import ConfirmScreen
from .enqueue_form import EnqueueForm
from .enqueue_menu import EnqueueMenu
from .inspector import InspectorScreen
from .task_picker import TaskPicker
from .workers import WorkersScreen

if TYPE_CHECKING:
    from ...control.controller import Controller, Outcome
    from ...replay.journal import Recorder

log = logging.getLogger(__name__)

NOT_CONNECTED = (
    "not connected to a broker: start taskview with -A yourproject, -b amqp://… "
    "(or CELERY_BROKER_URL), or try taskview --demo"
)
#: How often STARTED tasks are checked for a dead worker.
STALE_CHECK_SECONDS = 5.0
#: How long the workers' queues are known before they are asked again.
CONSUMERS_SECONDS = 60.0
#: How long the inspector reads the first rows before its first frame.
FIRST_SCREEN_SECONDS = 0.05
#: How often a first scan collects its young garbage (see ``on_records_arrived``).
YOUNG_GC_SECONDS = 0.2


@dataclass
class WorkersReported(Message):
    """A refresh of the workers and queues, from the monitor's thread."""

    report: WorkersReport


@dataclass
class RecordsArrived(Message):
    """A batch from the tail's thread (post_message is thread-safe)."""

    batch: TailBatch


class LiveScreen(InspectorScreen):
    """A directory tail feeding the store; enqueue, revoke and re-enqueue through a broker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority, as the inspector's keys that open something (its BINDINGS say why).
        Binding("n", "enqueue", "New task", priority=True, id="live.enqueue"),
        Binding("x", "revoke", "Revoke", priority=True, id="live.revoke"),
        Binding("R", "reenqueue", "Re-enqueue", show=False, id="live.reenqueue"),
        # Marks: x, R and D act on the marked tasks when there are some. Space is the table's
        # page down otherwise: priority, so that it marks (not while a filter is typed).
        Binding("space", "mark", "Mark / unmark", show=False, priority=True, id="live.mark"),
        Binding("a", "mark_all", "Mark every row the filter keeps", show=False, id="live.mark_all"),
        Binding("u", "unmark_all", "Unmark all", show=False, id="live.unmark_all"),
        Binding("D", "forget", "Forget (delete result files)", show=False, id="live.forget"),
        Binding("w", "workers", "Workers", show=False, id="live.workers"),
    ]

    def __init__(
        self,
        results: ResultDirectory,
        *,
        poll_interval: float | None = None,
        controller: Controller | None = None,
        clock: Callable[[], float] = time.time,
        recorder: Recorder | None = None,
        own_tasks: bool = False,
        cache_dir: str | None = None,
        workers_every: float = DEFAULT_INTERVAL,
        tail: DirectoryTail | None = None,
    ) -> None:
        """``own_tasks``: ``n`` offers the controller's app's own tasks (``-A``), else the demo tasks;
        ``cache_dir``: where a big directory's first scan keeps its index, None for none;
        ``workers_every``: seconds between two questions to the workers (0: never ask);
        ``tail``: the tail of ``results``, begun before the UI (``DirectoryTail.prepare``: its
        own ``poll_interval`` and ``cache_dir``), else one is made here."""
        super().__init__(Store(), clock=clock)
        self.results = results
        self.controller = controller
        self.own_tasks = own_tasks
        self._consumers: tuple[float, dict[str, list[str]]] | None = None  # (when asked, worker -> queues)
        self.recorder = recorder  # --record: the journal of what the live view sees
        if tail is None:
            watched = recorder.watch(results) if recorder is not None else results
            tail = DirectoryTail(watched, poll_interval=poll_interval, cache_dir=cache_dir)
        tail.deliver = self._deliver
        self.tail = tail
        self.scan = 0
        self._scanned: int | None = 0  # files the first scan read so far (``scan`` once drawn)
        self._gc_frozen = 0.0  # when the first scan last collected its young garbage (time.monotonic)
        self._stale_watch = StaleWatch()
        self._candidates: list[StaleCandidate] = []  # the store's stale candidates, as of
        self._candidates_version = -1  # ... this Store.unfinished_version
        self._recording_failed = False
        self.workers_every = workers_every
        self.monitor: WorkerMonitor | None = None
        self.workers_report: WorkersReport | None = None  # the last, shown at once by `w`
        self._workers_screen: WorkersScreen | None = None

    @property
    def place(self) -> str:
        return self.results.path

    @property
    def mode(self) -> str:
        if self.controller is None:
            return self.tail.mode
        return f"{self.tail.mode} · {self.controller.broker_display}"

    @property
    def problem(self) -> str | None:
        return self.tail.problem

    def read_full(self, record: TaskRecord) -> FullRead | None:
        return self.results.read_full(record.filename)

    # --- the tail ----------------------------------------------------------------------

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(STALE_CHECK_SECONDS, self.check_stale)
        # Read here, before the first frame, so that the first frame has rows: for at
        # most a few frames' time, and not from a network filesystem (any read may stall).
        tail = self.tail
        first = None if tail.poll_interval is not None else tail.read_first_screenful(FIRST_SCREEN_SECONDS)
        tail.start()
        if first is not None and first.records:
            self.take_in(first)
        if self.controller is not None and self.workers_every > 0:
            self.monitor = WorkerMonitor(
                self.controller,
                self._report_arrived,
                interval=self.workers_every,
                app_queues=configured_queues(self.controller.app),
            ).start()

    def on_unmount(self) -> None:
        self.tail.stop()
        gc.enable()  # paused by a first scan that never sent its last batch (quit during it)
        if self.monitor is not None:
            self.monitor.stop()

    # --- w: the workers, their queues, the tasks they hold that have no file yet ------------------

    def _report_arrived(self, report: WorkersReport) -> None:
        self.post_message(WorkersReported(report))  # from the monitor's thread: thread-safe

    def on_workers_reported(self, message: WorkersReported) -> None:
        report = self.workers_report = message.report
        held = held_rows(report)
        if held is not None:
            changed = self.store.set_held(held, time.time())
            if changed:
                self.rows_changed(changed, now=True)
        self.summary.queued = queued_summary(report)
        if self._workers_screen is not None:
            self._workers_screen.show(report)

    def action_workers(self) -> None:
        if self.controller is None:
            self.say(NOT_CONNECTED, error=True)
            return
        if self.monitor is None:
            self.say("the workers are not asked (--workers-every 0)", error=True)
            return
        monitor = self.monitor
        screen = WorkersScreen(
            self.controller, self.workers_report, interval=monitor.interval, refresh_now=monitor.refresh_now
        )
        self._workers_screen = screen
        self.app.push_screen(screen, self._workers_closed)

    def _workers_closed(self, task_id: str | None) -> None:
        self._workers_screen = None
        if task_id is None:
            return
        self.refresh_rows()
        if self.table.select_task(task_id):
            self.table.focus()
        elif task_id in self.store:
            self.say("that task is hidden by the filter: Esc clears it", error=True)
        else:
            self.say(f"no row for {task_id} yet: it has no file, and no worker holds it unstarted", error=True)

    def _deliver(self, batch: TailBatch) -> None:
        log.debug(
            "batch: %d records, %d removed%s%s",
            len(batch.records),
            len(batch.removed),
            " (first scan)" if batch.scanning else "",
            f", notice: {batch.notice}" if batch.notice else "",
        )
        self.post_message(RecordsArrived(batch))

    async def on_records_arrived(self, message: RecordsArrived) -> None:
        batch = message.batch
        self.take_in(batch)
        # A message pump takes the messages queued one after another without a turn of the event
        # loop between them: three batches queued while a frame was drawn stopped the UI for
        # their three intakes (45-90 ms in a 1M first scan). A turn after each, and one between
        # an intake and a collection (each up to 30 ms at 1M: together, a frame missed).
        await asyncio.sleep(0)
        if batch.scanning:
            if self._collect_young(batch.scan_done):
                await asyncio.sleep(0)

    def _collect_young(self, scan_done: bool) -> bool:
        """A first scan's garbage collection, when one is due; whether one was."""
        # Records hold no cycles, but the cyclic GC walks every list and dict of a million
        # of them again and again while they arrive (a tenth of a second a walk at 1M): no
        # automatic collection runs during the first scan. Instead, every YOUNG_GC_SECONDS,
        # the young objects only (what frames and messages left since: frozen uncollected,
        # it stayed for good, ~100 bytes a task at 1M), and what is left is frozen, the
        # batches' lists with it, so that no walk ever goes through them again. A young
        # walk costs a look at every record those lists hold (5-47 ms at 1M when it ran once
        # a second, a stop of the UI each time): the shorter the period, the shorter each
        # stop. The first one leaves the oldest generation (everything imported) alone: its
        # walk took 15-40 ms. The last batch's are frozen uncollected: the scan's final lists are
        # among them (a million items each), and a walk of them stopped the UI for 35 ms
        # at 1M; what garbage was left since stays frozen with them (a few thousand objects).
        now = time.monotonic()
        if not (scan_done or gc.isenabled() or now - self._gc_frozen >= YOUNG_GC_SECONDS):
            return False
        began = time.perf_counter()
        if not scan_done:
            gc.collect(0 if not gc.isenabled() else 1)
        gc.freeze()
        self._gc_frozen = now
        if scan_done:
            gc.enable()
        else:
            gc.disable()
        log.debug("first scan: garbage collected in %.3f s", time.perf_counter() - began)
        return True

    def take_in(self, batch: TailBatch) -> None:
        store, recorder = self.store, self.recorder
        olds = recorder.before(store, batch.records, batch.removed) if recorder is not None else {}
        # Outside the first scan, a new file is a task that just started.
        if batch.in_id_order:
            changed = store.add_scanned(batch.records)  # a first scan's, in bulk
        else:
            changed = store.add_many(batch.records, live=not batch.scanning)
        if batch.order is not None:
            store.adopt_order(batch.order, final=batch.scan_done)
        for task_id in batch.removed:
            store.remove(task_id)
        if batch.removed and self.model.marks.drop_gone(batch.removed, store):
            self._counts_stale = True  # "N marked" goes down with them
        if recorder is not None:
            recorder.after(store, olds, batch.records, changed, batch.removed, live=not batch.scanning)
        if batch.scanning:
            # The progress goes to the summary bar with its counts (``update_summary``), not at
            # each batch: each change of it is a redraw of the bar (22 a second, 0.8 s of the UI's
            # CPU while a 1M directory filled).
            self._scanned = None if batch.scan_done else batch.scanned
            if batch.scan_done or not self.scan:  # it starts or ends: drawn at once
                self.scan = self._scanned
            self._counts_stale = True
            if batch.census is not None or batch.scan_done:
                self.census = None if batch.scan_done else batch.census
                if batch.census is not None:
                    self.update_summary()  # whole counts at once, not at the next refresh (0.15 s)
        if batch.notice:
            self.show_notice(batch.notice)
            # A notice comes with a change of the directory's state (gone, back): said with it,
            # not at the next summary update (the bar said "gone" and "back" together till then).
            self.summary.problem = self.problem
        if self.table.selected_id in changed:
            self.load_detail()
        # Every task read is touched, not only the changed rows: a file read again with
        # the same row gives the store a new record, which the order must hold too (it
        # would keep the old one alive: a second copy of every task after a re-attach).
        # Live changes, and the first rows of all, show as soon as may be (the tail sends at
        # most ~20 batches a second); the rest of the first scan's flood waits for
        # the next refresh.
        model = self.model
        took = batch.order is not None and store.has_order(model.sort_key, model.reverse)
        if took:  # the scan's order of every record it sent (and none it removed), made in the tail's thread
            model.resort()
            self._show(True, arrived=True)
        if batch.in_id_order and store.has_order(model.sort_key, model.reverse, coming=True):
            self._counts_stale = True  # their rows come with the scan's next order
            touched = []
        else:
            touched = [r.task_id for r in batch.records]
        now = not batch.scanning or not self.table.order
        self.rows_changed(touched if took else [*touched, *batch.removed], now=now)

    def update_summary(self) -> None:
        if self.scan is not None:
            self.scan = self._scanned
        super().update_summary()

    def tick(self) -> None:
        recorder = self.recorder
        if recorder is not None and recorder.writer.error and not self._recording_failed:
            self._recording_failed = True  # said once: the journal stops, the inspector goes on
            self.say(f"--record {recorder.writer.path}: {recorder.writer.error}", error=True)
        super().tick()

    # --- guards ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mark" and self.filter_box.has_focus:
            return False  # a space in the filter's text
        # Read-only: the footer does not offer what would be refused (the keys still say why, in on_key).
        if action in _SENDING and self.controller is not None and self.controller.read_only:
            return False
        return True

    def on_key(self, event: events.Key) -> None:
        what = _SENDING_KEYS.get(event.key)
        if what is not None and self.controller is not None and self.controller.read_only:
            event.stop()
            self.say(f"read-only: {what} not sent", error=True)

    def _can_send(self, what: str) -> bool:
        if self.controller is None:
            self.say(NOT_CONNECTED, error=True)
            return False
        if self.controller.read_only:
            self.say(f"read-only: {what} not sent", error=True)
            return False
        return True

    def _selected_record(self) -> TaskRecord | None:
        task_id = self.table.selected_id
        return self.store.get(task_id) if task_id else None

    # --- n: your app's tasks, or the demo tasks --------------------------------------------

    def action_enqueue(self) -> None:
        if not self._can_send("enqueue"):
            return
        if self.own_tasks:
            self._load_app_tasks()
            return
        from ...control.demo_tasks import DEMO_MENU

        assert self.controller is not None
        choices = [(key, entry[0]) for key, entry in DEMO_MENU.items()]
        self.app.push_screen(EnqueueMenu(choices, self.controller.broker_display), self._demo_chosen)

    @work(thread=True, exclusive=True, group="control")
    def _load_app_tasks(self) -> None:
        from ...control.app_tasks import app_tasks

        assert self.controller is not None
        app = self.controller.app
        try:
            tasks = app_tasks(app)  # may import the app's task modules: off the UI thread
        except Exception as exc:  # the user's code, failing to import
            self.app.call_from_thread(self.say, f"cannot list the app's tasks: {type(exc).__name__}: {exc}", error=True)
            return
        if not tasks:
            self.app.call_from_thread(self.say, f"the app {app.main or '?'} registers no task of its own", error=True)
            return
        picker = TaskPicker(tasks, app.main or "your app", self.controller.broker_display)
        self.app.call_from_thread(self.app.push_screen, picker, self._task_chosen)

    def _task_chosen(self, task: AppTask | None) -> None:
        if task is not None:
            form = EnqueueForm(f"Send {task.name}", EnqueueRequest(task.name), route=task.queue)
            self.app.push_screen(form, self._request_made)

    def _request_made(self, request: EnqueueRequest | None) -> None:
        if request is not None:
            self._send_request(request)

    @work(thread=True, group="control")
    def _send_request(self, request: EnqueueRequest) -> None:
        from ...control.app_tasks import routed_queue

        controller = self.controller
        assert controller is not None
        log.info("enqueue %s %s via %s", request.name, request.options, controller.broker_display)
        outcome = controller.enqueue(request.name, request.args, request.kwargs, **request.options)
        log.info("enqueue: ok=%s %s", outcome.ok, outcome.message)
        self.app.call_from_thread(self._sent, outcome, request.name)
        if outcome.ok:
            self._warn_if_unconsumed(request.queue or routed_queue(controller.app, request.name, request.args))

    def _demo_chosen(self, key: str | None) -> None:
        if key is not None:
            self._send_demo(key)

    @work(thread=True, group="control")
    def _send_demo(self, key: str) -> None:
        from ...control.demo_tasks import DEMO_MENU, demo_queue, send_demo

        controller = self.controller
        assert controller is not None
        log.info("enqueue demo task %r via %s", key, controller.broker_display)
        outcome = send_demo(controller, key)
        log.info("enqueue: ok=%s %s", outcome.ok, outcome.message)
        self.app.call_from_thread(self._sent, outcome, DEMO_MENU[key][1])
        if outcome.ok:
            self._warn_if_unconsumed(demo_queue())

    def _warn_if_unconsumed(self, queue: str | None) -> None:
        """Say so when no worker consumes ``queue``: the task would wait, PENDING, with no sign why.

        Asks the workers which queues they consume once a minute at most (in this
        thread worker); a broker that cannot be asked says nothing. Nothing is declared.
        """
        controller = self.controller
        if queue is None or controller is None:
            return
        now = time.monotonic()
        if self._consumers is None or now - self._consumers[0] > CONSUMERS_SECONDS:
            found = controller.consumed_queues(timeout=1.0)
            if found is None:
                return
            self._consumers = (now, found)
        if not any(queue in queues for queues in self._consumers[1].values()):
            workers = len(self._consumers[1])
            about = f"none of the {workers} workers that answered" if workers else "no worker answered: none"
            self.app.call_from_thread(
                self.say, f"{about} consumes queue {queue}: the task waits, PENDING, until a worker does", error=True
            )

    def _sent(self, outcome: Outcome, task_name: str) -> None:
        self.say(outcome.message, error=not outcome.ok)
        if outcome.ok and outcome.task_id:
            # Celery writes nothing for a task until it starts: show it at once.
            self.store.add_pending(outcome.task_id, task_name, time.time())
            self.rows_changed([outcome.task_id], now=True)
            self.refresh_rows()  # its row at once, to select it
            self.table.select_task(outcome.task_id)

    # --- x: revoke ---------------------------------------------------------------------

    def action_revoke(self) -> None:
        if self.model.marks:
            if self._can_send("revoke"):
                self._bulk("revoke")
            return
        task_id = self.table.selected_id
        record = self._selected_record()
        if task_id is None or not self._can_send("revoke"):
            return
        index = self.store.workflows
        if index.is_workflow_root(task_id) or (record is None and index.kind_of(task_id) == GROUP):
            # A workflow's first task, or a group: its unfinished tasks, those with no file yet too, at once.
            unfinished, total = index.unfinished(task_id)
            if unfinished:
                self._confirm_workflow_revoke(task_id, record, unfinished, total)
                return
            if record is None:
                self.say(f"nothing to revoke: its {total} tasks are finished")
                return
        if record is None:
            node = index.node(task_id)
            if node.kind != MISSING:
                return
            record = index.record_of(node)  # named by its workflow, no file yet: it can be revoked before it runs
        screen = ConfirmScreen(
            "Revoke this task?",
            _facts(record),
            [("r", "revoke"), ("t", "terminate (SIGTERM)"), ("k", "kill (SIGKILL)")],
        )
        self.app.push_screen(screen, lambda key: self._revoke_chosen(record.task_id, key))

    def _confirm_workflow_revoke(self, root: str, record: TaskRecord | None, unfinished: list[str], total: int) -> None:
        facts = [("workflow", root), ("unfinished", f"{len(unfinished)} of its {total} tasks")]
        if record is not None:
            facts[1:1] = [("name", record.name or "?"), ("status", record.status or "?")]
        choices = [("w", f"revoke the {len(unfinished)} unfinished"), ("t", "terminate them (SIGTERM)")]
        if record is not None:
            choices.append(("r", "only this task"))
        screen = ConfirmScreen("Revoke this workflow?", facts, choices)

        def chosen(key: str | None) -> None:
            if key == "r":
                self._revoke_chosen(root, "r")
            elif key in ("w", "t"):
                self.say(f"revoking {len(unfinished)} tasks of workflow {root}…")
                self._send_revoke(unfinished, terminate=key == "t", signal="SIGTERM")

        self.app.push_screen(screen, chosen)

    def _revoke_chosen(self, task_id: str, key: str | None) -> None:
        if key is not None:
            self.say(f"revoking {task_id}…")
            self._send_revoke(task_id, terminate=key in ("t", "k"), signal="SIGKILL" if key == "k" else "SIGTERM")

    @work(thread=True, group="control")
    def _send_revoke(self, task_id: str | list[str], *, terminate: bool, signal: str) -> None:
        controller = self.controller
        assert controller is not None
        log.info("revoke %s terminate=%s signal=%s", task_id, terminate, signal)
        outcome = controller.revoke(task_id, terminate=terminate, signal=signal)
        log.info("revoke: ok=%s %s", outcome.ok, outcome.message)
        self.app.call_from_thread(self.say, outcome.message, error=not outcome.ok)

    # --- R: re-enqueue, to the queue it came from --------------------------------------------

    def action_reenqueue(self) -> None:
        if self.model.marks:
            if self._can_send("re-enqueue"):
                self._bulk("retry")
            return
        record = self._selected_record()
        if record is None or not self._can_send("re-enqueue"):
            return
        self._prepare_reenqueue(record)

    @work(thread=True, group="control")
    def _prepare_reenqueue(self, record: TaskRecord) -> None:
        from ...control.app_tasks import routed_queue

        full = self.results.read_full(record.filename)
        meta = full.meta if full is not None else None
        name = meta.get("name") if isinstance(meta, dict) else None
        route = None
        if isinstance(name, str) and self.controller is not None:
            route = routed_queue(self.controller.app, name)
        self.app.call_from_thread(self._confirm_reenqueue, record, meta, route)

    def _confirm_reenqueue(self, record: TaskRecord, meta: dict[str, Any] | None, route: str | None) -> None:
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            why = "the file has no task name (the workers run without result_extended)"
            self.say(f"cannot re-enqueue: {why}", error=True)
            return
        name = meta["name"]
        args = meta.get("args") or []
        kwargs = meta.get("kwargs") or {}
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            self.say("cannot re-enqueue: the stored args/kwargs are not a list and a mapping", error=True)
            return
        queue = meta.get("queue") if isinstance(meta.get("queue"), str) else None
        request = EnqueueRequest(name, list(args), dict(kwargs), queue or None)
        facts = [("was", record.task_id), ("status", record.status or "?")]
        form = EnqueueForm("Send this task again, as a new task", request, facts=facts, route=route)
        self.app.push_screen(form, self._request_made)

    # --- marks, and the actions on many tasks at once -----------------------------------

    def _marks_changed(self) -> None:
        self.table.refresh_changed()
        self.update_summary()

    def action_mark(self) -> None:
        """Mark or unmark the selected task, and move to the next row (Space Space Space marks a run)."""
        task_id = self.table.selected_id
        if task_id is None:
            return
        self.model.marks.toggle(task_id)
        self.table.action_cursor(1)
        self._marks_changed()

    def action_mark_all(self) -> None:
        """Mark every row the filter keeps, after saying how many."""
        model = self.model
        if model.filtering:
            self.say("the filter is still being applied: press a again when it is done")
            return
        rows = list(model.rows)  # as confirmed: a refresh changes the model's in place
        if not rows:
            self.say("no rows to mark")
            return
        query = self.filter_box.value.strip() if model.predicate is not None else ""
        facts = [("filter", query or "none: every task"), ("rows", f"{len(rows):,}")]
        if model.marks:
            facts.append(("marked now", f"{len(model.marks):,}"))
        screen = ConfirmScreen(f"Mark {len(rows):,} tasks?", facts, [("a", "mark them")])
        self.app.push_screen(screen, lambda key: self._mark_rows(rows) if key is not None else None)

    def _mark_rows(self, rows: list[TaskRecord]) -> None:
        added = self.model.marks.mark_rows(rows)
        self._marks_changed()
        log.info("marked %d: %d marked", added, len(self.model.marks))
        self.notify(f"marked {added:,}; u unmarks all", timeout=2, markup=False)  # the summary says "N marked"

    def action_unmark_all(self) -> None:
        count = self.model.marks.clear()
        self._marks_changed()
        if count:
            self.say(f"unmarked {count:,}")

    def _bulk(self, kind: str) -> None:
        """x, R or D on the marked tasks (or the selected one): the plan is made off the UI thread
        (a million marks, or thousands of files to read for R), then one confirmation."""
        marks = self.model.marks
        ids = list(marks) if marks else [t for t in (self.table.selected_id,) if t is not None]
        if not ids:
            return
        about = f"{len(ids):,} marked tasks" if marks else "the selected task"
        self._prepare_bulk(kind, ids, set(self.store.stale), about)

    @work(thread=True, exclusive=True, group="bulk-read")
    def _prepare_bulk(self, kind: str, ids: list[str], stale: set[str], about: str) -> None:
        get = self.store.records.get
        records = [r for r in map(get, sorted(ids)) if r is not None]
        if kind == "revoke":
            plans = [plan(a, records, stale=stale) for a in ("revoke", "terminate", "kill")]
        elif kind == "retry":
            metas = {}
            for record in records:  # their files: there may be thousands
                full = self.results.read_full(record.filename)
                metas[record.task_id] = full.meta if full is not None else None
            plans = [plan("retry", records, metas=metas, stale=stale)]
        else:
            plans = [plan("forget", records), plan("forget", records, include_unfinished=True)]
        self.app.call_from_thread(self._confirm_bulk, kind, plans, about)

    def _confirm_bulk(self, kind: str, plans: list[Plan], about: str) -> None:
        first = plans[0]
        if kind == "revoke":
            title = f"Revoke {len(first.targets):,} of {about}?"
            choices = [("r", "revoke"), ("t", "terminate (SIGTERM)"), ("k", "kill (SIGKILL)")]
            chosen = dict(zip("rtk", plans, strict=True))
        elif kind == "retry":
            title = f"Send {len(first.targets):,} of {about} again, each to its own queue?"
            choices = [("y", "send them again")]
            chosen = {"y": first}
        else:
            title = f"Delete the result files of {about}? (cannot be undone)"
            everything = plans[1]
            choices = [("y", f"remove {len(first.targets):,}")] if first.targets else []
            more = len(everything.targets) - len(first.targets)
            if more:
                choices.append(("U", f"remove {len(everything.targets):,}, the {more:,} unfinished or unreadable too"))
            chosen = {"y": first, "U": everything}
        if not any(chosen[key].targets for key, _ in choices):
            what = {"revoke": "revoke", "retry": "send again", "forget": "forget"}[kind]
            self.say(f"nothing to {what} in {about}: {first.skipped_text()}", error=True)
            return
        screen = ConfirmScreen(title, first.facts(short=True), choices)
        self.app.push_screen(screen, lambda key: self._run_bulk(chosen[key]) if key in chosen else None)

    def action_forget(self) -> None:
        """Remove the result files of the marked tasks (or the selected one): finished ones, or all with U."""
        if self.controller is not None and self.controller.read_only:
            self.say("read-only: forget not done", error=True)
            return
        self._bulk("forget")

    def _run_bulk(self, bulk: Plan) -> None:
        """Carry ``bulk`` out behind a progress bar (Esc stops it); the outcome in the summary bar."""
        from ...control.bulk import audit, execute

        controller, directory = self.controller, self.results.path
        broker = controller.broker_display if controller is not None and bulk.action != "forget" else None
        log.info("bulk %s: %d tasks, %d skipped", bulk.action, len(bulk.targets), len(bulk.skipped))

        def run(progress: Callable[[int, int], None], cancelled: Callable[[], bool]) -> list[Done]:
            done = execute(bulk, controller=controller, directory=directory, progress=progress, cancelled=cancelled)
            audit(bulk, done, broker)
            return done

        self.app.push_screen(BulkProgress(bulk, run), lambda done: self._bulk_done(bulk, done))

    def _bulk_done(self, bulk: Plan, done: list[Done] | None) -> None:
        if done is None:
            return
        line = outcome_line(bulk, done)
        log.info("bulk %s: %s", bulk.action, line)
        sent = [(d.sent, d.name) for d in done if d.sent]
        if sent:  # as for one task sent: PENDING rows at once, until their files come
            now = time.time()
            for task_id, name in sent:
                self.store.add_pending(task_id, name, now)
            self.rows_changed([task_id for task_id, _ in sent], now=True)
        if not any(d.cancelled for d in done):
            self.model.marks.clear()  # done with them: the next marks start afresh
        self._marks_changed()
        self.say(line, error=any(not d.ok for d in done))

    # --- stale tasks: unfinished, their worker gone -----------------------------------

    def check_stale(self) -> None:
        if self.scan is not None:
            # Judged once the first scan is done: while it runs, unfinished tasks keep
            # coming, and each check would walk them all again (seconds of the GIL at 1M).
            return
        store = self.store
        if store.unfinished or store.stale:
            if store.unfinished_version != self._candidates_version:
                # Made again only when an unfinished task came, changed or went: a big
                # directory's quiet unfinished tasks are not walked every few seconds.
                self._candidates = store.stale_candidates()
                self._candidates_version = store.unfinished_version
            self._find_stale(self._candidates)

    # A description of its own: Textual's default is the repr of the arguments, a
    # list of every unfinished task (most of an idle inspector's CPU at 1M).
    @work(thread=True, exclusive=True, group="stale", description="stale check")
    def _find_stale(self, candidates: list[tuple[str, str | None, int | None]]) -> None:
        # Asked here, not on the UI thread: dead workers leave unfinished files behind,
        # and a directory can hold a hundred thousand of them.
        replies = None  # unknown: a broker that cannot be asked blames no worker
        controller = self.controller
        if controller is not None and not controller.read_only:
            replies = controller.ping_workers(timeout=1.0)
        stale = self._stale_watch.check(candidates, replies)
        self.app.call_from_thread(self._stale_found, stale)

    def _stale_found(self, stale: set[str]) -> None:
        changed = self.store.set_stale(stale)
        if changed:
            # Their rows change (the status says stale, the clock stops) but move only in and
            # out of a filter (stale, status:stale): without one, no million rows re-sorted.
            if self.model.predicate is not None:
                self.rows_changed(changed, now=True)
            self._counts_stale = True
            self.table.refresh_changed()


#: The actions that send to Celery, and the keys that run them (with what each is called).
_SENDING = frozenset({"enqueue", "revoke", "reenqueue", "forget"})
_SENDING_KEYS = {"n": "enqueue", "x": "revoke", "R": "re-enqueue", "D": "forget"}


def _facts(record: TaskRecord) -> list[tuple[str, str]]:
    return [
        ("id", record.task_id),
        ("name", record.name or "?"),
        ("status", record.status or "?"),
        ("worker", record.worker or "?"),
    ]
