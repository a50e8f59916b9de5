"""Enter on a worker: its active, reserved and scheduled tasks, and the task names it registers.

Enter on a task dismisses with its id (the workers screen then closes and the
main table selects it); Esc goes back.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...control.workers import WorkerState
from ...text import one_line
from ..worker_rows import TASK_COLUMNS, task_row, worker_status


class WorkerTasksScreen(Screen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Back", id="worker_tasks.back"),
        Binding("q", "app.quit", "Quit", show=False, id="worker_tasks.quit"),
    ]

    DEFAULT_CSS = """
    WorkerTasksScreen #worker-title { height: auto; background: $boost; padding: 0 1; }
    WorkerTasksScreen #worker-tasks { height: 1fr; }
    WorkerTasksScreen #worker-registered { height: auto; max-height: 6; padding: 0 1; border-top: solid $accent; }
    """

    def __init__(self, worker: WorkerState) -> None:
        super().__init__()
        self.worker = worker

    def compose(self) -> ComposeResult:
        worker = self.worker
        title = (
            f"{one_line(worker.name)} · {worker_status(worker)} · {len(worker.active)} active, "
            f"{len(worker.reserved)} reserved, {len(worker.scheduled)} scheduled · pids "
            + (" ".join(str(p) for p in worker.pids) or "?")
        )
        yield Static(Text(title, style="bold"), id="worker-title")
        table: DataTable[Text] = DataTable(id="worker-tasks", cursor_type="row")
        table.add_columns(*TASK_COLUMNS)
        now = time.time()
        for task in worker.tasks:
            table.add_row(*(Text(cell) for cell in task_row(task, now)), key=task.task_id)
        yield table
        names = ", ".join(one_line(n) for n in worker.registered) or "none reported"
        yield Static(Text.assemble(("registered: ", "dim"), names), id="worker-registered")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#worker-tasks", DataTable).focus()

    @on(DataTable.RowSelected, "#worker-tasks")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)
