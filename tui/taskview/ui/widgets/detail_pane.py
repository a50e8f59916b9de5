"""The full meta of one task, read from its file when it is selected.

Every piece of content is built as rich Text or plain TextArea text, never as
markup, and passed through ``inert`` first: results come from anywhere.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from ...results.json_output import jsonable
from ...results.problems import ProblemKind
from ...results.record import TaskRecord, display_status
from ...results.scan import FullRead
from ...text import inert, one_line
from ..colors import status_style
from ..formatting import duration, home_relative

#: Above this, the JSON is shown without highlighting: parsing it would stall the UI.
HIGHLIGHT_LIMIT = 2 * 1024 * 1024
#: How much of an unreadable file's raw bytes to show.
RAW_PREVIEW = 64 * 1024


@dataclass
class DetailContent:
    """Everything the pane shows, prepared off the UI thread."""

    record: TaskRecord
    history: list[tuple[float, str]]
    full: FullRead | None
    body: str  # pretty JSON, or the escaped raw bytes of an unreadable file
    traceback: str | None
    related: list[tuple[str, str]]  # (relation, task id)


def prepare(record: TaskRecord, history: list[tuple[float, str]], full: FullRead | None) -> DetailContent:
    meta = full.meta if full is not None else None
    traceback = None
    related: list[tuple[str, str]] = []
    body = None
    if meta is not None:
        try:
            body = inert(json.dumps(jsonable(meta), indent=2, ensure_ascii=False))
        except RecursionError:
            body = None  # nested deeper than Python's stack: show the bytes instead
        tb = meta.get("traceback")
        if isinstance(tb, str) and tb.strip():
            traceback = inert(tb)
        related = related_ids(meta, record.kind)
    if body is None and full is not None and full.read.data is not None:
        raw = full.read.data[:RAW_PREVIEW]
        body = inert(raw.decode("utf-8", "backslashreplace"))
        if len(full.read.data) > RAW_PREVIEW:
            body += f"\n... ({len(full.read.data) - RAW_PREVIEW:,} more bytes)"
    return DetailContent(record, history, full, body or "", traceback, related)


def related_ids(meta: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """Parent, group and children ids, from Celery's result tuples."""
    found: list[tuple[str, str]] = []
    for relation in ("parent_id", "group_id"):
        value = meta.get(relation)
        if isinstance(value, str) and value:
            found.append((relation.removesuffix("_id"), value))
    children = meta.get("children") if kind == "task" else meta.get("result")
    for child in _tuple_ids(children):
        found.append(("child", child))
    # Each id once (a parent can also be the group, a retry lists itself as a
    # child), and never the task itself.
    seen = {meta.get("task_id")}
    unique = []
    for relation, task_id in found:
        if task_id not in seen:
            seen.add(task_id)
            unique.append((relation, task_id))
    return unique


def _tuple_ids(value: Any, depth: int = 0) -> list[str]:
    """Ids in AsyncResult.as_tuple() shapes: ((id, parent), children) nested, groups deeper."""
    if depth > 20 or not isinstance(value, (list, tuple)):
        return []
    if len(value) == 2 and isinstance(value[0], str) and (value[1] is None or isinstance(value[1], (list, tuple))):
        return [value[0]]  # (id, parent)
    ids: list[str] = []
    for item in value:
        ids.extend(_tuple_ids(item, depth + 1))
    return ids


class DetailPane(Vertical):
    """Header, related tasks, traceback and the whole meta as JSON."""

    class JumpTo(Message):
        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def compose(self) -> ComposeResult:
        yield Static(id="detail-header")
        yield OptionList(id="detail-related")
        with VerticalScroll(id="detail-traceback"):
            yield Static(id="detail-traceback-text")
        yield TextArea(id="detail-body", read_only=True, soft_wrap=False, show_line_numbers=False)

    def on_mount(self) -> None:
        self.query_one("#detail-related").display = False
        self.query_one("#detail-traceback").display = False

    def show_empty(self, message: str) -> None:
        self.query_one("#detail-header", Static).update(Text(message, style="dim"))
        self.query_one("#detail-related").display = False
        self.query_one("#detail-traceback").display = False
        self.query_one("#detail-body", TextArea).load_text("")

    def show(self, content: DetailContent) -> None:
        self.query_one("#detail-header", Static).update(self._header(content))
        related = self.query_one("#detail-related", OptionList)
        related.clear_options()
        related.add_options(
            Option(Text.assemble((f"{relation:<7}", "dim"), one_line(task_id)), id=task_id)
            for relation, task_id in content.related
        )
        related.display = bool(content.related)
        traceback = self.query_one("#detail-traceback")
        traceback.display = content.traceback is not None
        if content.traceback is not None:
            renderable: RenderableType = Syntax(content.traceback, "pytb", word_wrap=True, theme="ansi_dark")
            self.query_one("#detail-traceback-text", Static).update(renderable)
        body = self.query_one("#detail-body", TextArea)
        highlight = content.full is not None and content.full.error is None and len(content.body) <= HIGHLIGHT_LIMIT
        body.language = "json" if highlight and "json" in body.available_languages else None
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
        error = content.full.error if content.full is not None else record.error
        if record.status == "PENDING" and error is not None and error.kind is ProblemKind.GONE:
            lines.append(
                Text(
                    "no file yet: Celery writes one when the task starts (with task_track_started) or ends", style="dim"
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
