"""The replay inspector: a timeline played into the store by a clock, with the keys that move it.

The player changes the store; this screen turns what it changed into a repaint
(rows moved into place, or the whole order again after a seek back). A replay
is read-only history: no enqueue, revoke or re-enqueue, no directory watched.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ...replay.player import Player
from ...replay.timeline import Timeline
from ...results.record import TaskRecord
from ...results.scan import FullRead
from ...store import Store
from ..widgets.timeline_bar import TimelineBar
from .inspector import InspectorScreen

#: The replay's own keys. Priority: the table binds Home and End itself.
REPLAY_BINDINGS: list[BindingType] = [
    Binding("space", "play_pause", "Play/Pause", priority=True, id="replay.play"),
    Binding("plus", "faster", "Faster", key_display="+", priority=True, id="replay.faster"),
    Binding("minus", "slower", "Slower", key_display="-", priority=True, id="replay.slower"),
    Binding("left_square_bracket", "step_back", "Back", key_display="[", priority=True, id="replay.back"),
    Binding("right_square_bracket", "step_forward", "Step", key_display="]", priority=True, id="replay.step"),
    Binding("home", "replay_start", "Replay start", show=False, priority=True, id="replay.start"),
    Binding("end", "replay_end", "Replay end", show=False, priority=True, id="replay.end"),
]
#: How often the replay clock moves on.
TICK_SECONDS = 0.1


class ReplayScreen(InspectorScreen, inherit_bindings=False):
    """The inspector over a store that a ``Player`` fills from a ``Timeline``."""

    # Not inherited, listed whole: the replay keys lead the footer, as they lead a replay.
    BINDINGS: ClassVar[list[BindingType]] = [*Screen.BINDINGS, *REPLAY_BINDINGS, *InspectorScreen.BINDINGS]

    show_throughput = False  # the timeline bar shows the events over time

    def __init__(self, timeline: Timeline, *, from_end: bool = False) -> None:
        store = Store()
        # Ages and running times count from the replay clock.
        super().__init__(store, clock=lambda: self.player.clock)
        self.timeline = timeline
        self.from_end = from_end
        self.player = Player(timeline.events, store)
        self._last_tick = 0.0

    @property
    def place(self) -> str:
        return self.timeline.path

    @property
    def mode(self) -> str:
        return "replay"

    def read_full(self, record: TaskRecord) -> FullRead | None:
        return self.timeline.full_read(self.player.latest.get(record.task_id), record)

    def compose_bars(self) -> ComposeResult:
        self.timeline_bar = TimelineBar(id="timeline")
        yield self.timeline_bar

    def on_mount(self) -> None:
        super().on_mount()
        self._last_tick = time.monotonic()
        self.set_interval(TICK_SECONDS, self._tick_replay)
        self._moved(self.player.seek_end() if self.from_end else set())
        for notice in self.timeline.notices:
            self.say(notice)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The replay keys are priority bindings: while a filter is typed, they are text.
        if self.filter_box.has_focus and action in _REPLAY_ACTIONS:
            return False
        return True

    # --- the clock ---------------------------------------------------------------------

    def _tick_replay(self) -> None:
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        if self.player.playing:
            self._moved(self.player.advance(elapsed), at_once=False)

    def _moved(self, touched: set[str] | None, *, at_once: bool = True) -> None:
        """Show what the player changed: ``None`` means the store was rebuilt. ``at_once``: a key
        moved the clock (a step, a seek): its rows now; playing, they come with the next refresh."""
        if touched is None:
            self.store_rebuilt()
        else:
            self.rows_changed(touched, now=False)
            if at_once:
                self.refresh_rows()
        self.timeline_bar.show(self.player)
        self.table.refresh_changed()  # ages count from the replay clock
        if self.detail.display and (touched is None or self.table.selected_id in touched):
            self.load_detail()

    # --- keys ----------------------------------------------------------------------------

    def action_play_pause(self) -> None:
        touched = self.player.toggle()
        self._last_tick = time.monotonic()
        self._moved(touched)

    def action_faster(self) -> None:
        self.player.faster()
        self.timeline_bar.show(self.player)

    def action_slower(self) -> None:
        self.player.slower()
        self.timeline_bar.show(self.player)

    def action_step_forward(self) -> None:
        self._moved(self.player.step())

    def action_step_back(self) -> None:
        self._moved(self.player.back())

    def action_replay_start(self) -> None:
        self._moved(self.player.seek_start())

    def action_replay_end(self) -> None:
        self._moved(self.player.seek_end())


_REPLAY_ACTIONS = frozenset(b.action for b in REPLAY_BINDINGS if isinstance(b, Binding))
