"""A bulk action running: a progress bar, Esc to stop it, then its one-line outcome and, on demand, every task's.

The action runs in a thread worker (``run``, given ``progress`` and ``cancelled``):
the screen only draws what it is told between two batches, so the UI keeps
answering however long the broker takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from ...control.bulk_plan import Done, Plan, detail_lines, outcome_line
from ...text import one_line

Runner = Callable[[Callable[[int, int], None], Callable[[], bool]], list[Done]]
#: The most lines the detail list shows (the --log file has every task).
DETAIL_LINES = 5000


class BulkProgress(ModalScreen[list[Done] | None]):
    """Dismisses with every task's ``Done`` once the action ended (cancelled ones say so)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop_or_close", "Cancel / close", id="bulk.cancel"),
        Binding("enter", "close", "Close", id="bulk.close"),
        Binding("d", "details", "Details", id="bulk.details"),
    ]

    def __init__(self, bulk: Plan, run: Runner) -> None:
        super().__init__()
        self.bulk = bulk
        self._runner = run
        self.done: list[Done] | None = None
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        count = len(self.bulk.targets)
        with Vertical(classes="modal-body", id="bulk-body"):
            self.title_line = Static(Text(f"{self.bulk.action}: {count:,} tasks", style="bold"))
            yield self.title_line
            self.bar = ProgressBar(total=count, show_eta=False, id="bulk-bar")
            yield self.bar
            self.hint = Static(Text("Esc stops it after the batch under way", style="dim"))
            yield self.hint
            self.details = VerticalScroll(id="bulk-details")
            self.details.display = False
            yield self.details

    def on_mount(self) -> None:
        self._work()

    @work(thread=True, group="bulk")
    def _work(self) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.bar.update, progress=done)

        done = self._runner(progress, self._cancel.is_set)
        self.app.call_from_thread(self._finished, done)

    def _finished(self, done: list[Done]) -> None:
        self.done = done
        self.bar.update(progress=sum(1 for d in done if not d.cancelled))
        self.title_line.update(Text(one_line(outcome_line(self.bulk, done)), style="bold"))
        self.hint.update(Text("d every task   Enter or Esc close", style="dim"))

    def action_stop_or_close(self) -> None:
        if self.done is None:
            self._cancel.set()
            self.hint.update(Text("stopping after the batch under way…", style="bold yellow"))
        else:
            self.dismiss(self.done)

    def action_close(self) -> None:
        if self.done is not None:
            self.dismiss(self.done)

    def action_details(self) -> None:
        if self.done is None or self.details.display:
            return
        lines = detail_lines(self.bulk, self.done)
        shown = lines[:DETAIL_LINES]
        if len(lines) > len(shown):
            shown.append(f"… {len(lines) - len(shown):,} more (with --log, every task is in the log)")
        self.details.mount(Static(Text("\n".join(one_line(line) for line in shown))))
        self.details.display = True
        self.details.focus()
