"""The inspector: the task table, its filter and summary, and the detail pane; shared by live and replay.

A subclass says where the rows come from (a directory tail, a replay clock),
how the whole file behind a row is read, and adds its own keys. Everything it
shows comes from the store through the table model (``view/table_model.py``):
this screen forwards changes to the model and draws what the model says.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.reactive import var
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input

from ...query import compile_query, narrows, uses_field
from ...results.json_output import jsonable
from ...results.record import TaskRecord
from ...results.scan import FullRead
from ...store import Store, Transition
from ...text import one_line
from ...view.detail import DetailContent, prepare, with_members
from ...view.insights import throughput_line
from ...view.refresh_pace import FLOOD_SECONDS, RefreshPace
from ...view.table_model import TableModel
from ...view.workflow_tree import WorkflowTree
from ..formatting import size
from ..widgets.detail_pane import DetailPane
from ..widgets.ordered_input import OrderedInput
from ..widgets.summary_bar import SummaryBar
from ..widgets.task_table import SORTABLE, TaskTable

log = logging.getLogger(__name__)

#: How long a notice stays in the summary bar.
NOTICE_SECONDS = 10.0
#: How often a filter's since:/before: window moves on with the clock.
WINDOW_SECONDS = 10.0
#: While a first scan runs, the summary bar (its counts, its progress) is drawn anew at most this
#: often: its rows change with every batch, and at each refresh it was 10 redraws a second, half
#: the UI's drawing while a 1M directory filled.
SCAN_SUMMARY_SECONDS = 0.25
#: The most a copy sends to the terminal's clipboard (OSC 52): terminals take about this much.
COPY_LIMIT = 1024 * 1024


class InspectorScreen(Screen[None]):
    """Table, filter, summary and detail over a store; subclasses feed the store."""

    # q and ? lead the footer (the app binds them too, for every other screen):
    # at 80 columns the footer's end is cut off, and how to quit must stay in sight.
    # Keys that open something are priority bindings: run as the key is read, so the
    # keys typed right after them (a burst over SSH, a fast typist) land in what they
    # opened. While the filter box has focus, printable keys are its text (Textual
    # leaves out the bindings of keys an Input consumes).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit", id="inspector.quit"),
        Binding("question_mark", "app.help", "Help", key_display="?", priority=True, id="inspector.help"),
        Binding("slash", "filter", "Filter", key_display="/", priority=True, id="inspector.filter"),
        # Out of the footer (in ? and the command palette): at 80 columns it must show n and x.
        Binding("i", "insights", "Insights", show=False, priority=True, id="inspector.insights"),
        Binding("enter", "detail", "Detail", id="inspector.detail"),
        Binding("escape", "back", "Back", show=False, id="inspector.back"),
        Binding("s", "next_sort", "Sort", id="inspector.sort"),
        # Out of the footer (in ? and the command palette): at 80 columns it must show n and x.
        Binding("S", "reverse_sort", "Reverse", show=False, id="inspector.reverse"),
        Binding("f", "follow", "Follow", show=False, id="inspector.follow"),
        Binding("c", "copy_id", "Copy id", show=False, id="inspector.copy"),
        Binding("y", "copy_result", "Copy result", show=False, id="inspector.copy_result"),
        Binding("Y", "copy_traceback", "Copy traceback", show=False, id="inspector.copy_traceback"),
        Binding("z", "zoom", "Detail full screen", show=False, id="inspector.zoom"),
        Binding("t", "workflows", "Workflows", show=False, id="inspector.workflows"),
        Binding("T", "task_workflow", "The task's workflow", show=False, id="inspector.task_workflow"),
        # The table's own j and k, for when it is hidden behind a full-screen detail pane.
        Binding("j", "move(1)", "Next task", show=False, id="inspector.next"),
        Binding("k", "move(-1)", "Previous task", show=False, id="inspector.previous"),
    ]
    # The detail pane beside the table when there is room for both.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]

    # Bound to the summary bar, which repaints itself: a reactive that repainted the screen
    # would have redrawn every line of it, table included, at each batch of a first scan.
    #: A notice in the summary bar (it goes after NOTICE_SECONDS).
    notice: var[str | None] = var(None)
    #: Follow: newest change on top, selection pinned to it.
    follow: var[bool] = var(False)
    #: Files the first scan has read so far; None once it is done (or when there is none).
    scan: var[int | None] = var(None)

    #: The first scan's counts by display status, whole before its rows are all in (a reopen
    #: checks every file against the scan index first): shown while it runs, when no filter is.
    census: Counter[str] | None = None

    #: The summary's throughput sparkline (a replay has its timeline's instead).
    show_throughput = True

    #: How long filter slices run before the UI breathes (tests make it 0: one slice a step).
    filter_step_seconds = 0.03

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.store = store
        self.model = TableModel(store)
        #: The workflows view (``t``): the table's rows as trees; None for flat rows.
        self.workflow_tree: WorkflowTree | None = None
        self.clock = clock  # wall time for ages; tests freeze it, a replay plays it
        self._counts_stale = True  # the store changed since the counts were drawn
        self._summary_drawn = -float("inf")  # when update_summary last ran (time.monotonic)
        self.pace = RefreshPace()  # when changed rows are put in place
        self._notice_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self._filter_text = ""  # the query the model's filter was compiled from

    # --- what a subclass provides --------------------------------------------------

    @property
    def place(self) -> str:
        """Where the rows come from, for the summary bar."""
        raise NotImplementedError

    @property
    def mode(self) -> str:
        """How they come (inotify, polling, replay) and through which broker."""
        raise NotImplementedError

    @property
    def problem(self) -> str | None:
        """What is wrong with the source right now (a directory gone), shown for as long as it lasts."""
        return None

    def read_full(self, record: TaskRecord) -> FullRead | None:
        """The whole file behind a row (called in a thread)."""
        raise NotImplementedError

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: timers use them several times a second, and they must
        # still answer while the app tears its screen down.
        self.summary = SummaryBar(id="summary").data_bind(
            InspectorScreen.notice, InspectorScreen.follow, InspectorScreen.scan
        )
        self.filter_box = OrderedInput(
            placeholder="filter: text, status:FAILURE, name:…, worker:…, -status:SUCCESS", id="filter"
        )
        self.table = TaskTable(self.store, clock=self.clock, marks=self.model.marks, id="table")
        self.detail = DetailPane(id="detail")
        yield self.summary
        yield from self.compose_bars()
        yield self.filter_box
        with Container(id="main"):
            yield self.table
            yield self.detail
        yield Footer()

    def compose_bars(self) -> ComposeResult:
        """Bars between the summary and the filter (the replay's timeline)."""
        yield from ()

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.detail.display = False
        self.table.focus()
        self.set_interval(FLOOD_SECONDS, self._refresh_due)
        self.set_interval(1.0, self.tick)
        self.set_interval(WINDOW_SECONDS, self.slide_time_window)

    # --- rows in -----------------------------------------------------------------------

    def rows_changed(self, task_ids: Collection[str], *, now: bool) -> None:
        """These tasks changed, came or went in the store. ``now``: put them in place as
        soon as may be (live changes, a task we sent): at once when they are due (``RefreshPace``:
        after a quiet moment), else at the next refresh that is, so that a stream of changes
        redraws the screen twice a second (a flood: about 7 times), not at each of its batches.
        Otherwise at the next refresh."""
        self.model.touch(task_ids)
        self._counts_stale = True
        if now:
            self.pace.changed(len(task_ids))
            if self.pace.due():
                self.refresh_rows()

    def _refresh_due(self) -> None:
        if self.pace.due(early=0.01):  # a timer may fire a little early
            self.refresh_rows()

    def refresh_rows(self) -> None:
        """When due: changed rows in place, counts redrawn; idle when nothing came."""
        if self.workflow_tree is not None and self._counts_stale:
            self.workflow_tree.forget_summaries()  # a member changed: its root says so at the next draw
        changed = self.model.refresh()  # a full re-sort in it is spaced by the model itself
        began = time.perf_counter()
        self._show(changed, arrived=True)
        if changed:
            self.pace.shown(cost=time.perf_counter() - began)  # what showing them cost (a workflows view's build)
        if self._counts_stale and (self.scan is None or self._scan_summary_due()):
            self.update_summary()

    def _scan_summary_due(self) -> bool:
        return time.monotonic() - self._summary_drawn >= SCAN_SUMMARY_SECONDS

    def store_rebuilt(self) -> None:
        """The store was emptied and filled again (a replay's seek back): sort it all again."""
        self.model.resort()
        self._counts_stale = True
        self._show(True)

    def _show(self, changed: bool, *, arrived: bool = False) -> None:
        """Draw the model's rows when they changed; run a filter the change started.
        ``arrived``: tasks came or changed in the same view (not a new sort or filter)."""
        if self.model.filtering:
            self._filter_step(first=True)
        elif changed:
            self._show_rows(arrived=arrived)

    def _show_rows(self, *, arrived: bool = False) -> None:
        model, table = self.model, self.table
        tree = self.workflow_tree
        changed = model.take_row_changes()  # taken in either view: they are since the last rows shown
        if tree is not None:
            rows = tree.build(
                model.rows,
                model.predicate is not None,
                changed=changed,
                sort=(model.sort_key, model.reverse),
                predicate=model.predicate,
            )
            table.set_rows(rows, model.sort_key, model.reverse, arrived=arrived, workflows=tree)
        else:
            table.set_rows(model.rows, model.sort_key, model.reverse, arrived=arrived)
        if self.follow and model.rows:
            table.action_top()
        self._counts_stale = True

    def _filter_step(self, first: bool = False) -> None:
        """Filter slices for a few ms, then let keys and messages through; a first screenful shows at once."""
        if self._filter_timer is not None:
            self._filter_timer.stop()  # a new filter or sort took over the old one's steps
            self._filter_timer = None
        model = self.model
        if model.step_filter(self.filter_step_seconds, self.table.size.height if first else None):
            self._show_rows()
        if model.filtering:
            # A timer, not call_later: the message queue runs dry in between, so
            # the screen repaints and keys are read before the next slice.
            self._filter_timer = self.set_timer(0.001, self._filter_step)
        self.update_summary()  # "filtering…", then the counts with the rows

    def tick(self) -> None:
        """Once a second: ages and running times move on (the rows showing one that changed are redrawn),
        and the summary's rates. Not when rows were put in place within the second: that redrew
        them and the summary (under a stream of changes, a frame a second fewer)."""
        if self.pace.quiet_for() >= 1.0:
            self.table.refresh_changed()
            self.update_summary()

    def update_summary(self) -> None:
        self._counts_stale = False
        self._summary_drawn = time.monotonic()
        model, summary = self.model, self.summary
        census = self.census
        if census is not None and model.predicate is None:
            summary.counts, summary.total = census, census.total()  # whole while the rows come
        else:
            summary.counts, summary.total = model.counts(), model.total
        summary.scan_total = None if census is None else census.total()
        summary.filtered = model.predicate is not None
        summary.filtering = model.filtering
        summary.stale = len(self.store.stale)
        if self.show_throughput:
            summary.throughput = throughput_line(self.store.insights, self.clock())
        summary.marked = len(self.model.marks)
        summary.place, summary.mode, summary.problem = self.place, self.mode, self.problem

    # --- notices -------------------------------------------------------------------------

    def say(self, message: str, *, error: bool = False) -> None:
        """One line in the summary bar for a while, and a toast."""
        self.show_notice(message)
        log.log(logging.WARNING if error else logging.INFO, "notice: %s", message)
        self.notify(one_line(message), severity="error" if error else "information", timeout=4, markup=False)

    def show_notice(self, message: str) -> None:
        """One line in the summary bar for NOTICE_SECONDS."""
        self.notice = message
        if self._notice_timer is not None:
            self._notice_timer.stop()
        self._notice_timer = self.set_timer(NOTICE_SECONDS, self._notice_expired)

    def _notice_expired(self) -> None:
        self.notice = None
        self._notice_timer = None

    # --- selection and detail --------------------------------------------------------

    @on(TaskTable.Highlighted)
    def _highlighted(self, event: TaskTable.Highlighted) -> None:
        if self.detail.display:
            self.load_detail()

    @on(TaskTable.Selected)
    def _selected(self, event: TaskTable.Selected) -> None:
        self.show_detail_pane(True)
        self.load_detail()

    def show_detail_pane(self, shown: bool) -> None:
        """Open or close the detail pane; while it is open, the selection stays on its task.
        Closed, it lets go of what it showed (a big result's memory goes back)."""
        self.detail.display = shown
        self.table.pinned = shown
        if not shown:
            self.query_one("#main").remove_class("-detail-only")
            self.detail.show_empty("")

    def action_zoom(self) -> None:
        """The detail pane on the whole screen, or back beside the table (j and k still move)."""
        main = self.query_one("#main")
        if not self.detail.display:
            self.show_detail_pane(True)
            self.load_detail()
            main.add_class("-detail-only")
        else:
            main.toggle_class("-detail-only")

    def action_move(self, delta: int) -> None:
        self.table.action_cursor(delta)

    def action_copy_result(self) -> None:
        self._copy_part("result")

    def action_copy_traceback(self) -> None:
        self._copy_part("traceback")

    @work(thread=True, exclusive=True, group="copy")
    def _copy_part(self, part: str) -> None:
        """The selected task's result (as JSON) or traceback, whole, to the clipboard (OSC 52)."""
        task_id = self.table.selected_id
        record = self.store.get(task_id) if task_id else None
        full = self.read_full(record) if record is not None else None
        meta = full.meta if full is not None else None
        if meta is None:
            self.app.call_from_thread(self.say, f"nothing to copy: the {part} of this task cannot be read", error=True)
            return
        value = meta.get(part)
        if part == "traceback":
            text = value if isinstance(value, str) and value.strip() else None
        else:
            text = json.dumps(jsonable(value), indent=2, ensure_ascii=False)
        if text is None:
            self.app.call_from_thread(self.say, f"this task has no {part}")
        elif len(text) > COPY_LIMIT:
            self.app.call_from_thread(
                self.say,
                f"the {part} is {size(len(text))}, more than a terminal's clipboard takes: "
                "taskview DIR --dump jsonl prints it",
                error=True,
            )
        else:
            self.app.call_from_thread(self._copied, part, text)

    def _copied(self, part: str, text: str) -> None:
        self.app.copy_to_clipboard(text)  # OSC 52: works over SSH and in tmux with set-clipboard on
        self.notify(f"copied the {part} ({size(len(text))})", timeout=2, markup=False)

    @on(TaskTable.HeaderClicked)
    def _header_clicked(self, event: TaskTable.HeaderClicked) -> None:
        self._sort_by(event.key, toggle=True)

    def load_detail(self) -> None:
        """Read the selected task's file again for the detail pane (when it is open)."""
        if not self.detail.display:
            return
        task_id = self.table.selected_id
        record = self.store.get(task_id) if task_id else None
        if record is None:
            summary = self.workflow_summary(task_id) if task_id else None
            self.detail.show_empty(summary or ("no file for this node yet" if task_id else "no task selected"))
            return
        history = self.store.history(record.task_id)
        self.detail.show_reading(record, history)
        self._read_detail(record, history, self.workflow_summary(record.task_id))

    @work(thread=True, exclusive=True, group="detail")
    def _read_detail(self, record: TaskRecord, history: list[Transition], workflow: str | None = None) -> None:
        content = prepare(record, history, self.read_full(record))
        content.workflow = workflow
        # A group saved by no taskset file has no row to jump to: list its members instead.
        groups = [gid for relation, gid in content.related if relation == "group" and gid not in self.store]
        if groups:
            content.related = with_members(record.task_id, content.related, groups, list(self.store.records.values()))
        self.app.call_from_thread(self._show_detail, content)

    def _show_detail(self, content: DetailContent) -> None:
        if content.record.task_id == self.table.selected_id:
            self.detail.show(content)

    @on(DetailPane.JumpTo)
    def _jump(self, event: DetailPane.JumpTo) -> None:
        if self.table.select_task(event.task_id):
            self.table.focus()
        elif event.task_id in self.store:
            # Esc closes an open pane before it clears the filter: name the keys as they work.
            keys = "Esc twice (the pane, then the filter)" if self.detail.display else "Esc"
            self.notify(f"That task is hidden by the filter: {keys} clears it.", severity="warning")
        else:
            self.notify(
                f"No result file for {one_line(event.task_id)} in this directory.", severity="warning", markup=False
            )

    # --- keys ----------------------------------------------------------------------------

    def help_bindings(self) -> list[Binding]:
        """Every key this screen answers: its own (the inspector's first), the app's, the table's."""
        found: dict[str, Binding] = {}
        own = [
            cls.__dict__.get("BINDINGS", ()) for cls in reversed(type(self).__mro__) if issubclass(cls, InspectorScreen)
        ]
        for binding in (*(b for bindings in own for b in bindings), *self.app.BINDINGS, *TaskTable.BINDINGS):
            if isinstance(binding, Binding) and binding.key not in found:
                found[binding.key] = binding
        return list(found.values())

    def action_insights(self) -> None:
        """The insights screen; what is chosen there (Enter) filters the table or selects a task."""
        from .insights import InsightsScreen

        if self.filter_box.has_focus:
            return
        self.app.push_screen(InsightsScreen(self.store, clock=self.clock), self._insights_chosen)

    def _insights_chosen(self, choice: tuple[str, str] | None) -> None:
        if choice is None:
            return
        kind, value = choice
        if kind == "filter":
            self.filter_box.display = True
            self.filter_box.value = value  # Input.Changed applies it too, a little later
            self._apply_filter(value)
            self.table.focus()
            return
        if not self.table.select_task(value) and value in self.store and self.model.predicate is not None:
            self.action_back()  # hidden by the filter: clear it, then select
            self.call_after_refresh(self.table.select_task, value)
        self.table.focus()

    def action_filter(self) -> None:
        self.filter_box.display = True
        # At once, not at the next idle as Widget.focus does: the keys queued behind
        # this one are the filter's text.
        self.set_focus(self.filter_box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._apply_filter(event.value)

    def _apply_filter(self, text: str) -> None:
        # The store's own stale set: later judgements count; since: counts back from this screen's clock.
        predicate = compile_query(text, stale=self.store.stale, now=self.clock(), records=self.store.records)
        # The store stays sorted: no re-sort for a new filter; a query typed further filters the last one's rows.
        self.model.set_filter(predicate, narrows=narrows(self._filter_text, text))
        self._filter_text = text
        self._show(True)
        self.update_summary()

    def slide_time_window(self) -> None:
        """since: and before: count from the clock as it was when compiled: move them on with it."""
        text = self.filter_box.value
        if text and (uses_field(text, "since") or uses_field(text, "before")):
            self._apply_filter(text)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def action_back(self) -> None:
        box, pane = self.filter_box, self.detail
        if box.has_focus or (self.model.predicate is not None and not pane.display):
            box.value = ""  # Input.Changed clears the filter too, a little later
            box.display = False
            self.model.set_filter(None)
            self._filter_text = ""
            self._show(True)
            self.table.focus()
        elif pane.display:
            self.show_detail_pane(False)
            self.table.focus()

    def action_detail(self) -> None:
        if self.detail.display and not self.table.has_focus:
            self.table.focus()
            return
        self.show_detail_pane(True)
        self.load_detail()

    def _sort_by(self, key: str, *, toggle: bool = False) -> None:
        model = self.model
        reverse = not model.reverse if toggle and model.sort_key == key else model.reverse
        self.follow = False
        model.sort(key, reverse)
        self._show(True)
        self.notify(f"sorted by {key} {'descending' if reverse else 'ascending'}", timeout=1.5, markup=False)

    def action_next_sort(self) -> None:
        key = self.model.sort_key
        index = SORTABLE.index(key) if key in SORTABLE else -1
        self._sort_by(SORTABLE[(index + 1) % len(SORTABLE)])

    def action_reverse_sort(self) -> None:
        self._sort_by(self.model.sort_key, toggle=True)

    def action_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self.model.sort("last_change", True)
            self._show(True)
            self.table.action_top()

    # --- workflows ----------------------------------------------------------------------

    def action_workflows(self) -> None:
        """The table as workflows (one row a workflow; Enter or → opens one, ← closes it), or flat rows again."""
        self.workflow_tree = WorkflowTree(self.store) if self.workflow_tree is None else None
        self._show_rows()
        shown = "workflows: Enter or → opens one, ← closes it" if self.workflow_tree is not None else "flat rows"
        self.notify(shown, timeout=1.5, markup=False)

    def action_task_workflow(self) -> None:
        """The selected task's workflow, opened down to it, with the task selected."""
        task_id = self.table.selected_id
        if task_id is None:
            return
        if self.workflow_tree is None:
            self.workflow_tree = WorkflowTree(self.store)
            self._show_rows()
        tree = self.workflow_tree
        if tree.reveal(task_id):
            self.table.set_rows(tree.records, self.model.sort_key, self.model.reverse, workflows=tree)
            self.table.select_task(task_id)
            self.table.focus()

    def workflow_summary(self, task_id: str) -> str | None:
        """What the detail pane of a workflow's root says of it (None for a task standing alone)."""
        index = self.store.workflows
        record = self.store.get(task_id)
        links = record.links if record is not None else None
        if not index.has_members(task_id) and not (links is not None and links.children):
            return None
        if index.parent_of(task_id) is not None:
            return None  # a member: its root's pane says it
        summary = index.summary(task_id)
        parts = [f"workflow of {summary.tasks}: {summary.text()}"]
        if summary.span is not None:
            parts.append(f"span {summary.span:.1f} s")
        slowest = summary.slowest_text()
        if slowest:
            parts.append(f"slowest {slowest}")
        return " · ".join(parts)

    def action_copy_id(self) -> None:
        task_id = self.table.selected_id
        if task_id is None:
            return
        self.app.copy_to_clipboard(task_id)  # OSC 52: works over SSH and in tmux with set-clipboard on
        self.notify(f"copied {one_line(task_id)}", timeout=2, markup=False)
