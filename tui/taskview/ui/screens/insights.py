"""The insights screen (``i``): what is failing and since when, per name, over time, and what looks stuck.

It reads the store's aggregates (``store.insights``, kept as files arrive) through the
view model (``view/insights.py``) and redraws at most twice a second, only when they
changed (or once every few seconds, for ages). In a replay, the store is the replay's,
and the clock the replay clock: the screen shows the state as of then.
Dismissed with what to do in the inspector: ("filter", query) or ("task", task id).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...insights.suspects import RETRY_WINDOW, Suspect, suspects
from ...store import Store
from ...text import one_line
from ...view.insights import NAME_SORTS, group_filter, insights_view, name_filter
from ..formatting import age, duration
from ..widgets.finish_chart import FinishChart

#: How often the screen looks for changes (it redraws only when there are).
REFRESH_SECONDS = 0.5
#: Ages and suspects move on with the clock: redrawn this often all the same.
AGES_SECONDS = 5.0

Choice = tuple[str, str]


class InsightsScreen(Screen[Choice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="insights.back"),
        Binding("i", "close", "Back", show=False, id="insights.close"),
        Binding("q", "app.quit", "Quit", id="insights.quit"),
        Binding("s", "next_sort", "Sort names", id="insights.sort"),
        Binding("tab", "app.focus_next", "Next table", id="insights.next"),
        # The task table's j and k, in these tables too.
        Binding("j", "move(1)", "Down", show=False, id="insights.down"),
        Binding("k", "move(-1)", "Up", show=False, id="insights.up"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.sort = NAME_SORTS[0]
        self._drawn: tuple[int, float] | None = None  # (aggregates' version, when) of the last draw
        self._suspects: list[Suspect] = []
        self._suspects_at: float | None = None  # the clock when they were last looked for

    def compose(self) -> ComposeResult:
        self.heading = Static(id="insights-heading")
        self.chart = FinishChart(id="insights-chart")
        self.names: DataTable[object] = DataTable(id="insights-names", cursor_type="row")
        self.errors: DataTable[object] = DataTable(id="insights-errors", cursor_type="row")
        self.suspects: DataTable[object] = DataTable(id="insights-suspects", cursor_type="row")
        yield self.heading
        yield self.chart
        with Container(id="insights-tables"):
            yield self.names
            yield self.errors
        yield self.suspects
        yield Footer()

    def on_mount(self) -> None:
        self.suspects.display = False  # until some are found
        self.names.add_columns("NAME", "TASKS", "FAIL", "RATE", "P50", "P95", "MAX", "TIMED", "LAST")
        self.errors.add_columns("COUNT", "LAST", "FIRST", "ERROR GROUP", "NAMES")
        self.suspects.add_columns("SUSPECT", "TASK", "NAME", "WHY")
        self.names.border_title = "per name"
        self.errors.border_title = "errors (FAILURE, grouped)"
        self.suspects.border_title = "suspects"
        self.redraw()
        self.names.focus()
        self.set_interval(REFRESH_SECONDS, self.redraw)

    def on_resize(self) -> None:
        # The chart's buckets follow its width (known once laid out).
        self.call_after_refresh(self._redraw_chart)

    def _redraw_chart(self) -> None:
        self.chart.show(self.store.insights.buckets(max(10, self.chart.size.width - 8), until=self.clock()))

    def redraw(self, force: bool = False) -> None:
        """The tables and chart again when the aggregates changed (or the ages are old)."""
        now = self.clock()
        version = self.store.insights.version
        drawn = self._drawn
        if not force and drawn is not None and drawn[0] == version and abs(now - drawn[1]) < AGES_SECONDS:
            return
        self._drawn = (version, now)
        view = insights_view(self.store, now, self.sort, find_suspects=False)
        # Suspects take a pass over the unfinished tasks (a hundred thousand at times): in a
        # thread, every AGES_SECONDS, not at each change; the screen shows the last ones found.
        if force or self._suspects_at is None or abs(now - self._suspects_at) >= AGES_SECONDS:
            self._suspects_at = now
            self._find_suspects(list(self.store.unfinished), now)
        self._redraw_chart()
        total = sum(f.total for f in view.names)
        failed = sum(g[1] for g in view.groups)
        self.heading.update(
            Text.assemble(
                ("insights ", "bold"),
                f"{total:,} tasks, ",
                (f"{failed:,} failed", "bold red" if failed else ""),
                f" in {len(view.groups):,} error groups; names sorted by {self.sort} (s)",
                ("  Enter: filter the table / jump to the task", "dim"),
            )
        )
        names = self.names
        _refill(
            names,
            [
                (
                    f.name or "",
                    [
                        Text(one_line(f.name or "(no name)")),
                        _right(f"{f.total:,}"),
                        _right(f"{f.failures:,}", "red" if f.failures else ""),
                        _right("" if f.failure_rate is None else f"{f.failure_rate:.0%}"),
                        _right(duration(f.p50)),
                        _right(duration(f.p95)),
                        _right(duration(f.max)),
                        _right(f"{f.runtimes:,}"),
                        _right(age(f.last_done, now)),
                    ],
                )
                for f in view.names
            ],
        )
        _refill(
            self.errors,
            [
                (
                    key,
                    [
                        _right(f"{count:,}", "red"),
                        _right(age(last, now)),
                        _right(age(first, now)),
                        Text(one_line(key)),
                        Text(one_line(", ".join(hit))),
                    ],
                )
                for key, count, first, last, _example, hit in view.groups
            ],
        )
        self._name_keys = [f.name for f in view.names]

    @work(thread=True, exclusive=True, group="suspects")
    def _find_suspects(self, unfinished: list[str], now: float) -> None:
        found = suspects(self.store.insights, self.store.records, unfinished, now)
        self.app.call_from_thread(self._show_suspects, found)

    def _show_suspects(self, found: list[Suspect]) -> None:
        self._suspects = found
        _refill(
            self.suspects,
            [
                (
                    s.task_id or "",
                    [s.kind, (s.task_id or "")[:8], Text(one_line(s.name or "")), Text(one_line(_why(s)))],
                )
                for s in found
            ],
        )
        self.suspects.display = bool(found)

    def action_move(self, delta: int) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            focused.move_cursor(row=focused.cursor_row + delta, animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_next_sort(self) -> None:
        self.sort = NAME_SORTS[(NAME_SORTS.index(self.sort) + 1) % len(NAME_SORTS)]
        self.redraw(force=True)

    @on(DataTable.RowSelected, "#insights-names")
    def _name_chosen(self, event: DataTable.RowSelected) -> None:
        name = self._name_keys[event.cursor_row] if event.cursor_row < len(self._name_keys) else None
        if name is None:
            self.notify("tasks without a name cannot be filtered by name", severity="warning")
            return
        self.dismiss(("filter", name_filter(name)))

    @on(DataTable.RowSelected, "#insights-errors")
    def _group_chosen(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is not None:
            self.dismiss(("filter", group_filter(key)))

    @on(DataTable.RowSelected, "#insights-suspects")
    def _suspect_chosen(self, event: DataTable.RowSelected) -> None:
        task_id = event.row_key.value
        if task_id:
            self.dismiss(("task", task_id))


def _why(suspect: Suspect) -> str:
    if suspect.kind == "stuck":
        known = (
            f"p95 of its name {duration(suspect.p95)}" if suspect.p95 is not None else "no runtime known for its name"
        )
        return f"{suspect.status} for {duration(suspect.amount)}; {known}"
    if suspect.kind == "unseen":
        return f"sent {duration(suspect.amount)} ago, no file yet"
    return f"{suspect.amount:.0f} RETRY writes in the last {RETRY_WINDOW / 60:.0f} minutes"


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def _refill(table: DataTable[object], rows: list[tuple[str, list[object]]]) -> None:
    """All rows anew (a few dozen), the cursor kept on the same row number."""
    row = table.cursor_row
    table.clear()
    seen: set[str] = set()
    for key, cells in rows:
        if key in seen:  # row keys must be unique
            key = f"{key}\x00{len(seen)}"
        seen.add(key)
        table.add_row(*cells, key=key)
    if rows:
        table.move_cursor(row=min(row, len(rows) - 1), animate=False)
