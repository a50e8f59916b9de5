"""The replay keys: play/pause, speed, step, start/end, and the clock's tick. A mixin of the app.

The player changes the store; this turns what it changed into a repaint
(rows moved into place, or the whole order again after a seek back).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..replay.player import Player
    from ..replay.timeline import Timeline
    from .timeline_bar import TimelineBar

#: Actions that exist only while replaying.
REPLAY_ACTIONS = frozenset({"play_pause", "faster", "slower", "step_back", "step_forward", "replay_start", "replay_end"})
#: Actions that send to Celery or watch it: a replay is read-only history.
LIVE_ACTIONS = frozenset({"enqueue", "revoke", "reenqueue"})


class ReplayActions:
    """Mixed into TaskviewApp; uses its player, store, table, detail pane and timeline bar."""

    replay: Timeline | None
    player: Player
    timeline_bar: TimelineBar
    _last_replay_tick = 0.0

    def replay_allows(self, action: str) -> bool:
        """Replay keys only in a replay (and not while typing a filter); no sending in one."""
        if action in REPLAY_ACTIONS:
            return self.replay is not None and not self.filter_box.has_focus  # type: ignore[attr-defined]
        if action in LIVE_ACTIONS:
            return self.replay is None
        return True

    def start_replay(self, from_end: bool) -> None:
        self._last_replay_tick = time.monotonic()
        self.set_interval(0.1, self._replay_tick)  # type: ignore[attr-defined]
        self._replay_moved(self.player.seek_end() if from_end else set())
        for notice in self.replay.notices:  # type: ignore[union-attr]
            self.say(notice)  # type: ignore[attr-defined]

    def _replay_tick(self) -> None:
        now = time.monotonic()
        elapsed, self._last_replay_tick = now - self._last_replay_tick, now
        if self.player.playing:
            self._replay_moved(self.player.advance(elapsed))

    def _replay_moved(self, touched: set[str] | None) -> None:
        """Show what the player changed: ``None`` means the store was rebuilt."""
        if touched is None:
            self._apply_order()  # type: ignore[attr-defined]
        else:
            self._touched.update(touched)  # type: ignore[attr-defined]
        self._summary_stale = True
        self.timeline_bar.show(self.player)
        self.table.refresh()  # type: ignore[attr-defined]  # ages count from the replay clock
        selected = self.table.selected_id  # type: ignore[attr-defined]
        if self.detail.display and (touched is None or selected in touched):  # type: ignore[attr-defined]
            self._load_detail()  # type: ignore[attr-defined]

    def action_play_pause(self) -> None:
        touched = self.player.toggle()
        self._last_replay_tick = time.monotonic()
        self._replay_moved(touched)

    def action_faster(self) -> None:
        self.player.faster()
        self.timeline_bar.show(self.player)

    def action_slower(self) -> None:
        self.player.slower()
        self.timeline_bar.show(self.player)

    def action_step_forward(self) -> None:
        self._replay_moved(self.player.step())

    def action_step_back(self) -> None:
        self._replay_moved(self.player.back())

    def action_replay_start(self) -> None:
        self._replay_moved(self.player.seek_start())

    def action_replay_end(self) -> None:
        self._replay_moved(self.player.seek_end())
