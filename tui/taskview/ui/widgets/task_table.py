"""A Line-API table of tasks: renders only the visible rows, from the store.

Textual's DataTable is O(N) per update (DESIGN.md); this keeps the records in
display order and asks the store for a row's current record only when it is on
screen.
The selection is a task id, not an index, so it stays on its task while rows
move under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from math import ceil

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from ...results.record import TaskRecord, display_status
from ...store import Store
from ...text import one_line
from ...view.sorting import position
from ...view.workflow_tree import WorkflowTree
from ..colors import stale_style, status_style
from ..formatting import age, clock, duration, progress_bar
from ..table_columns import (
    COLUMNS,
    NAME_COLUMN,
    SORTABLE,
    STATUS_COLUMN,
    header_label,
    layout,
    short_name,
    status_cell,
)


class TaskTable(ScrollView, can_focus=True):
    """The task list. Owns the cursor; the screen owns what is in it (``set_rows``).

    Posts ``Highlighted`` when the cursor lands on another task and ``Selected``
    on Enter, as Textual's DataTable does.
    """

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "top", "Top", show=False, id="table.top"),
        Binding("end,G", "bottom", "Bottom", show=False, id="table.bottom"),
        Binding("right,l", "expand", "Open workflow", show=False, id="table.expand"),
        Binding("left,h", "collapse", "Close workflow", show=False, id="table.collapse"),
    ]

    DEFAULT_CSS = """
    TaskTable { overflow-x: hidden; }
    """

    @dataclass
    class Highlighted(Message):
        """The cursor is on a different task (or on none)."""

        task_id: str | None

    @dataclass
    class Selected(Message):
        """Enter on a task."""

        task_id: str

    @dataclass
    class HeaderClicked(Message):
        """A click on a column's header: sort by it."""

        key: str

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        marks: Container[str] = frozenset(),
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        """``marks``: the ids of the marked tasks (the view model's), drawn with a ``*`` before their id."""
        super().__init__(name=name, id=id)
        self.store = store
        self.clock = clock
        self.marks = marks
        self.order: list[TaskRecord] = []  # as sorted: the store may hold newer ones
        self.cursor = 0
        self.selected_id: str | None = None
        # How ``order`` is sorted: the header's arrow, and finding a task in it.
        self.sort_key = "last_change"
        self.sort_reverse = True
        #: Rows that arrived above the selection since the user last saw the top.
        self.new_above = 0
        #: Keep the selection on its task even at the top (the detail pane shows it).
        self.pinned = False
        self._layout: list[tuple[int, int]] = []  # (column index, width) of shown columns
        self._layout_for = -1
        #: What each line of the widget shows, as last drawn (``_line_key``): a change
        #: repaints only the lines whose key differs (``refresh_changed``).
        self._drawn: dict[int, tuple[object, ...]] = {}
        #: Lines rendered lately, by key: rows that only moved (new ones pushed in above
        #: them) are not rendered again. Emptied when the styles change.
        self._strips: dict[tuple[object, ...], Strip] = {}
        self._looks: tuple[Style, Style, Style, Style] | None = None  # see _styles
        #: Workflows: the rows are a WorkflowTree's (``order`` is its records), else None.
        self.workflows: WorkflowTree | None = None

    # --- content -------------------------------------------------------------

    def set_rows(
        self,
        order: list[TaskRecord],
        sort_key: str,
        reverse: bool,
        *,
        arrived: bool = False,
        workflows: WorkflowTree | None = None,
    ) -> None:
        """New rows in display order, sorted by ``sort_key``.

        ``arrived``: the same view, with tasks that came or changed (not a new sort or
        filter). Then, as in ``top``, a cursor on the top row stays there and new rows
        push in under it, in view; a cursor the user moved keeps its task and its place
        on screen, and ``new_above`` counts the rows that arrived above it. Otherwise
        the selected task keeps the cursor and its place on screen.
        """
        old_cursor, screen_row = self.cursor, self.cursor - int(self.scroll_y)
        at_top = old_cursor == 0 and screen_row == 0 and not self.pinned
        self.workflows = workflows
        self.order = order
        self.sort_key, self.sort_reverse = sort_key, reverse
        self._fit_rows()
        if arrived and at_top:
            self._select(0)
            return
        index = self._index_of(self.selected_id)
        if index is None:
            self.cursor = min(self.cursor, max(0, len(order) - 1))
        else:
            self.cursor = index
            self.scroll_to(y=max(0, self.cursor - screen_row), animate=False, immediate=True)
        if not arrived:
            self.new_above = 0
        elif index is not None:
            self.new_above = max(0, self.new_above + index - old_cursor)
        self._select(self.cursor, keep_visible=index is None)

    def _fit_rows(self) -> None:
        """The scrollable height follows the rows, without laying the screen out again.

        ``virtual_size`` is a layout reactive: set as such, each batch of new tasks
        laid the whole screen out (a fifth of the UI's time under a steady stream of
        them), though only the scrollbar's thumb changes. The scrollbar showing or
        going still lays it out (``show_vertical_scrollbar`` does).
        """
        size = Size(self.size.width, len(self.order) + 1)
        old = self.virtual_size
        if size == old:
            return
        self.set_reactive(TaskTable.virtual_size, size)
        bar = self.vertical_scrollbar if self.show_vertical_scrollbar else None
        if bar is not None and size.height > old.height:
            # More rows under a scrollbar already shown: its thumb mostly looks the same
            # (a cell is thousands of rows), and then it is not drawn again.
            window, length, position = bar.window_size, bar.size.height, bar.position
            if _thumb(size.height, window, length, position) == _thumb(old.height, window, length, position):
                bar.set_reactive(ScrollBar.window_virtual_size, size.height)
                return
        self._scroll_update(size)

    def _index_of(self, task_id: str | None) -> int | None:
        if task_id is None:
            return None
        # The common case: the task did not move.
        if self.cursor < len(self.order) and self.order[self.cursor].task_id == task_id:
            return self.cursor
        if self.workflows is not None:
            return self.workflows.position(task_id)
        record = self.store.get(task_id)
        if record is None:
            return None  # gone: no longer in any order
        return position(self.order, record, self.sort_key, self.sort_reverse)

    @property
    def task_ids(self) -> list[str]:
        """The ids of the rows, in order."""
        return [r.task_id for r in self.order]

    def select_task(self, task_id: str) -> bool:
        index = self._index_of(task_id)
        if index is None:
            return False
        self._select(index)
        return True

    # --- cursor ----------------------------------------------------------------

    @property
    def page_rows(self) -> int:
        return max(1, self.size.height - 1)

    def _select(self, index: int, keep_visible: bool = True) -> None:
        old = self.selected_id
        if not self.order:
            self.cursor, self.selected_id = 0, None
        else:
            self.cursor = max(0, min(index, len(self.order) - 1))
            self.selected_id = self.order[self.cursor].task_id
        if keep_visible:
            self._scroll_to_cursor()
        if self.cursor == 0:
            self.new_above = 0  # the top is in view: nothing arrived unseen
        self.refresh_changed()
        if self.selected_id != old:
            self.post_message(self.Highlighted(self.selected_id))

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.page_rows:
            self.scroll_to(y=self.cursor - self.page_rows + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self._select(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._select(self.cursor + direction * self.page_rows)

    def action_top(self) -> None:
        self._select(0)

    def action_bottom(self) -> None:
        self._select(len(self.order) - 1)

    # --- workflows -------------------------------------------------------------

    def action_expand(self) -> None:
        tree = self.workflows
        if tree is not None and self.cursor < len(tree.rows) and tree.expand(self.cursor):
            self._tree_changed()

    def action_collapse(self) -> None:
        tree = self.workflows
        if tree is None or self.cursor >= len(tree.rows):
            return
        at = tree.collapse(self.cursor)
        if at is not None:
            self._tree_changed(at)

    def _tree_changed(self, select: int | None = None) -> None:
        assert self.workflows is not None
        self.order = self.workflows.records
        self._fit_rows()
        self._select(self.cursor if select is None else select)
        self.refresh()

    def key_enter(self, event: events.Key) -> bool:
        # A key method, not a binding: the screen's own Enter binding ("Detail")
        # stays the one the footer shows, where users have always found it, and
        # takes Enter when no row is selected (the pane opens, and fills when one is).
        if self.selected_id is None:
            return False
        event.stop()
        tree = self.workflows
        if tree is not None and self.cursor < len(tree.rows):
            row = tree.rows[self.cursor]
            if row.expandable and not row.expanded:
                self.action_expand()  # Enter opens a workflow; on an open one, the detail
                return True
        self.post_message(self.Selected(self.selected_id))
        return True

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            key = self._column_at(event.x)
            if key is not None:
                self.post_message(self.HeaderClicked(key))
            return
        self._select(int(self.scroll_y) + event.y - 1)

    def _column_at(self, x: int) -> str | None:
        left = 0
        for index, width in self._columns():
            if left <= x < left + width + 1:
                return COLUMNS[index].key
            left += width + 1
        return None

    # --- rendering ---------------------------------------------------------------

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.order) + 1)
        self._scroll_to_cursor()  # shrunk (the detail pane opened): the selected row stays in view

    def _columns(self, width: int | None = None) -> list[tuple[int, int]]:
        """The columns that fit this width (the table's without the scrollbar), with their
        widths: low-priority ones drop out first."""
        if width is None:
            width = self.scrollable_content_region.width
        if width != self._layout_for:
            self._layout, self._layout_for = layout(width), width
        return self._layout

    def refresh_changed(self) -> None:
        """Repaint the lines whose content changed since they were drawn: rows that moved,
        changed or aged, the header. Nothing when nothing did (ages are whole seconds)."""
        height = self.size.height
        if not height:
            return
        width = self.scrollable_content_region.width
        now = self.clock()
        today = time.localtime(now)[:3]
        drawn, key = self._drawn, self._line_key
        start = None
        for y in range(height + 1):
            changed = y < height and drawn.get(y) != key(y, width, now, today)
            if changed and start is None:
                start = y
            elif not changed and start is not None:
                self.refresh(Region(0, start, self.size.width, y - start))
                start = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = None  # a theme, colour or focus change: every line looks different
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        now = self.clock()
        key = self._line_key(y, width, now, time.localtime(now)[:3])
        self._drawn[y] = key
        strips = self._strips
        strip = strips.get(key)
        if strip is None:
            strip = self._draw(key, width, now)
            if len(strips) >= 4 * max(24, self.size.height):
                del strips[next(iter(strips))]  # the oldest
            strips[key] = strip
        return strip

    def _line_key(self, y: int, width: int, now: float, today: tuple[int, int, int]) -> tuple[object, ...]:
        """All a line's look depends on: the same key, the same line. Ages and running
        times as shown (a second's change, not every frame), the record itself for the rest
        (the store replaces a record that changed, never alters it)."""
        if y == 0:
            return ("header", width, self.sort_key, self.sort_reverse, self.new_above, self.has_focus)
        index = int(self.scroll_y) + y - 1
        if index >= len(self.order):
            return ("blank", width)
        shown = self.order[index]
        record = self.store.get(shown.task_id) or shown  # gone since: as it was, until the next order
        is_stale = record.task_id in self.store.stale
        tree = self.workflows
        decor: tuple[object, ...] = ()
        if tree is not None and index < len(tree.rows):
            row = tree.rows[index]
            summary = None
            if row.depth == 0 and row.expandable:
                made = tree.summary(row.root)
                summary = (
                    made.text(),
                    made.state,
                    made.done,
                    made.tasks,
                    made.span,
                    made.slowest_text(),
                    made.first_start,
                    age(made.last_change, now),  # as shown: a second's change redraws it
                )
            decor = (row.guide, row.marker, row.label, row.role, summary)
        return (
            record,
            index == self.cursor,
            is_stale,
            record.task_id in self.marks,
            width,
            self.has_focus,
            today,  # TIME shows the time of day today, the date before
            age(record.last_change, now),
            duration(_running_time(record, now, stopped=is_stale)),
            decor,
        )

    def _draw(self, key: tuple[object, ...], width: int, now: float) -> Strip:
        first = key[0]
        if first == "header":
            return self._header(width)
        if first == "blank":
            return Strip.blank(width, self._styles()[0])
        record, is_cursor, is_stale, marked, _, _, _, changed, runtime, decor = key
        assert isinstance(record, TaskRecord) and isinstance(changed, str) and isinstance(runtime, str)
        assert isinstance(decor, tuple)
        return self._row(
            record, bool(is_cursor), bool(is_stale), width, now, runtime, changed, decor, marked=bool(marked)
        )

    def _styles(self) -> tuple[Style, Style, Style, Style]:
        """(row, cursor row, header, "new" mark) styles: worked out once, until the styles change
        (``rich_style`` walks every ancestor's styles: a tenth of a row's drawing, per row)."""
        if self._looks is None:
            base = self.rich_style
            header = self.get_component_rich_style("task-table--header")
            self._looks = (
                base,
                base + self.get_component_rich_style("task-table--cursor"),
                header,
                header + self.get_component_rich_style("task-table--new"),
            )
        return self._looks

    def _header(self, width: int) -> Strip:
        _, _, base, new = self._styles()
        arrow = "▼" if self.sort_reverse else "▲"
        segments = []
        for index, w in self._columns(width):
            column = COLUMNS[index]
            label = header_label(column, w, arrow if column.key == self.sort_key else None)
            segments.append(Segment(set_cell_size(label, w) + " ", base))
        strip = Strip(segments).crop_extend(0, width, base)
        if self.new_above:
            # Over the header's end: rows came in above what is in view.
            marker = f" ↑ {self.new_above:,} new "
            mark = Strip([Segment(marker, new)])
            strip = Strip.join([strip.crop(0, max(0, width - mark.cell_length)), mark]).crop_extend(0, width, base)
        return strip

    def _row(
        self,
        record: TaskRecord,
        is_cursor: bool,
        is_stale: bool,
        width: int,
        now: float,
        runtime: str,
        changed: str,
        decor: tuple[object, ...] = (),
        marked: bool = False,
    ) -> Strip:
        """A task's row; ``is_stale``: judged every few seconds; ``runtime`` and ``changed`` as shown;
        ``decor``: in the workflows view, (guide, marker, label, role, the root's summary or None);
        ``marked``: a ``*`` before its id, and the whole row in the marked style (bold, also without colour)."""
        row, cursor, _, _ = self._styles()
        base = cursor if is_cursor else row
        if marked:
            base = base + self.get_component_rich_style("task-table--marked")
        status = display_status(record)
        mono = self.app.no_color
        guide = ""
        summary = None
        tail = ""
        if decor:
            guide = f"{decor[0]}{decor[1]}"
            name_text = str(decor[2])
            summary = decor[4]
        else:
            name_text = record.name or ""
        progress = record.progress
        when = record.date_done if record.date_done is not None else record.first_seen
        if isinstance(summary, tuple):
            text, state, done, tasks, span, slowest, first_start, latest = summary
            status = str(state)  # the workflow's worst member's: a failure shows from its root
            tail = f" · {text}" + (f" · slowest {slowest}" if slowest else "")
            progress = (float(done), float(tasks)) if tasks else None
            if span is not None:
                runtime = duration(float(span))
            if isinstance(latest, str) and latest:
                changed = latest  # its latest change: what a sort by CHANGED orders workflows by
            if record.first_seen is None and isinstance(first_start, float):  # a group without a file
                when = first_start
        cells: list[tuple[str, Style | None]] = [
            (one_line("*" + record.task_id[:7] if marked else record.task_id[:8]), None),
            (one_line(status), stale_style(mono) if is_stale else status_style(status, mono)),
            (one_line(name_text), None),
            (one_line(record.worker or ""), None),
            (progress_bar(progress, 9), status_style(status, mono) if progress else None),
            (clock(when, now), None),
            (runtime, None),
            (changed, None),
        ]
        segments = []
        for index, w in self._columns(width):
            text, style = cells[index]
            cell_style = base + style if style is not None else base
            if index == NAME_COLUMN:
                room = max(1, w - len(guide))
                if tail:  # a workflow's root: its name, short, then what it says (cut at the end)
                    text = guide + short_name(text, min(cell_len(text), max(8, room // 2))) + one_line(tail)
                else:
                    text = guide + short_name(text, room)
            elif index == STATUS_COLUMN:
                text = status_cell(text, is_stale, w)
            segments.append(Segment(set_cell_size(text, w), cell_style))
            segments.append(Segment(" ", base))
        return Strip(Segment.simplify(segments)).crop_extend(0, width, base)

    COMPONENT_CLASSES = {"task-table--header", "task-table--cursor", "task-table--new", "task-table--marked"}


def _thumb(virtual: int, window: int, length: int, position: float) -> tuple[int, int]:
    """Where a vertical scrollbar's thumb starts and ends, in eighths of a cell, as
    Textual's ``ScrollBarRender.render_bar`` draws it."""
    if not (window and length and virtual) or length == virtual or virtual == window:
        return (0, 0)
    thumb = max(1, window / (virtual / length))
    start = int((length - thumb) * (position / (virtual - window)) * 8)
    return (start, start + ceil(thumb * 8))


def _running_time(record: TaskRecord, now: float, *, stopped: bool = False) -> float | None:
    """The task's runtime; while it runs, the time so far; a stale task's clock stops at its
    last write (nothing runs it any more)."""
    runtime = record.runtime
    if runtime is None and record.started is not None and record.date_done is None:
        end = record.mtime if stopped else now  # a stale task: its last write
        return max(0.0, end - record.started)
    return runtime


__all__ = ["COLUMNS", "SORTABLE", "TaskTable"]
