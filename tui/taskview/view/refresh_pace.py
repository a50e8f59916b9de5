"""When the table puts changed rows in place: the pace of its redraws under live changes (no Textual).

Each redraw after a change moves rows down the whole table, every line drawn again: that
redraw is most of what a trickle of changes costs (at 30 writes/s, 5 redraws a second took
5.9 % of a core, 2 a second 3.4 %; htop draws every 1.5 s). So a trickle is shown twice a
second, and a change after a quiet moment at once. A flood (changes coming faster than
FLOOD_CHANGES in FLOOD_SECONDS, ~133 a second) is shown every 0.15 s instead: a change then
waits at most about that long to show (bench live: p99 < 250 ms at 2,000 writes/s), and each
redraw carries many changes. A steady stream below that is a trickle: counted as a flood once 20
changes had waited (at 70 a second, after 0.29 s), it was redrawn 3.4 times a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Between two redraws under a trickle of changes.
TRICKLE_SECONDS = 0.5
#: Between two redraws under a flood: FLOOD_CHANGES or more for each FLOOD_SECONDS waited (~133 a second).
FLOOD_SECONDS = 0.15
FLOOD_CHANGES = 20
#: A redraw that took long (the workflows view's rows built again over a big store) waits this
#: many times as long before the next: at most a fifth of the UI's time goes to them.
COST_SHARE = 4


class RefreshPace:
    """Counts the live changes since the rows were last put in place and says when they are due."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._shown = -float("inf")  # when changed rows were last put in place
        self._changes = 0  # live changes since then
        self._gap = 0.0  # the least time between two redraws, from what the last one cost

    def changed(self, count: int) -> None:
        """``count`` tasks changed live (a first scan's batches are no flood to show: not counted)."""
        self._changes += count

    def due(self, early: float = 0.0) -> bool:
        """Whether changed rows are due to be put in place; ``early``: how early a timer may fire."""
        waited = self._clock() - self._shown + early
        if waited < self._gap:
            return False
        if waited >= TRICKLE_SECONDS:
            return True
        # The rate since the last redraw, over FLOOD_SECONDS at least (a millisecond of jitter forgiven).
        elapsed = max(FLOOD_SECONDS, waited - early - 0.001)
        return waited >= FLOOD_SECONDS and self._changes >= FLOOD_CHANGES * (elapsed / FLOOD_SECONDS)

    def shown(self, cost: float = 0.0) -> None:
        """Changed rows were put in place now; ``cost``: the seconds that took."""
        self._shown, self._changes = self._clock(), 0
        self._gap = COST_SHARE * cost

    def quiet_for(self) -> float:
        """Seconds since changed rows were last put in place."""
        return self._clock() - self._shown


__all__ = ["COST_SHARE", "FLOOD_CHANGES", "FLOOD_SECONDS", "TRICKLE_SECONDS", "RefreshPace"]
