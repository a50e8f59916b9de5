"""The live inspector: the store, fed by the directory tail, shown as a table and a detail pane."""

from __future__ import annotations

import gc
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.widgets import Footer, Input

from .. import debug_log  # noqa: F401 - its NullHandler keeps warnings off the screen
from ..heap import keep_heap_compact
from ..query import Predicate, compile_query
from ..results.record import TaskRecord, display_status
from ..results.scan import ResultDirectory
from ..sources.tail import DirectoryTail, TailBatch
from ..store import Store, update_order
from ..text import one_line
from ..view_order import FILTER_SLICE, ViewOrder
from .control_actions import STALE_CHECK_SECONDS, ControlActions
from .detail_pane import DetailPane, prepare
from .help_screen import HelpScreen
from .replay_actions import ReplayActions
from .summary_bar import SummaryBar
from .task_table import SORTABLE, TaskTable

if TYPE_CHECKING:
    from ..control.connection import Controller
    from ..replay.journal import Recorder
    from ..replay.timeline import Timeline

log = logging.getLogger(__name__)

#: Re-sorting is O(N log N): on a big store it is done less often.
BIG_STORE = 50_000
#: How long the inspector reads the first rows before its first frame.
FIRST_SCREEN_SECONDS = 0.05
#: Up to this many changed rows are moved into place one by one (update_order);
#: more at once (the first scan, a flood) and the whole store is re-sorted.
INCREMENTAL_LIMIT = 500


class RecordsArrived(Message):
    """A batch from the tail's thread (post_message is thread-safe)."""

    def __init__(self, batch: TailBatch) -> None:
        super().__init__()
        self.batch = batch


