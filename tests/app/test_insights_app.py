"""The insights screen (i) under Pilot: what it shows of a realistic mix, Enter on its rows,
live updates, a replay's clock; and its snapshots at 80x24 and wide, with a frozen clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from textual.widgets import DataTable

from helpers.frozen import utc  # noqa: F401 - the fixture, used by pytestmark
from helpers.insights_mix import BURST, GROUPS, write_mix
from helpers.pilot import loaded, wait_until
from helpers.samples import real_meta
from taskview.insights.aggregates import recount
from taskview.replay.timeline import from_results
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.insights import InsightsScreen

NOW = 1_795_650_000.0  # 2026-11-25 23:40 UTC, as in test_snapshots
PAYMENT = "PaymentDeclined: card * declined (*)"


pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))  # the summary shows ~/mix whatever the temporary path
    made = write_mix(home / "mix", NOW)
    return home / "mix", made


def make_app(directory: Path) -> TaskviewApp:
    return TaskviewApp(ResultDirectory(str(directory)), clock=lambda: NOW)


async def open_insights(pilot, count: int, suspects: int = 0) -> InsightsScreen:
    """Press i once the first scan is done; wait for the screen (and ``suspects`` rows in it)."""
    await loaded(pilot, pilot.app, count)
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, InsightsScreen))
    await wait_until(pilot, lambda: pilot.app.screen.suspects.row_count >= suspects)
    await pilot.pause(0.1)
    screen = pilot.app.screen
    assert isinstance(screen, InsightsScreen)
    return screen


def cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(row)] for row in range(table.row_count)]


async def test_the_screen_shows_the_recount_and_enter_filters_by_group(mix):
    directory, made = mix
    app = make_app(directory)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_insights(pilot, len(made))
        # What it shows is what a recount of the records says.
        fresh = recount(app.inspector.store.records.values())
        assert [row[0] for row in cells(screen.errors)] == [str(g.count) for g in fresh.groups()]
        assert {row[3]: int(row[0]) for row in cells(screen.errors)} == GROUPS
        names = {row[0]: row for row in cells(screen.names)}
        assert names["billing.charge"][1:4] == ["72", "32", "44%"]
        # The burst is in the chart where it happened: the fullest bucket lies inside it.
        buckets = app.inspector.store.insights.buckets(100, until=NOW)
        fullest = max(range(len(buckets.failed)), key=buckets.failed.__getitem__)
        assert NOW - BURST[0] - buckets.size <= buckets.start + fullest * buckets.size <= NOW - BURST[1]
        # Enter on the first error group: the table shows exactly its tasks.
        screen.errors.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.inspector)
        expected = {task_id for task_id, kind in made.items() if kind == PAYMENT}
        await wait_until(pilot, lambda: set(app.inspector.table.task_ids) == expected)
        # Enter on a name (j moves down): that name's tasks, exactly.
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InsightsScreen))
        await pilot.press("j", "enter")
        await wait_until(pilot, lambda: app.screen is app.inspector)
        assert app.inspector.filter_box.value == "name:=inventory.reserve"
        await wait_until(pilot, lambda: len(app.inspector.table.task_ids) == 46)


async def test_a_suspect_jumps_to_its_task_and_files_arriving_update_the_screen(mix):
    directory, made = mix
    stuck = next(task_id for task_id, kind in made.items() if kind == "stuck")
    app = make_app(directory)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_insights(pilot, len(made))
        await wait_until(pilot, lambda: screen.suspects.row_count > 0)  # found in a thread
        assert [row[:3] for row in cells(screen.suspects)] == [["stuck", stuck[:8], "report.build"]]
        # A new failure of a new group arrives while the screen is open.
        failure = real_meta("FAILURE")
        meta = {**failure, "task_id": "new-failure", "name": "mail.send"}
        meta["result"] = {"exc_type": "SMTPError", "exc_message": ["421 try later"], "exc_module": "smtplib"}
        meta["date_done"] = datetime.fromtimestamp(NOW - 5, timezone.utc).isoformat()  # just now
        (directory / "celery-task-meta-new-failure").write_text(json.dumps(meta))
        await wait_until(pilot, lambda: any(row[3] == "SMTPError: * try later" for row in cells(screen.errors)))
        screen.suspects.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.inspector and app.inspector.table.selected_id == stuck)
        # The summary's throughput line counts the new failure: one in the last 6 minutes.
        await wait_until(pilot, lambda: "✗0.2/min" in str(app.inspector.summary.render()))


async def test_a_replay_shows_the_state_as_of_its_clock(mix):
    directory, made = mix
    app = TaskviewApp.for_replay(from_results(ResultDirectory(str(directory))))
    async with app.run_test(size=(120, 40)) as pilot:
        player = app.inspector.player
        await wait_until(pilot, lambda: "replay" in str(app.inspector.summary.render()))
        player.seek(49)
        await pilot.press("]")  # one step by the key: the screen shows where the player is
        assert player.position == 50
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InsightsScreen))
        screen = app.screen
        assert isinstance(screen, InsightsScreen)
        await pilot.pause(0.1)
        seen = [made[e.task_id] for e in player.events[:50]]
        shown = {row[3]: int(row[0]) for row in cells(screen.errors)}
        assert shown == {kind: seen.count(kind) for kind in GROUPS if kind in seen}
        assert sum(int(row[1].replace(",", "")) for row in cells(screen.names)) == 50


def test_insights_80x24(snap_compare, mix):
    directory, made = mix

    async def run_before(pilot):
        await open_insights(pilot, len(made), suspects=1)

    assert snap_compare(make_app(directory), terminal_size=(80, 24), run_before=run_before)


def test_insights_wide(snap_compare, mix):
    directory, made = mix

    async def run_before(pilot):
        await open_insights(pilot, len(made), suspects=1)

    assert snap_compare(make_app(directory), terminal_size=(160, 40), run_before=run_before)
