"""The replay clock: which events of a timeline have happened, applied to a Store.

Pure: the UI calls ``advance`` on a timer and the step/seek methods on keys.
The store always holds exactly the events before ``position``: going back
empties it and plays the prefix again, so a seek backwards gives the very
store a forward replay to that point gives.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

from ..store import Store
from .timeline import Event

#: Replay speeds, times real time; the last one skips the gaps (see ``advance``).
SPEEDS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, math.inf)
#: At the fastest speed the whole timeline plays in about this many ticks.
FASTEST_TICKS = 100


class Player:
    def __init__(self, events: Sequence[Event], store: Store) -> None:
        self.events = events
        self.store = store
        self.position = 0  # how many events have happened
        self.clock = events[0].time if events else 0.0
        self.speed_index = 0
        self.playing = False
        self.latest: dict[str, Event] = {}  # task id -> the event its row comes from

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.events)

    def faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)

    def slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)

    def toggle(self) -> set[str] | None:
        """Play or pause; play at the end starts again from the beginning."""
        touched: set[str] | None = set()
        if not self.playing and self.at_end and self.events:
            touched = self.seek(0)
        self.playing = not self.playing and bool(self.events)
        return touched

    # --- moving --------------------------------------------------------------------
    # Each returns the task ids whose rows changed, or None when the store was rebuilt.

    def advance(self, seconds: float) -> set[str] | None:
        """Move the clock on by ``seconds`` of real time at the current speed."""
        if not self.playing:
            return set()
        if self.speed == math.inf:
            target = min(len(self.events), self.position + max(1, math.ceil(len(self.events) / FASTEST_TICKS)))
            touched = self._apply_to(target)
            if target:
                self.clock = self.events[target - 1].time  # gaps skipped: the clock jumps with the events
        else:
            self.clock += seconds * self.speed
            target = self.position
            while target < len(self.events) and self.events[target].time <= self.clock:
                target += 1
            touched = self._apply_to(target)
        if self.at_end:
            self.playing = False
            self.clock = self.events[-1].time if self.events else self.clock
        return touched

    def step(self) -> set[str] | None:
        self.playing = False
        return self.seek(self.position + 1)

    def back(self) -> set[str] | None:
        self.playing = False
        return self.seek(self.position - 1)

    def seek(self, position: int) -> set[str] | None:
        """Make exactly the first ``position`` events have happened; the clock shows the last one's time."""
        position = max(0, min(position, len(self.events)))
        if position >= self.position:
            touched: set[str] | None = self._apply_to(position)
        else:
            for task_id in list(self.store.records):
                self.store.remove(task_id)
            self.latest.clear()
            self.position = 0
            self._apply_to(position)
            touched = None
        if self.events:
            self.clock = self.events[position - 1].time if position else self.events[0].time
        return touched

    def seek_start(self) -> set[str] | None:
        self.playing = False
        return self.seek(0)

    def seek_end(self) -> set[str] | None:
        self.playing = False
        return self.seek(len(self.events))

    def _apply_to(self, target: int) -> set[str]:
        touched = set()
        store = self.store
        for event in self.events[self.position : target]:
            touched.add(event.task_id)
            if event.record is None:
                store.remove(event.task_id)
                self.latest.pop(event.task_id, None)
                continue
            # A copy: the store writes its observations (first seen, started) into
            # the record, and the same event is applied again after a seek back.
            record = copy.copy(event.record)
            record.mtime = event.time
            record.first_seen = record.last_change = record.started = None
            store.add(record, live=event.live)
            self.latest[event.task_id] = event
        self.position = max(self.position, target)
        return touched