class TaskviewApp(ControlActions, ReplayActions, App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere (bench/) find it too
    TITLE = "taskview"

    BINDINGS = [
        # Replay only (see check_action). Priority: the table binds space, Home and End itself.
        Binding("space", "play_pause", "Play/Pause", priority=True, id="replay.play"),
        Binding("plus", "faster", "Faster", key_display="+", priority=True, id="replay.faster"),
        Binding("minus", "slower", "Slower", key_display="-", priority=True, id="replay.slower"),
        Binding("left_square_bracket", "step_back", "Back", key_display="[", priority=True, id="replay.back"),
        Binding("right_square_bracket", "step_forward", "Step", key_display="]", priority=True, id="replay.step"),
        Binding("home", "replay_start", "Replay start", show=False, priority=True, id="replay.start"),
        Binding("end", "replay_end", "Replay end", show=False, priority=True, id="replay.end"),
        Binding("q", "quit", "Quit", id="app.quit"),
        # Textual makes Ctrl+C copy; in a monitor like this one it means quit, as in htop or k9s.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.interrupt"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("slash", "filter", "Filter", key_display="/", id="app.filter"),
        Binding("enter", "detail", "Detail", id="app.detail"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("s", "next_sort", "Sort", id="app.sort"),
        Binding("S", "reverse_sort", "Reverse", id="app.reverse"),
        Binding("f", "follow", "Follow", id="app.follow"),
        Binding("c", "copy_id", "Copy id", id="app.copy"),
        Binding("n", "enqueue", "New task", id="app.enqueue"),
        Binding("x", "revoke", "Revoke", id="app.revoke"),
        Binding("R", "reenqueue", "Re-enqueue", show=False, id="app.reenqueue"),
    ]

    #: Rows per filter slice, and how long slices run before the UI breathes
    #: (tests make both small to see slicing on a few rows).
    filter_slice = FILTER_SLICE
    filter_step_seconds = 0.03

    def __init__(
        self,
        results: ResultDirectory,
        *,
        poll_interval: float | None = None,
        controller: Controller | None = None,
        clock: Callable[[], float] = time.time,
        replay: Timeline | None = None,
        replay_from_end: bool = False,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__()
        keep_heap_compact()
        self.replay = replay  # a timeline to play instead of a directory to watch
        self.replay_from_end = replay_from_end
        self.recorder = recorder  # --record: the journal of what the live view sees
        self.results = results
        self.controller = controller
        self.stale: set[str] = set()  # STARTED tasks whose worker is gone
        self.clock = clock  # wall time for ages; tests freeze it
        self.store = Store()
        if replay is None:
            watched = recorder.watch(results) if recorder is not None else results
            self.tail: DirectoryTail | None = DirectoryTail(watched, self._deliver, poll_interval=poll_interval)
        else:
            from ..replay.player import Player

            self.tail = None
            self.player = Player(replay.events, self.store)
            self.clock = lambda: self.player.clock  # ages and running times count from the replay clock
        self.predicate: Predicate | None = None
        self.view = ViewOrder(self.store)
        self._filtering: Iterator[list[str]] | None = None  # a filter being applied in slices
        self._filter_touched: set[str] = set()  # rows that changed while it ran
        self._filter_rows: list[TaskRecord] = []  # what it has matched so far
        self.follow = False
        self.scan: int | None = 0 if replay is None else None  # files read by the first scan; None once done
        self._counts: Counter[str] = Counter()  # within the filter, when there is one
        self.notice: str | None = None
        self._notice_until = 0.0
        self._touched: set[str] = set()  # rows changed, come or gone since the order was last set
        self._summary_stale = True  # a batch came since the summary bar was drawn
        self._last_sort = 0.0
        self._next_gc_freeze = 1000
        self._recording_failed = False

    # --- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: timers use them ten times a second, and they must
        # still answer while the app tears its screen down.
        self.summary = SummaryBar(id="summary")
        self.filter_box = Input(placeholder="filter: text, status:FAILURE, name:…, worker:…, -status:SUCCESS", id="filter")
        self.table = TaskTable(self.store, clock=self.clock, stale=self.stale, id="table")
        self.detail = DetailPane(id="detail")
        yield self.summary
        if self.replay is not None:
            from .timeline_bar import TimelineBar

            self.timeline_bar = TimelineBar(id="timeline")
            yield self.timeline_bar
        yield self.filter_box
        with Container(id="main"):
            yield self.table
            yield self.detail
        yield Footer()

    def on_mount(self) -> None:
        self.filter_box.display = False
        self.detail.display = False
        self.table.focus()
        self._update_layout()
        self.set_interval(0.1, self._refresh_view)
        self.set_interval(1.0, self._tick)
        if self.tail is None:
            self.start_replay(self.replay_from_end)
            return
        self.set_interval(STALE_CHECK_SECONDS, self.check_stale)
        # Read here, before the first frame, so that the first frame has rows: for at
        # most a few frames' time, and not from a network filesystem (any read may stall).
        tail = self.tail
        first = None if tail.poll_interval is not None else tail.read_first_screenful(FIRST_SCREEN_SECONDS)
        tail.start()
        if first is not None and first.records:
            self.on_records_arrived(RecordsArrived(first))

    def on_unmount(self) -> None:
        if self.tail is not None:
            self.tail.stop()

    def _handle_exception(self, error: Exception) -> None:
        log.critical("the inspector failed", exc_info=error)  # with --log, the traceback is kept
        super()._handle_exception(error)

    def on_resize(self) -> None:
        self._update_layout()

    def _update_layout(self) -> None:
        self.query_one("#main").set_class(self.size.width >= 140, "wide")

    # --- data in -------------------------------------------------------------------

    def _deliver(self, batch: TailBatch) -> None:
        log.debug(
            "batch: %d records, %d removed%s%s",
            len(batch.records), len(batch.removed), " (first scan)" if batch.scanning else "",
            f", notice: {batch.notice}" if batch.notice else "",
        )
        self.post_message(RecordsArrived(batch))

    def on_records_arrived(self, message: RecordsArrived) -> None:
        batch = message.batch
        store = self.store
        recorder = self.recorder
        olds = recorder.before(store, batch.records, batch.removed) if recorder is not None else {}
        # Outside the first scan, a new file is a task that just started.
        changed = store.add_many(batch.records, live=not batch.scanning)
        for task_id in batch.removed:
            store.remove(task_id)
        if recorder is not None:
            recorder.after(store, olds, batch.records, changed, batch.removed, live=not batch.scanning)
        # Every task read is touched, not only the changed rows: a file read again with
        # the same row gives the store a new record, which the order must hold too (it
        # would keep the old one alive: a second copy of every task after a re-attach).
        self._touched.update(r.task_id for r in batch.records)
        self._touched.update(batch.removed)
        if batch.scanning:
            self.scan = None if batch.scan_done else batch.scanned
            if len(store) >= self._next_gc_freeze or batch.scan_done:
                # Records hold no cycles, but the cyclic GC walks every one of
                # them again and again while a million arrive (20 s of the first
                # 50 at 1M). Collected then frozen at each doubling, each is
                # walked about once (and no garbage cycle is frozen for good).
                gc.collect()
                gc.freeze()
                self._next_gc_freeze = 2 * len(store)
        if batch.notice:
            self.notice, self._notice_until = batch.notice, time.monotonic() + 10
        self._summary_stale = True
        if self.table.selected_id in changed:
            self._load_detail()
        if not batch.scanning or not self.table.order:
            # Live changes, and the first rows of all, show at once (the tail
            # sends at most ~20 batches a second); the rest of the first scan's
            # flood waits for the 10 Hz refresh.
            self._refresh_view()

    def _refresh_view(self) -> None:
        """At most 10 times a second: put changed rows in place, repaint, recount; idle when nothing came."""
        if self._touched:
            applied = self._catch_up()
            if applied is not None:
                if self.predicate is None:
                    self._show_order(self.view.everything)
                elif self._filtering is None:
                    table = self.table
                    self._show_order(
                        update_order(self.store, table.order, applied, table.sort_key, table.sort_reverse, self.predicate)
                    )
                else:
                    # The filter in progress walks the old order: these go in when it ends.
                    self._filter_touched.update(applied)
            elif len(self.store) < BIG_STORE or time.monotonic() - self._last_sort > max(0.5, 4 * self.view.sort_seconds):
                # A full re-sort of a big store costs real time (~1 s at a million
                # rows): never more than a fifth of the UI's time.
                self._apply_order()
        if self._summary_stale:
            self._update_summary()

    def _catch_up(self, *, force: bool = False) -> set[str] | None:
        """Move the rows changed since the last order into the sorted store; returns them.

        None when there are too many to move one by one and no full sort was forced.
        """
        touched = self._touched
        if len(touched) > INCREMENTAL_LIMIT:
            if not force:
                return None
            self.view.sort(self.table.sort_key, self.table.sort_reverse)
            self._last_sort = time.monotonic()
        else:
            self.view.changed(touched)
        self._touched = set()
        return touched

    def _apply_order(self) -> None:
        """Sort the whole store (a new sort, or a flood of changes), then filter it."""
        table = self.table
        self.view.sort(table.sort_key, table.sort_reverse)
        self._last_sort = time.monotonic()
        self._touched.clear()
        self._show_filtered()

    def _show_filtered(self) -> None:
        """Show the sorted store through the filter: at once without one, else in slices."""
        if self._touched:
            self._catch_up(force=True)  # the filter walks the sorted store: bring it up to date first
        self._filtering = None
        if self.predicate is None:
            self._show_order(self.view.everything)
            return
        self._filtering = self.view.filter_steps(self.predicate, self.filter_slice)
        self._filter_rows = []
        self._filter_touched = set()
        self._filter_step(self._filtering, first=True)

    def _filter_step(self, steps: Iterator[list[TaskRecord]], first: bool = False) -> None:
        """Filter slices for ~30 ms, then let keys and messages through; a first screenful shows at once."""
        if steps is not self._filtering:
            return  # a newer filter or sort took over
        deadline = time.perf_counter() + self.filter_step_seconds
        screenful = self.table.size.height
        for shown in steps:
            self._filter_rows = shown  # the same growing list at every step
            if time.perf_counter() > deadline or (first and len(shown) >= screenful):
                break  # a first screenful goes up at once
        else:
            shown = self._filter_rows  # the last slice may have ended the previous step
            self._filtering = None
            table = self.table
            # Changes too many to move one by one wait in _touched for a full re-sort
            # (which filters again): until then, this order must not show them as they were.
            touched, self._filter_touched = self._filter_touched | self._touched, set()
            if touched:
                shown = update_order(self.store, shown, touched, table.sort_key, table.sort_reverse, self.predicate)
            self._show_order(shown)
            self._update_summary()  # the counts arrive with the rows
            return
        if first:
            self._show_order(list(shown), partial=True)
        self._summary_stale = True
        # A timer, not call_later: the message queue runs dry in between, so
        # the screen repaints and keys are read before the next slice.
        self.set_timer(0.001, partial(self._filter_step, steps))

    def _show_order(self, order: list[TaskRecord], *, partial: bool = False) -> None:
        self._summary_stale = True
        if self.predicate is not None and not partial:
            self._counts = Counter(map(display_status, order))
        self.table.set_order(order)
        if self.follow and order:
            self.table.action_top()

    def say(self, message: str, *, error: bool = False) -> None:
        """One line in the summary bar for a while, and a toast."""
        self.notice, self._notice_until = message, time.monotonic() + 10
        log.log(logging.WARNING if error else logging.INFO, "notice: %s", message)
        self.notify(one_line(message), severity="error" if error else "information", timeout=4, markup=False)
        self._update_summary()

    def show_changed(self, task_id: str) -> None:
        """Put a row the store just changed (a task we sent) in its place now."""
        self._touched.add(task_id)
        self._refresh_view()

    def _tick(self) -> None:
        self.table.refresh()  # ages and running times move on
        if self.notice and time.monotonic() > self._notice_until:
            self.notice = None
        recorder = self.recorder
        if recorder is not None and recorder.writer.error and not self._recording_failed:
            self._recording_failed = True  # said once: the journal stops, the inspector goes on
            self.say(f"--record {recorder.writer.path}: {recorder.writer.error}", error=True)
        self._update_summary()

    def _update_summary(self) -> None:
        self._summary_stale = False
        if self.tail is None:
            mode, place = "replay", self.replay.path  # type: ignore[union-attr]
        else:
            mode = self.tail.mode if self.controller is None else f"{self.tail.mode} · {self.controller.broker_display}"
            place = self.results.path
        self.summary.show(
            self.store.counts() if self.predicate is None else self._counts,
            total=len(self.store),
            filtered=self.predicate is not None,
            scan=self.scan,
            directory=place,
            mode=mode,
            notice="filtering…" if self._filtering is not None else self.notice,
            follow=self.follow,
            problem=self.tail.problem if self.tail is not None else None,
        )

    # --- selection and detail --------------------------------------------------------

    @on(TaskTable.Selected)
    def _selected(self, event: TaskTable.Selected) -> None:
        if self.detail.display:
            self._load_detail()

    @on(TaskTable.HeaderClicked)
    def _header_clicked(self, event: TaskTable.HeaderClicked) -> None:
        self._sort_by(event.key, toggle=True)

    def _load_detail(self) -> None:
        task_id = self.table.selected_id
        pane = self.detail
        if not pane.display:
            return
        record = self.store.get(task_id) if task_id else None
        if record is None:
            pane.show_empty("no task selected")
            return
        self._read_detail(record, self.store.history(record.task_id))

    @work(thread=True, exclusive=True, group="detail")
    def _read_detail(self, record, history) -> None:  # type: ignore[no-untyped-def]
        if self.replay is not None:
            full = self.replay.full_read(self.player.latest.get(record.task_id), record)
        else:
            full = self.results.read_full(record.filename)
        content = prepare(record, history, full)
        self.call_from_thread(self._show_detail, content)

    def _show_detail(self, content) -> None:  # type: ignore[no-untyped-def]
        if content.record.task_id == self.table.selected_id:
            self.detail.show(content)

    @on(DetailPane.JumpTo)
    def _jump(self, event: DetailPane.JumpTo) -> None:
        if not self.table.select_task(event.task_id):
            if event.task_id in self.store:
                self.notify("That task is hidden by the filter: Esc clears it.", severity="warning")
            else:
                self.notify(
                    f"No result file for {one_line(event.task_id)} in this directory.", severity="warning", markup=False
                )
        else:
            self.table.focus()

    # --- actions ------------------------------------------------------------------------

    def action_help(self) -> None:
        bindings = [b for b in self.BINDINGS if isinstance(b, Binding) and self.replay_allows(b.action)]
        bindings += list(TaskTable.BINDINGS)  # type: ignore[arg-type]
        self.push_screen(HelpScreen(bindings))  # type: ignore[arg-type]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.replay_allows(action)

    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.predicate = compile_query(event.value)
        self._show_filtered()  # the store stays sorted: no re-sort for a new filter
        self._update_summary()

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.table.focus()

    def action_back(self) -> None:
        box = self.filter_box
        pane = self.detail
        if box.has_focus or (self.predicate is not None and not pane.display):
            box.value = ""  # Input.Changed clears the predicate
            self.predicate = None
            box.display = False
            self._show_filtered()
            self.table.focus()
        elif pane.display:
            pane.display = False
            self.table.focus()

    def action_detail(self) -> None:
        pane = self.detail
        if pane.display and not self.table.has_focus:
            self.table.focus()
            return
        pane.display = True
        self._load_detail()

    def _sort_by(self, key: str, *, toggle: bool = False) -> None:
        table = self.table
        if toggle and table.sort_key == key:
            table.sort_reverse = not table.sort_reverse
        else:
            table.sort_key = key
        self.follow = False
        self._apply_order()
        self.notify(f"sorted by {key} {'descending' if table.sort_reverse else 'ascending'}", timeout=1.5, markup=False)

    def action_next_sort(self) -> None:
        index = SORTABLE.index(self.table.sort_key) if self.table.sort_key in SORTABLE else -1
        self._sort_by(SORTABLE[(index + 1) % len(SORTABLE)])

    def action_reverse_sort(self) -> None:
        self._sort_by(self.table.sort_key, toggle=True)

    def action_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            table = self.table
            table.sort_key, table.sort_reverse = "last_change", True
            self._apply_order()
            table.action_top()
        self._update_summary()

    def action_copy_id(self) -> None:
        task_id = self.table.selected_id
        if task_id is None:
            return
        self.copy_to_clipboard(task_id)  # OSC 52: works over SSH and in tmux with set-clipboard on
        self.notify(f"copied {one_line(task_id)}", timeout=2, markup=False)
