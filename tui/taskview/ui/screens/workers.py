"""``w``: the workers that answer (pool, busy, held tasks, queues) and the queues' sizes, refreshed as
the monitor reports; the actions on a worker or a queue, each confirmed, refused with --read-only.

It never asks the broker itself to draw: it shows the last ``WorkersReport`` at once
and each new one as it comes (``show``). Actions run in thread workers (``Controller``
calls are bounded in time); their outcome is one line under the header.
Dismisses with a task id to select in the main table (Enter on a worker's task), or None.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...control.monitor import WorkersReport
from ...control.workers import WorkerState
from ...text import one_line
from ..worker_rows import QUEUE_COLUMNS, WORKER_COLUMNS, header_line, queue_names, queue_row, worker_row
from .confirm import ConfirmScreen
from .help import HelpScreen
from .prompt import PromptScreen
from .worker_tasks import WorkerTasksScreen

if TYPE_CHECKING:
    from ...control.controller import Controller, Outcome

log = logging.getLogger(__name__)


class WorkersScreen(Screen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Back", id="workers.back"),
        Binding("w", "dismiss(None)", "Back", show=False, id="workers.close"),
        Binding("q", "app.quit", "Quit", show=False, id="workers.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="workers.help"),
        Binding("plus", "pool(1)", "Grow", key_display="+", id="workers.grow"),
        Binding("minus", "pool(-1)", "Shrink", key_display="-", id="workers.shrink"),
        Binding("r", "rate_limit", "Rate", id="workers.rate_limit"),
        # Out of the footer (in ?): at 80 columns it must show the shutdown and the purge.
        Binding("a", "consumer('add')", "Consume a queue", show=False, id="workers.add_consumer"),
        Binding("c", "consumer('cancel')", "Stop consuming a queue", show=False, id="workers.cancel_consumer"),
        Binding("S", "shutdown", "Shutdown", id="workers.shutdown"),
        Binding("P", "purge", "Purge", id="workers.purge"),
        Binding("g", "refresh_now", "Refresh now", show=False, id="workers.refresh"),
        Binding("enter", "noop", "A worker's tasks", show=False, id="workers.tasks"),  # the table's, for ?
    ]

    DEFAULT_CSS = """
    WorkersScreen { layout: vertical; }
    WorkersScreen #workers-header { height: auto; background: $boost; padding: 0 1; }
    WorkersScreen #workers-faults { height: auto; max-height: 4; padding: 0 1; color: $error; }
    WorkersScreen #workers-outcome { height: auto; padding: 0 1; }
    WorkersScreen #workers-table { height: 2fr; }
    WorkersScreen #queues-title { height: 1; padding: 0 1; background: $panel; }
    WorkersScreen #queues-table { height: 1fr; }
    """

    def __init__(
        self,
        controller: Controller,
        report: WorkersReport | None,
        *,
        interval: float,
        refresh_now: Callable[[], None],
    ) -> None:
        super().__init__()
        self.controller = controller
        self.report = report
        self.interval = interval
        self.refresh_now = refresh_now

    def compose(self) -> ComposeResult:
        yield Static(id="workers-header")
        yield Static(id="workers-faults")
        yield Static(id="workers-outcome")
        workers: DataTable[Text] = DataTable(id="workers-table", cursor_type="row", zebra_stripes=False)
        workers.add_columns(*WORKER_COLUMNS)
        yield workers
        yield Static(Text("Queues  (Tab moves here; P purges the selected one)", style="bold"), id="queues-title")
        queues: DataTable[Text] = DataTable(id="queues-table", cursor_type="row")
        queues.add_columns(*QUEUE_COLUMNS)
        yield queues
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#workers-outcome", Static).display = False
        self.show(self.report)
        self.set_interval(1.0, self._tick)
        self.query_one("#workers-table", DataTable).focus()

    def _tick(self) -> None:
        self._header()

    # --- what the monitor reports -------------------------------------------------------------

    def show(self, report: WorkersReport | None) -> None:
        """Draw ``report`` (the selection stays on its worker, its queue)."""
        self.report = report
        self._header()
        faults = self.query_one("#workers-faults", Static)
        lines = report.lines if report is not None else []
        faults.update(Text("\n".join(one_line(line) for line in lines)))
        faults.display = bool(lines)
        if report is None:
            return
        table: DataTable[Text] = self.query_one("#workers-table", DataTable)
        _fill(table, [(w.name, worker_row(w)) for w in report.workers])
        queues = self.query_one("#queues-table", DataTable)
        _fill(queues, [(name, queue_row(report, name)) for name in queue_names(report)])

    def _header(self) -> None:
        text = header_line(self.report, self.interval, time.time())
        style = "bold yellow" if "(stale)" in text or (self.report is not None and self.report.error) else "bold"
        self.query_one("#workers-header", Static).update(Text(text, style=style))

    def say(self, message: str, *, error: bool = False) -> None:
        outcome = self.query_one("#workers-outcome", Static)
        outcome.update(Text(one_line(message), style="bold red" if error else "bold green"))
        outcome.display = True
        log.log(logging.WARNING if error else logging.INFO, "workers: %s", message)

    # --- selection ------------------------------------------------------------------------------

    def selected_worker(self) -> WorkerState | None:
        table = self.query_one("#workers-table", DataTable)
        if self.report is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((w for w in self.report.workers if w.name == key), None)

    def selected_queue(self) -> str | None:
        table = self.query_one("#queues-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected, "#workers-table")
    def _open_worker(self, event: DataTable.RowSelected) -> None:
        worker = self.selected_worker()
        if worker is not None:
            self.app.push_screen(WorkerTasksScreen(worker), self._task_chosen)

    def _task_chosen(self, task_id: str | None) -> None:
        if task_id is not None:
            self.dismiss(task_id)

    def action_refresh_now(self) -> None:
        self.refresh_now()

    def action_noop(self) -> None:
        """Enter: the focused table's own (a worker's tasks); listed in ? for it."""

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))

    # --- actions ----------------------------------------------------------------------------------

    def _can_act(self, what: str) -> bool:
        if self.controller.read_only:
            self.say(f"read-only: {what} not sent", error=True)
            return False
        return True

    def _worker_for(self, what: str) -> WorkerState | None:
        worker = self.selected_worker()
        if worker is None:
            self.say(f"no worker selected: {what} not sent", error=True)
            return None
        if not self._can_act(what):
            return None
        return worker

    def action_pool(self, n: int) -> None:
        what = "pool grow" if n > 0 else "pool shrink"
        worker = self._worker_for(what)
        if worker is None:
            return
        size = "?" if worker.pool_size is None else str(worker.pool_size)
        facts = [("worker", worker.name), ("pool", f"{worker.pool}: {size} → {_add(size, n)} processes")]
        title = "Grow this worker's pool by one?" if n > 0 else "Shrink this worker's pool by one?"
        choice = ("y", "grow") if n > 0 else ("y", "shrink")
        command = "pool_grow" if n > 0 else "pool_shrink"
        self.app.push_screen(
            ConfirmScreen(title, facts, [choice]),
            _on_yes(lambda: self._send(worker.name, command, {"n": 1})),
        )

    def action_rate_limit(self) -> None:
        worker = self._worker_for("rate limit")
        if worker is None:
            return
        first = worker.registered[0] if len(worker.registered) == 1 else ""
        screen = PromptScreen(
            "Set a rate limit for a task on this worker",
            [("worker", worker.name), ("tasks", ", ".join(worker.registered[:6]) or "?")],
            [("task name", first), ("rate: 10/m, 2/s, 100/h; 0 removes it", "")],
        )
        self.app.push_screen(screen, lambda got: self._rate_limit(worker.name, got))

    def _rate_limit(self, worker: str, got: list[str] | None) -> None:
        if got is not None:
            task, rate = got
            self._send(worker, "rate_limit", {"task_name": task, "rate_limit": None if rate == "0" else rate})

    def action_consumer(self, how: str) -> None:
        what = "add consumer" if how == "add" else "cancel consumer"
        worker = self._worker_for(what)
        if worker is None:
            return
        queue = self.selected_queue() or ""
        if how == "cancel" and queue not in worker.queues:
            queue = worker.queues[0] if len(worker.queues) == 1 else ""
        title = "Make this worker consume a queue" if how == "add" else "Make this worker stop consuming a queue"
        facts = [("worker", worker.name), ("consumes", ", ".join(worker.queues) or "nothing")]
        screen = PromptScreen(title, facts, [("queue", queue)])
        command = "add_consumer" if how == "add" else "cancel_consumer"
        self.app.push_screen(screen, lambda got: self._consumer(worker.name, command, got))

    def _consumer(self, worker: str, command: str, got: list[str] | None) -> None:
        if got is not None:
            self._send(worker, command, {"queue": got[0]})

    def action_shutdown(self) -> None:
        worker = self._worker_for("shutdown")
        if worker is None:
            return
        facts = [("worker", worker.name), ("running", f"{worker.busy} tasks (they finish first: warm shutdown)")]
        self.app.push_screen(
            ConfirmScreen("Shut this worker down?", facts, [("y", "warm shutdown")]),
            _on_yes(lambda: self._send(worker.name, "shutdown", {})),
        )

    def action_purge(self) -> None:
        queue = self.selected_queue()
        if queue is None:
            self.say("no queue selected: nothing purged", error=True)
            return
        if not self._can_act(f"purge of {queue}"):
            return
        depth = self.report.depths.get(queue) if self.report is not None else None
        count = "unknown" if depth is None or depth.ready is None else f"{depth.ready:,}"
        facts = [("queue", queue), ("messages", f"{count} ready (as last asked), every one deleted")]
        self.app.push_screen(
            ConfirmScreen("Purge this queue?", facts, [("y", f"purge {queue}")]),
            _on_yes(lambda: self._purge(queue)),
        )

    @work(thread=True, group="worker-actions")
    def _purge(self, queue: str) -> None:
        log.info("purge %s", queue)
        self._done(self.controller.purge(queue))

    @work(thread=True, group="worker-actions")
    def _send(self, worker: str, command: str, arguments: dict[str, object]) -> None:
        log.info("%s %s %s", command, worker, arguments)
        self._done(self.controller.worker_command(worker, command, arguments))

    def _done(self, outcome: Outcome) -> None:
        log.info("outcome: ok=%s %s", outcome.ok, outcome.message)
        self.app.call_from_thread(self.say, outcome.message, error=not outcome.ok)
        self.refresh_now()


def _on_yes(then: Callable[[], object]) -> Callable[[str | None], None]:
    """A ConfirmScreen's callback: ``then()`` when the answer is y."""

    def answered(key: str | None) -> None:
        if key == "y":
            then()

    return answered


def _add(size: str, n: int) -> str:
    return str(int(size) + n) if size.isdigit() else "?"


def _fill(table: DataTable[Text], rows: list[tuple[str, tuple[str, ...]]]) -> None:
    """Show ``rows`` (key, cells): the same keys in the same order change only the cells that
    changed (a refresh every few seconds redraws little); else the rows are replaced, the cursor
    kept on the same key when it is still there."""
    keys = [key for key, _ in rows]
    shown = [row_key.value for row_key in table.rows]
    if shown == keys:
        columns = list(table.columns)
        for key, row in rows:
            old = table.get_row(key)
            for column, (before, cell) in enumerate(zip(old, row, strict=False)):
                if str(before) != cell:
                    table.update_cell(key, columns[column], Text(cell), update_width=True)  # "prefork 10"
        return
    current = None
    if table.row_count:
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    table.clear()
    for key, row in rows:
        table.add_row(*(Text(cell) for cell in row), key=key)
    if current in keys:
        table.move_cursor(row=keys.index(current), animate=False)
