"""``n``: the demo tasks, one key each. Dismisses with the chosen key, or None."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class EnqueueMenu(ModalScreen[str | None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Cancel", id="enqueue.cancel")]

    def __init__(self, choices: Sequence[tuple[str, str]], broker: str) -> None:
        """``choices``: (key, label) in menu order."""
        super().__init__()
        self.choices = list(choices)
        self.broker = broker

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan")
        table.add_column()
        for key, label in self.choices:
            table.add_row(key, label)
        with Vertical(id="enqueue-body", classes="modal-body"):
            yield Static(Text("Enqueue a demo task", style="bold"))
            yield Static(table)
            yield Static(Text(f"\nvia {self.broker}   Esc cancels", style="dim"))

    def on_key(self, event: events.Key) -> None:
        keys = {key for key, _ in self.choices}
        if event.character in keys:
            event.stop()
            self.dismiss(event.character)
