"""How the inspector takes in a first scan's batches: never several in one turn of the event loop,
and its garbage collected apart from them, young objects only (each a frame missed at 1M)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.pilot import loaded, wait_until
from taskview.results.scan import ResultDirectory
from taskview.sources.tail import TailBatch
from taskview.ui.app import TaskviewApp
from taskview.ui.screens import inspector, live
from taskview.ui.screens.live import RecordsArrived


@pytest.fixture
def app(samples: Path) -> Iterator[TaskviewApp]:
    yield TaskviewApp(ResultDirectory(str(samples)))
    gc.enable()  # these tests pause the collector as a first scan does: never left paused


def _note_turns(screen: live.LiveScreen, events: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each intake noted in ``events``, and a callback queued on the event loop as it runs: the
    callback's note comes before the next intake only if the loop had a turn in between."""
    take_in = screen.take_in

    def noted(batch: TailBatch) -> None:
        events.append("intake")
        asyncio.get_running_loop().call_soon(events.append, "turn")
        take_in(batch)

    monkeypatch.setattr(screen, "take_in", noted)


async def test_batches_queued_together_are_taken_in_a_turn_of_the_event_loop_apart(app, monkeypatch):
    """Three batches queued while a frame was drawn were taken in one after another, with no
    frame between them (a message pump does not yield between its messages)."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        events: list[str] = []
        _note_turns(screen, events, monkeypatch)
        for _ in range(3):
            screen.post_message(RecordsArrived(TailBatch(removed=["no-such-task"])))
        await wait_until(pilot, lambda: events.count("turn") == 3)
        assert events == ["intake", "turn"] * 3


async def test_a_first_scans_garbage_is_collected_young_apart_from_its_intake_and_at_most_so_often(app, monkeypatch):
    """The first collection leaves the oldest generation (everything imported) alone, the next
    ones take the youngest only, at most every YOUNG_GC_SECONDS, each after a turn of the event
    loop that follows the batch's intake; the scan's last batch turns automatic collection on."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        events: list[str] = []
        _note_turns(screen, events, monkeypatch)
        collect = gc.collect

        def noted_collect(generation: int = 2) -> int:
            events.append(f"collect {generation}")
            asyncio.get_running_loop().call_soon(events.append, "turn")
            return collect(generation)

        monkeypatch.setattr(live.gc, "collect", noted_collect)
        assert gc.isenabled()  # the sample directory's own scan is over

        def scanning(done: bool = False) -> None:
            screen.post_message(RecordsArrived(TailBatch(scanning=True, scanned=1, scan_done=done)))

        began = time.monotonic()
        scanning()
        scanning()
        await wait_until(pilot, lambda: events.count("turn") >= 3)
        if time.monotonic() - began < live.YOUNG_GC_SECONDS:  # else the second may collect too
            assert events == ["intake", "turn", "collect 1", "turn", "intake", "turn"]
        assert events[:4] == ["intake", "turn", "collect 1", "turn"] and not gc.isenabled()
        await asyncio.sleep(live.YOUNG_GC_SECONDS)
        scanning()
        await wait_until(pilot, lambda: "collect 0" in events)
        await wait_until(pilot, lambda: events[-1] == "turn")
        assert events[-4:] == ["intake", "turn", "collect 0", "turn"] and not gc.isenabled()
        collections = sum(event.startswith("collect") for event in events)
        scanning(done=True)
        await wait_until(pilot, gc.isenabled)
        assert sum(event.startswith("collect") for event in events) == collections  # frozen, not walked


async def test_a_first_scans_progress_and_counts_are_drawn_a_few_times_a_second_not_at_each_batch(app, monkeypatch):
    """Each change of the summary bar is a redraw of it: at every batch of a 1M first scan, 22 a
    second (0.8 s of the UI's CPU). The progress goes with the counts, every SCAN_SUMMARY_SECONDS
    at most; the end of the scan shows at once."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        drawn: list[int | None] = []
        monkeypatch.setattr(type(screen.summary), "watch_scan", lambda self, scan: drawn.append(scan), raising=False)
        monkeypatch.setattr(inspector, "SCAN_SUMMARY_SECONDS", 0.5)  # well apart from the refreshes' 0.15 s
        began = time.monotonic()
        for scanned in range(1, 41):
            screen.post_message(RecordsArrived(TailBatch(scanning=True, scanned=scanned)))
            await asyncio.sleep(0.03)
        await wait_until(pilot, lambda: screen._scanned == 40)
        seconds = time.monotonic() - began
        # (and by the screen's tick, once a second, whatever the pace)
        assert 1 <= len(drawn) <= seconds / inspector.SCAN_SUMMARY_SECONDS + seconds + 2, (drawn, seconds)
        await wait_until(pilot, lambda: drawn[-1] == 40)  # the last progress drawn in the end
        # the counts too, however often the rows are refreshed while the scan runs
        summaries: list[float] = []
        update_summary = screen.update_summary
        monkeypatch.setattr(screen, "update_summary", lambda: (summaries.append(0), update_summary()))
        began = time.monotonic()
        for _ in range(30):
            screen._counts_stale = True
            screen.refresh_rows()
            await asyncio.sleep(0.02)
        seconds = time.monotonic() - began
        assert 1 <= len(summaries) <= seconds / inspector.SCAN_SUMMARY_SECONDS + seconds + 1, (summaries, seconds)
        screen.post_message(RecordsArrived(TailBatch(scanning=True, scanned=40, scan_done=True)))
        await wait_until(pilot, lambda: drawn[-1] is None and screen.summary.scan is None)
