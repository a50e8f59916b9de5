"""The full meta of one task, read from its file when it is selected.

What it shows is prepared off the UI thread (``view/detail.py``); every piece
is built as rich Text or plain TextArea text, never as markup, and was made
inert there: results come from anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ...results.problems import ProblemKind
from ...results.record import TaskRecord, display_status
from ...store import NOT_STARTED
from ...text import one_line
from ...view.detail import DetailContent
from ..colors import status_style
from ..formatting import duration, home_relative, size

#: What a row with no file is, by its status (the workers screen's tasks have one: RESERVED, SCHEDULED).
_HELD = {
    "RESERVED": ", reserved by its worker (prefetched, waiting for a free process)",
    "SCHEDULED": ", held by its worker until its ETA",
}


class DetailPane(Vertical):
    """Header, related tasks, traceback and the whole meta as JSON."""

    @dataclass
    class JumpTo(Message):
        """A related task (parent, group, child) was chosen."""

        task_id: str

    def compose(self) -> ComposeResult:
        yield Static(id="detail-header")
        yield OptionList(id="detail-related")
        with VerticalScroll(id="detail-traceback"):
            yield Static(id="detail-traceback-text")
        yield TextArea(id="detail-body", read_only=True, soft_wrap=False, show_line_numbers=False)

    #: The task whose content is shown (or being read), else None.
    shown_id: str | None = None

    def on_mount(self) -> None:
        self.query_one("#detail-related").display = False
        self.query_one("#detail-traceback").display = False

    def show_empty(self, message: str) -> None:
        """Nothing to show: ``message`` says why; the last task's content goes (and its memory with it)."""
        self.query_one("#detail-header", Static).update(Text(message, style="dim"))
        self.shown_id = None
        self._clear()

    def show_reading(self, record: TaskRecord, history: list[tuple[float, str]]) -> None:
        """The header of a task whose file is being read: never the last task's content under it
        (the same task, read again as it changes, keeps its content until the new one is ready)."""
        if record.task_id == self.shown_id:
            return
        self.shown_id = record.task_id
        waiting = DetailContent(record, history, None, "", 0, None, None, [])
        self.query_one("#detail-header", Static).update(Group(self._header(waiting), Text("reading…", style="dim")))
        self._clear()

    def _clear(self) -> None:
        self.query_one("#detail-related").display = False
        self.query_one("#detail-traceback").display = False
        self.query_one("#detail-traceback-text", Static).update("")
        body = self.query_one("#detail-body", TextArea)
        if body.text:
            body.load_text("")

    def show(self, content: DetailContent) -> None:
        self.shown_id = content.record.task_id
        self.query_one("#detail-header", Static).update(self._header(content))
        related = self.query_one("#detail-related", OptionList)
        related.clear_options()
        related.add_options(
            Option(Text.assemble((f"{relation:<7}", "dim"), one_line(task_id)), id=task_id)
            for relation, task_id in content.related
        )
        related.display = bool(content.related)
        if content.related:
            related.highlighted = 0  # Enter on the focused list opens the first link at once
        traceback = self.query_one("#detail-traceback")
        traceback.display = content.traceback is not None
        if content.traceback is not None:
            renderable: RenderableType = Syntax(content.traceback, "pytb", word_wrap=True, theme="ansi_dark")
            self.query_one("#detail-traceback-text", Static).update(renderable)
        body = self.query_one("#detail-body", TextArea)
        body.language = "json" if content.highlight and "json" in body.available_languages else None
        body.load_text(content.body)
        body.scroll_home(animate=False)

    def _header(self, content: DetailContent) -> RenderableType:
        record = content.record
        status = display_status(record)
        lines = [
            Text.assemble(
                (one_line(record.task_id), "bold"),
                "  ",
                (one_line(status), status_style(status, self.app.no_color)),
                "  ",
                (record.kind, "dim"),
            )
        ]
        facts = []
        if record.name:
            facts.append(("name", record.name))
        if record.worker:
            facts.append(("worker", record.worker))
        runtime = record.runtime
        if runtime is not None:
            facts.append(("runtime", duration(runtime)))
        if facts:
            lines.append(Text("  ").join(Text.assemble((f"{k} ", "dim"), one_line(v)) for k, v in facts))
        if content.full is not None and content.full.read.error is not None:
            lines.append(Text.assemble(("file ", "dim"), one_line(home_relative(content.full.path))))
        elif content.full is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(content.full.read.mtime or 0))
            decoded = content.full.decoded
            how = ""
            if decoded is not None and decoded.serializer:
                how = f", {decoded.serializer}" + (f" {decoded.compression}" if decoded.compression else "")
            lines.append(
                Text.assemble(
                    ("file ", "dim"),
                    one_line(home_relative(content.full.path)),
                    (f"  {content.full.read.size:,} B, {when}{how}", "dim"),
                )
            )
        if content.history:
            seen = Text("seen ", style="dim")
            for i, (when_seen, state) in enumerate(content.history):
                if i:
                    seen.append(" → ", style="dim")
                seen.append(one_line(state), style=status_style(state, self.app.no_color))
                seen.append(" " + time.strftime("%H:%M:%S", time.localtime(when_seen)), style="dim")
            lines.append(seen)
        if content.cut:
            lines.append(
                Text(
                    f"showing the first {size(len(content.body))} of {size(content.body_size)}: "
                    "y copies the result, taskview DIR --dump jsonl prints it whole",
                    style="bold",
                )
            )
        if content.workflow is not None:
            lines.append(Text(one_line(content.workflow), style="bold"))
        if content.exception is not None:
            # The line a traceback ends with, where the eye starts.
            style = "bold reverse" if self.app.no_color else "bold red"
            lines.append(Text(one_line(content.exception), style=style))
        error = content.full.error if content.full is not None else record.error
        if record.status in NOT_STARTED and error is not None and error.kind is ProblemKind.GONE:
            held = _HELD.get(record.status or "", "")
            lines.append(
                Text(
                    f"no file yet{held}: Celery writes one when the task starts (with task_track_started) or ends",
                    style="dim",
                )
            )
        elif error:
            lines.append(Text.assemble(("unreadable: ", "bold red"), one_line(error.message)))
            if content.full is not None and content.full.read.data is not None:
                lines.append(Text("raw bytes below, escaped", style="dim"))
        return Group(*lines)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.JumpTo(event.option.id))
