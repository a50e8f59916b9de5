"""``n`` with your app: its own tasks, filtered as you type. Dismisses with the chosen one, or None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...control.app_tasks import AppTask
from ...text import one_line
from ..widgets.ordered_input import OrderedInput


class TaskPicker(ModalScreen[AppTask | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Next", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="picker.up"),
    ]

    def __init__(self, tasks: Sequence[AppTask], app_name: str, broker: str) -> None:
        """``broker``: where the task goes, as shown (its password masked)."""
        super().__init__()
        self.tasks = list(tasks)
        self.app_name = app_name
        self.broker = broker

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-body", classes="modal-body"):
            yield Static(Text(f"Send a task of {one_line(self.app_name)}", style="bold"))
            yield OrderedInput(placeholder="type to filter by name", id="picker-filter")
            yield OptionList(id="picker-tasks")
            hint = f"via {one_line(self.broker)}   Enter chooses, then args and kwargs   Esc cancels"
            yield Static(Text(hint, style="dim"))

    def on_mount(self) -> None:
        self._show("")
        self.query_one("#picker-filter", Input).focus()

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._show(event.value)

    def _show(self, text: str) -> None:
        words = text.lower().split()
        shown = [t for t in self.tasks if all(w in t.name.lower() for w in words)]
        options = self.query_one("#picker-tasks", OptionList)
        options.clear_options()
        options.add_options(
            Option(Text.assemble(one_line(t.name), ("  → " + one_line(t.queue) if t.queue else "", "dim")), id=t.name)
            for t in shown
        )
        if not shown:
            options.add_option(Option(Text("no task matches", style="dim"), disabled=True))
        else:
            options.highlighted = 0

    def action_move(self, delta: int) -> None:
        options = self.query_one("#picker-tasks", OptionList)
        if options.option_count:
            options.highlighted = max(0, min(options.option_count - 1, (options.highlighted or 0) + delta))

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#picker-tasks", OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-tasks")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, name: str | None) -> None:
        chosen = next((t for t in self.tasks if t.name == name), None)
        if chosen is not None:
            self.dismiss(chosen)
