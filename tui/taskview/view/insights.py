"""The insights screen's rows and the summary's throughput line, from the store's aggregates.

No Textual: plain strings and numbers for the screen to draw.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..insights.aggregates import TICK, Insights, NameFigures
from ..insights.suspects import Suspect, suspects
from ..store import Store

#: The per-name table's sorts, in the order ``s`` goes through them.
NAME_SORTS = ("tasks", "failures", "rate", "p95", "last", "name")
_BLOCKS = " ▁▂▃▄▅▆▇█"
#: The throughput line: this many bins of BIN_TICKS ticks (TICK seconds each), the newest last.
THROUGHPUT_BINS = 12
BIN_TICKS = 3


def sorted_names(figures: list[NameFigures], key: str) -> list[NameFigures]:
    """The names in ``key`` order (the most first; names A to Z); ties by name."""
    by_name = sorted(figures, key=lambda f: (f.name is None, f.name or ""))
    if key == "name":
        return by_name
    measure = {
        "tasks": lambda f: f.total,
        "failures": lambda f: f.failures,
        "rate": lambda f: -1.0 if f.failure_rate is None else f.failure_rate,
        "p95": lambda f: -1.0 if f.p95 is None else f.p95,
        "last": lambda f: float("-inf") if f.last_done is None else f.last_done,
    }[key]
    return sorted(by_name, key=measure, reverse=True)


def name_filter(name: str | None) -> str:
    """The main table's filter for the tasks of one name (exact)."""
    return "-name:" if name is None else shlex.quote(f"name:={name}")


def group_filter(key: str) -> str:
    """The main table's filter for the failures of one error group (exact)."""
    return shlex.quote(f"errgroup:{key}")


@dataclass(frozen=True)
class InsightsView:
    names: list[NameFigures]
    groups: list[tuple[str, int, float, float, str | None, list[str]]]  # key, count, first, last, example, names
    suspects: list[Suspect]


def insights_view(store: Store, now: float, sort: str = "tasks", find_suspects: bool = True) -> InsightsView:
    """The screen's rows; ``find_suspects``: look for them too (a pass over the unfinished tasks)."""
    insights = store.insights
    groups = [
        (g.key, g.count, g.first, g.last, g.example, [n or "(no name)" for n, _ in g.names.most_common()])
        for g in insights.groups()
    ]
    found = suspects(insights, store.records, store.unfinished, now) if find_suspects else []
    return InsightsView(sorted_names(insights.names(), sort), groups, found)


def sparkline(values: list[int], top: int | None = None) -> str:
    """One block character per value, the highest ``top`` (default: the greatest value)."""
    top = max(values, default=0) if top is None else top
    if top <= 0:
        return _BLOCKS[1] * len(values)
    return "".join(_BLOCKS[1 + min(7, round(7 * v / top))] if v else _BLOCKS[1] for v in values)


def throughput_line(insights: Insights, now: float) -> tuple[str, float, float] | None:
    """(sparkline of finishes, finished per second, failed per second) over the last
    THROUGHPUT_BINS × BIN_TICKS × TICK seconds (6 minutes); None when nothing finished then."""
    done, failed = insights.throughput(now, THROUGHPUT_BINS * BIN_TICKS)
    if not any(done):
        return None
    bins = [sum(done[at : at + BIN_TICKS]) for at in range(0, len(done), BIN_TICKS)]
    seconds = len(done) * TICK
    return sparkline(bins), sum(done) / seconds, sum(failed) / seconds


__all__ = [
    "NAME_SORTS",
    "InsightsView",
    "group_filter",
    "insights_view",
    "name_filter",
    "sorted_names",
    "sparkline",
    "throughput_line",
]
