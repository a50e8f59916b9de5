"""The form before a task is sent: args and kwargs as JSON, the queue, a countdown.

Checked as you type (``view/enqueue.py``), with the reason in one line. Used by
``n`` for a task of your app and by ``R`` to send a stored task again (its
arguments and queue filled in). Dismisses with the request, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ...text import one_line
from ...view.enqueue import EnqueueRequest, FieldError, as_field, parse_request
from ..widgets.ordered_input import OrderedInput

FIELDS = ("args", "kwargs", "queue", "countdown")


class EnqueueForm(ModalScreen[EnqueueRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="form.cancel")]

    def __init__(
        self,
        title: str,
        request: EnqueueRequest,
        *,
        facts: Sequence[tuple[str, str]] = (),
        route: str | None = None,
    ) -> None:
        """``request``: the fields as they start; ``facts``: what the form is about (shown
        escaped); ``route``: the queue the app sends the task to when none is given."""
        super().__init__()
        self.title_text = title
        self.start = request
        self.facts = list(facts)
        self.route = route

    def compose(self) -> ComposeResult:
        start = self.start
        values = {
            "args": as_field(start.args),
            "kwargs": as_field(start.kwargs),
            "queue": one_line(start.queue or ""),  # what is shown is what is sent
            "countdown": "" if start.countdown is None else f"{start.countdown:g}",
        }
        hints = {
            "args": "a JSON list",
            "kwargs": "a JSON object",
            "queue": f"default: {self.route}" if self.route else "default: the app's route",
            "countdown": "seconds before it runs (empty: now)",
        }
        with Vertical(classes="modal-body", id="form-body"):
            yield Static(Text(one_line(self.title_text), style="bold"))
            if self.facts:
                facts = Table.grid(padding=(0, 2))
                facts.add_column(style="dim")
                facts.add_column()
                for label, value in self.facts:
                    facts.add_row(label, Text(one_line(value)))
                yield Static(facts)
            for name in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Label(name)
                    yield OrderedInput(values[name], placeholder=hints[name], id=f"form-{name}")
            yield Static(id="form-error")
            yield Static(Text("Enter sends   Tab next field   Esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#form-args", Input).focus()
        self._check()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._check()

    def _check(self) -> EnqueueRequest | None:
        """The request the fields make now, or None with the reason shown under them."""
        error = self.query_one("#form-error", Static)
        values = {name: self.query_one(f"#form-{name}", Input).value for name in FIELDS}
        for name in FIELDS:
            self.query_one(f"#form-{name}", Input).set_class(False, "-invalid")
        try:
            request = parse_request(self.start.name, **values)
        except FieldError as problem:
            self.query_one(f"#form-{problem.field}", Input).set_class(True, "-invalid")
            error.update(Text(one_line(str(problem)), style="bold red"))
            return None
        where = request.queue or self.route or "the app's route"
        error.update(Text(one_line(f"sends {self.start.name} to {where}"), style="green"))
        return request

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        request = self._check()
        if request is not None:
            self.dismiss(request)
