"""A short form before a worker action that needs words (a task name and a rate, a queue): Enter sends it.

What it is about is shown above the fields (escaped); Enter is the confirmation, Esc cancels.
Dismisses with the fields' values, stripped, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..widgets.ordered_input import OrderedInput
from .confirm import facts_table


class PromptScreen(ModalScreen[list[str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="prompt.cancel")]

    def __init__(
        self, title: str, facts: Sequence[tuple[str, str]], fields: Sequence[tuple[str, str]], hint: str = ""
    ) -> None:
        """``fields``: (placeholder, starting value) of each input; every one must be filled to send."""
        super().__init__()
        self.title_text = title
        self.facts = list(facts)
        self.fields = list(fields)
        self.hint = hint

    def compose(self) -> ComposeResult:
        facts = facts_table(self.facts)
        with Vertical(classes="modal-body"):
            yield Static(Text(self.title_text, style="bold"))
            yield Static(facts)
            for n, (placeholder, value) in enumerate(self.fields):
                yield OrderedInput(value=value, placeholder=placeholder, id=f"prompt-{n}", classes="prompt-field")
            yield Static(Text(self.hint or "Enter sends   Esc cancels", style="dim"), id="prompt-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-0", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        values = [field.value.strip() for field in self.query(Input).results(Input)]
        missing = next((n for n, value in enumerate(values) if not value), None)
        if missing is not None:
            self.query_one(f"#prompt-{missing}", Input).focus()
            self.query_one("#prompt-hint", Static).update(Text(f"{self.fields[missing][0]}: needed", style="bold red"))
            return
        self.dismiss(values)
