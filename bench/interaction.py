"""Interaction at scale: a selection move, a page of scrolling, a filter keystroke and a full
re-sort, timed from the key press to the screen updated, on a big directory and on a small one
(the baseline, same run): what the size of the store adds to each.

The app runs headless (Textual's test driver, which renders every frame as a
terminal would) after its first scan has finished.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from common import Figure, median, size_label

SCREEN = (120, 40)


async def _timed(pilot, app, keys: list[str]) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await pilot.press(*keys)
    await pilot.pause()  # until the messages the keys caused are handled
    return time.perf_counter() - started


async def measure(path: Path, count: int) -> dict[str, float]:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(str(path)))
    timings: dict[str, list[float]] = {"move": [], "page": [], "filter": [], "clear filter": [], "sort": []}
    async with app.run_test(size=SCREEN) as pilot:
        deadline = time.monotonic() + 600
        while (app.scan is not None or len(app.table.order) < count) and time.monotonic() < deadline:
            await pilot.pause(0.2)
        await pilot.pause(0.5)
        for _ in range(10):
            timings["move"].append(await _timed(pilot, app, ["down"]))
        for _ in range(10):
            timings["page"].append(await _timed(pilot, app, ["pagedown"]))
        await pilot.press("slash")
        for key in "fail":  # each keystroke re-filters the whole store
            timings["filter"].append(await _timed(pilot, app, [key]))
        timings["clear filter"].append(await _timed(pilot, app, ["escape"]))
        for _ in range(3):
            timings["sort"].append(await _timed(pilot, app, ["s"]))
    return {name: (max(values) if name in ("filter", "sort") else median(values)) for name, values in timings.items()}


def run(path: Path, count: int, small: Path, small_count: int) -> list[Figure]:
    big = asyncio.run(measure(path, count))
    base = asyncio.run(measure(small, small_count))
    label, base_label = size_label(count), size_label(small_count)
    targets = {"move": 0.1, "page": 0.1, "filter": 0.1, "clear filter": 0.1, "sort": 1.0}
    names = {
        "move": "selection move (median)",
        "page": "page down (median)",
        "filter": "filter keystroke (slowest of 4)",
        "clear filter": "clear the filter (Esc)",
        "sort": "full re-sort (slowest of 3)",
    }
    return [
        Figure(
            f"{label} rows: {names[k]}",
            big[k] * 1000,
            "ms",
            base[k] * 1000,
            f"{base_label} rows",
            f"< {targets[k] * 1000:.0f} ms",
            big[k] < targets[k],
        )
        for k in names
    ]
