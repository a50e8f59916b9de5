"""A confirmation before anything that sends or destroys: what it is about, and one key per choice."""

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

from ...text import one_line


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the key of the chosen action, or None on Esc."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="confirm.cancel")]

    def __init__(self, title: str, facts: Sequence[tuple[str, str]], choices: Sequence[tuple[str, str]]) -> None:
        """``facts``: (label, value) about the task, shown escaped; ``choices``: (key, what it does)."""
        super().__init__()
        self.title_text = title
        self.facts = list(facts)
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        facts = facts_table(self.facts)
        keys = Text()
        for key, label in self.choices:
            keys.append(f" {key} ", style="bold reverse")
            keys.append(f" {label}   ")
        keys.append(" Esc ", style="bold reverse")
        keys.append(" cancel")
        with Vertical(classes="modal-body"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(facts)
            yield Static(Text(""))
            yield Static(keys)

    def on_key(self, event: events.Key) -> None:
        if event.character in {key for key, _ in self.choices}:
            event.stop()
            self.dismiss(event.character)


def facts_table(facts: Sequence[tuple[str, str]]) -> Table:
    """(label, value) rows, the labels dim, the values escaped on one line each."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for label, value in facts:
        table.add_row(label, Text(one_line(value)))
    return table
