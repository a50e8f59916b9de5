"""Replay only: the replay clock, position, speed, and a sparkline of activity over the whole span."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from ...replay.player import Player

_BLOCKS = "▁▂▃▄▅▆▇█"


def moment(epoch: float) -> str:
    """A replay clock reading: date, time and milliseconds, local time."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) + f".{int(epoch % 1 * 1000):03d}"
    except (OverflowError, ValueError, OSError):  # a time no calendar holds (a crafted file)
        return f"{epoch:g} s"


def speed_label(speed: float) -> str:
    return "max" if speed == math.inf else f"{speed:g}x"


def activity(times: Sequence[float], bins: int) -> list[int]:
    """Events per bin over [first, last] (times sorted); one bin when they all share one instant."""
    counts = [0] * max(1, bins)
    if not times:
        return counts
    start, span = times[0], times[-1] - times[0]
    for t in times:
        index = int((t - start) / span * len(counts)) if span > 0 else 0
        counts[min(index, len(counts) - 1)] += 1
    return counts


def sparkline(counts: Sequence[int]) -> str:
    top = max(counts, default=0)
    if top == 0:
        return " " * len(counts)
    # Any activity shows at least the lowest block: a lone event must not vanish next to a burst.
    return "".join(" " if c == 0 else _BLOCKS[min(7, max(0, math.ceil(c / top * 8) - 1))] for c in counts)


class TimelineBar(Static):
    """Two lines: where the replay is, and the whole span's activity with the part already played lit."""

    DEFAULT_CSS = """
    TimelineBar { height: 2; background: $panel; padding: 0 1; }
    """

    _activity: tuple[int, list[int]] = (-1, [])  # (width, counts): the events never change, only the width

    def show(self, player: Player) -> None:
        events = player.events
        state = ("▶ playing", "bold green") if player.playing else ("⏸ paused", "bold yellow")
        head = Text.assemble(
            ("replay ", "dim"),
            state,
            "  ",
            (speed_label(player.speed), "bold"),
            "  ",
            (moment(player.clock) if events else "no events", "bold cyan"),
            "  ",
            (f"{player.position:,}/{len(events):,}", "bold"),
            (" events", "dim"),
        )
        width = max(1, self.size.width - 2)
        if self._activity[0] != width:
            self._activity = (width, activity([e.time for e in events], width))
        line = sparkline(self._activity[1])
        done = 0
        if events:
            span = events[-1].time - events[0].time
            fraction = (player.clock - events[0].time) / span if span > 0 else float(player.at_end)
            done = round(max(0.0, min(1.0, fraction)) * len(line))
            if player.at_end:
                done = len(line)
        graph = Text.assemble((line[:done], "bold green"), (line[done:], "dim"))
        self.update(Text("\n").join([head, graph]))
