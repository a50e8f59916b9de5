"""``?``: every key, generated from the live bindings so it never goes stale."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...query import __doc__ as QUERY_HELP

_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "space": "Space",
    "plus": "+",
    "minus": "-",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def key_label(keys: str) -> str:
    return " ".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for binding in self.bindings:
            table.add_row(key_label(binding.key), binding.description)
        with VerticalScroll(id="help-body"):
            yield Static(Text("taskview keys", style="bold"))
            yield Static(table)
            yield Static(Text("\nFilter (/)", style="bold"))
            yield Static(Text((QUERY_HELP or "").split("\n\n", 1)[-1].rstrip()))
            yield Static(Text("\nEsc, q or ? closes this screen.", style="dim"))
