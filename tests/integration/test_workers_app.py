"""`w` pressed in the app, against the embedded worker (what `taskview --demo` runs, kombu's
filesystem broker): the workers screen with the worker and its queues (sized from the broker's
folder), SCHEDULED rows in the main table and `queued` in the summary, Enter on the worker and on
one of its tasks back to its row, a pool grow confirmed and its outcome, the actions refused with
--read-only, a purge, and the worker killed under the screen's eyes."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from textual.widgets import DataTable

from helpers.pilot import plain, summary_text, wait_until
from taskview.control import demo_tasks
from taskview.control.controller import Controller
from taskview.control.embedded import EmbeddedWorker
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.confirm import ConfirmScreen
from taskview.ui.screens.worker_tasks import WorkerTasksScreen
from taskview.ui.screens.workers import WorkersScreen


def cells(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_workers_screen_on_the_embedded_worker(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    with EmbeddedWorker(str(results), concurrency=1) as worker:
        controller = Controller(worker.app)
        # ETA tasks first (each received raises the prefetch by one), then one that runs
        later = [controller.enqueue(demo_tasks.PREFIX + "add", (1, 2), {}, countdown=300).task_id for _ in range(2)]
        long = controller.enqueue(demo_tasks.PREFIX + "sleep", (), {"seconds": 60}).task_id
        # A queue no worker consumes, filling: its size in the summary.
        backlog = worker.queue + "-backlog"
        for _ in range(3):
            controller.enqueue(demo_tasks.PREFIX + "add", (1, 2), {}, queue=backlog)
        app = TaskviewApp(ResultDirectory(str(results)), controller=controller, workers_every=0.5)
        async with app.run_test(size=(120, 30)) as pilot:
            inspector = app.inspector
            assert inspector.monitor is not None
            inspector.monitor.app_queues.append(backlog)
            store = inspector.store
            await wait_until(
                pilot,
                lambda: all(store.get(t) is not None and store.get(t).status == "SCHEDULED" for t in later)
                and store.get(long) is not None
                and store.get(long).status == "STARTED",
                timeout=20,
            )
            await wait_until(pilot, lambda: set(later) <= set(inspector.table.task_ids))
            await wait_until(pilot, lambda: f"queued {backlog} 3" in summary_text(app), timeout=10)
            # the detail of a row with no file says what it is
            inspector.table.select_task(later[0])
            await pilot.press("enter")
            header = inspector.detail.query_one("#detail-header")
            await wait_until(pilot, lambda: "held by its worker until its ETA" in plain(header))
            await pilot.press("escape")

            await pilot.press("w")
            assert isinstance(app.screen, WorkersScreen)
            screen = app.screen
            table = screen.query_one("#workers-table", DataTable)
            # The screen opens with the last answer, which may be from before the task started: the next one.
            expected = [worker.nodename, "online", "prefork 1", "1/1", "1", "0", "2", worker.queue]
            with contextlib.suppress(AssertionError):  # timed out: the assert below says what it shows
                await wait_until(pilot, lambda: table.row_count == 1 and cells(table)[0][:8] == expected, timeout=10)
            assert table.row_count == 1 and cells(table)[0][:8] == expected
            queues = {r[0]: r for r in cells(screen.query_one("#queues-table", DataTable))}
            assert queues[backlog][1:3] == ["3", "0 (workers)"] and queues[worker.queue][2] == "1 (workers)"

            # read-only: every action refused, nothing sent
            controller.read_only = True
            await pilot.press("plus")
            assert not isinstance(app.screen, ConfirmScreen)
            assert "read-only: pool grow not sent" in str(screen.query_one("#workers-outcome").render())
            controller.read_only = False

            # a pool grow, confirmed, and the worker's answer in one line (the new process shows
            # in stats seconds later: tests/integration/test_workers_brokers.py waits for it)
            await pilot.press("plus")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await wait_until(pilot, lambda: "pool will grow" in str(screen.query_one("#workers-outcome").render()))

            # Enter: the worker's tasks; Enter on the running one: its row in the main table
            await pilot.press("enter")
            assert isinstance(app.screen, WorkerTasksScreen)
            tasks = app.screen.query_one("#worker-tasks", DataTable)
            assert [r[0] for r in cells(tasks)] == ["active", "scheduled", "scheduled"]
            assert cells(tasks)[0][1] == long and cells(tasks)[1][4].startswith("eta ")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is inspector)
            assert inspector.table.selected_id == long

            # purge the backlog from the queues table: its name and count confirmed first
            await pilot.press("w")
            screen = app.screen
            assert isinstance(screen, WorkersScreen)
            await pilot.press("tab", "down")
            assert screen.selected_queue() == backlog
            await pilot.press("P")
            assert isinstance(app.screen, ConfirmScreen)
            assert (backlog, "3 ready (as last asked), every one deleted") in [
                (queue, count) for _, queue in app.screen.facts[:1] for _, count in app.screen.facts[1:]
            ]
            await pilot.press("y")
            outcome = screen.query_one("#workers-outcome")
            await wait_until(pilot, lambda: f"purged queue {backlog}: 3 messages deleted" in str(outcome.render()))
            await wait_until(pilot, lambda: f"queued {backlog}" not in summary_text(app))

            # the worker killed: "has not answered since", then gone, and its tasks' rows with it
            inspector.monitor.inspect_timeout = 0.3
            assert worker.proc is not None
            os.killpg(worker.proc.pid, signal.SIGKILL)
            faults = screen.query_one("#workers-faults")
            await wait_until(pilot, lambda: f"{worker.nodename} has not answered since" in str(faults.render()))
            await wait_until(pilot, lambda: f"{worker.nodename} is gone" in str(faults.render()), timeout=15)
            assert cells(screen.query_one("#workers-table", DataTable))[0][1] == "gone"
            assert not any(store.get(t) for t in later)  # held no more, never sent from this screen
