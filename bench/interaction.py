"""Interaction at scale: a selection move, a page of scrolling, a filter keystroke, a full
re-sort and the insights screen opening, timed from the key press to the screen updated, on a big
directory and on a small one (the baseline, same run): what the size of the store adds to each.

The app runs headless (Textual's test driver, which renders every frame as a
terminal would) after its first scan has finished.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from common import Figure, median, size_label

SCREEN = (120, 40)


async def _key(app, key: str, char: str | None, done, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds from a key reaching the app to ``done()`` (the view changed; it paints on the next frame).

    Pilot's own ``press`` waits for the process to look idle, which adds ~80 ms
    of its own: here the key goes in as the terminal driver sends it.
    """
    from textual import events

    started = time.perf_counter()
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)
    while not done():
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{key!r}: no effect within {timeout} s")
        await asyncio.sleep(0.001)
    return time.perf_counter() - started


async def measure(path: Path, count: int) -> dict:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(str(path)))
    timings: dict[str, list[float]] = {
        "move": [],
        "page": [],
        "filter": [],
        "filter done": [],
        "clear filter": [],
        "sort": [],
    }
    async with app.run_test(size=SCREEN) as pilot:
        started = time.monotonic()
        while (
            app.inspector.scan is not None or len(app.inspector.table.order) < count
        ) and time.monotonic() - started < 900:
            await asyncio.sleep(0.05)
        timings["scan"] = [time.monotonic() - started]
        await asyncio.sleep(0.5)
        table, model = app.inspector.table, app.inspector.model
        for key in ["down"] * 10 + ["pagedown"] * 10:
            before = table.cursor
            timings["move" if key == "down" else "page"].append(
                await _key(app, key, None, lambda before=before: table.cursor != before)
            )
        await pilot.press("slash")
        for char in "fail":  # each keystroke filters the whole store again
            before_order = table.order
            started = time.perf_counter()
            timings["filter"].append(
                await _key(
                    app,
                    char,
                    char,
                    lambda before_order=before_order: (
                        table.order is not before_order and (len(table.order) >= 40 or not model.filtering)
                    ),
                )
            )
            while model.filtering:
                await asyncio.sleep(0.001)
            timings["filter done"].append(time.perf_counter() - started)
        timings["clear filter"].append(
            await _key(app, "escape", None, lambda: model.predicate is None and table.order is model.everything)
        )
        from taskview.ui.widgets.task_table import SORTABLE
        from taskview.view.sorting import SORT_KEYS

        sorts: dict[str, tuple[list[float], list[float]]] = {key: ([], []) for key in SORTABLE}
        for _ in range(3):
            for _ in SORTABLE:  # every column once, from the default (last_change) round to it again
                before_key = table.sort_key
                took = await _key(
                    app,
                    "s",
                    "s",
                    lambda before_key=before_key: table.sort_key != before_key and table.order is model.everything,
                )
                # The floor of a re-sort: CPython's own sorted() by the same key function, of the
                # same records in the order a re-sort starts from (by id: scattered in memory, as
                # any previous order is), known values only (None does not compare).
                getter = SORT_KEYS[table.sort_key]
                records = [r for r in app.inspector.store.by_id() if getter(r) is not None]
                started = time.perf_counter()
                sorted(records, key=getter, reverse=table.sort_reverse)
                sorts[table.sort_key][0].append(took)
                sorts[table.sort_key][1].append(time.perf_counter() - started)
                del records
        medians = {key: (median(app_times), median(floors)) for key, (app_times, floors) in sorts.items()}
        slowest = max(medians, key=lambda k: medians[k][0])
        timings["sort"] = [medians[slowest][0]]
        timings["bare sort"] = [medians[slowest][1]]
        from taskview.ui.screens.insights import InsightsScreen

        timings["insights"] = []
        for _ in range(3):  # the aggregates are kept as files come: opening only draws them
            timings["insights"].append(
                await _key(app, "i", "i", lambda: isinstance(app.screen, InsightsScreen) and app.screen.names.row_count)
            )
            await pilot.press("escape")
            while isinstance(app.screen, InsightsScreen):
                await asyncio.sleep(0.001)
        print(
            "   re-sort per column (ms, in the app / bare sorted()): "
            + ", ".join(f"{k} {v[0] * 1000:.0f}/{v[1] * 1000:.0f}" for k, v in medians.items()),
            flush=True,
        )
    slowest_of = ("filter", "filter done", "sort", "bare sort", "scan", "insights")
    result: dict = {name: max(values) if name in slowest_of else median(values) for name, values in timings.items()}
    result["sorted by"] = slowest
    return result


def run(path: Path, count: int, small: Path, small_count: int) -> list[Figure]:
    big = asyncio.run(measure(path, count))
    base = asyncio.run(measure(small, small_count))
    label, base_label = size_label(count), size_label(small_count)
    targets = {
        "move": 0.1,
        "page": 0.1,
        "filter": 0.1,
        "filter done": None,
        "clear filter": 0.1,
        "sort": 1.0,
        "insights": 0.3,
        "scan": None,
    }
    names = {
        "scan": "first scan done in the inspector",
        "move": "selection move (median)",
        "page": "page down (median)",
        "filter": "filter keystroke, first screen (slowest of 4)",
        "filter done": "filter keystroke, every row (slowest)",
        "clear filter": "clear the filter (Esc)",
        "sort": "full re-sort (slowest column, median of 3)",
        "insights": "insights screen open (i; slowest of 3)",
    }
    figures = [
        Figure(
            f"{label} rows: {names[k]}",
            big[k] * 1000,
            "ms",
            base[k] * 1000,
            f"{base_label} rows",
            f"< {targets[k] * 1000:.0f} ms" if targets[k] else "",
            big[k] < targets[k] if targets[k] else None,
        )
        for k in names
    ]
    figures.append(
        Figure(
            f"{label} rows: re-sort by {big['sorted by']} vs sorted()",
            big["sort"] * 1000,
            "ms",
            big["bare sort"] * 1000,
            "sorted() floor",
            "(same key, same run)",
            None,
        )
    )
    return figures
