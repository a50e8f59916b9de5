"""The workers screen as a committed SVG (pytest-textual-snapshot), at 80x24: a worker online with
tasks, one silent since a refresh, a queue filling, the fault lines and the stale header.

Its report is made from fixed replies (tests/helpers/worker_replies.py) and a fixed clock: real
workers give other pids, uptimes and times on every run (they are tested in tests/integration).
"""

from __future__ import annotations

import time

import pytest
from textual.widgets import DataTable

from helpers.worker_replies import W1, W2, replies, request, whole
from taskview.control.app_loading import load_app
from taskview.control.controller import Controller
from taskview.control.monitor import WorkersReport
from taskview.control.queues import QueueDepth
from taskview.control.workers import WorkerBoard
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.workers import WorkersScreen

NOW = 1_795_650_000.0


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fixed_report() -> WorkersReport:
    now = [NOW - 10]
    board = WorkerBoard(clock=lambda: now[0])
    eta = "2026-11-25T23:45:00+00:00"
    held = whole(
        active=[request("3f2a1c9e-0000-4000-8000-000000000001", time_start=NOW - 75, worker_pid=101)],
        reserved=[request(f"3f2a1c9e-0000-4000-8000-00000000000{n}") for n in (2, 3)],
        scheduled=[{"eta": eta, "priority": 6, "request": request("3f2a1c9e-0000-4000-8000-000000000004")}],
    )
    board.update(replies({W1: held, W2: whole(pids=(201,))}))
    now[0] = NOW - 5
    board.update(replies({W1: held}))
    depths = {"reports": QueueDepth("reports", 1204), "celery": QueueDepth("celery", 0)}
    depths["mail"] = QueueDepth("mail", None)  # does not exist
    history = {"reports": [0, 40, 180, 420, 760, 1204], "celery": [0, 0, 0, 0, 0, 0]}
    return WorkersReport(
        workers=[worker for _, worker in sorted(board.workers.items())],
        queued=board.queued_tasks(),
        consumers=board.consumed_queues(),
        depths=depths,
        history=history,
        last_answer=board.last_answer,
        error=None,
        lines=board.lines(),
    )


def test_workers_screen_80x24(snap_compare, tmp_path):
    (tmp_path / "results").mkdir()
    controller = Controller(load_app(None, "amqp://guest:guest@127.0.0.1:1//"))  # never asked here
    app = TaskviewApp(ResultDirectory(str(tmp_path / "results")), workers_every=0)
    screen = WorkersScreen(controller, fixed_report(), interval=5.0, refresh_now=lambda: None)

    async def run_before(pilot):
        await pilot.app.push_screen(screen)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_cell_that_grows_widens_its_column(tmp_path):
    """A refresh changes cells in place: a pool grown from 2 to 10 processes shows as "prefork 10",
    not cut to the width "prefork 2" had."""
    (tmp_path / "results").mkdir()
    controller = Controller(load_app(None, "amqp://guest:guest@127.0.0.1:1//"))  # never asked here
    app = TaskviewApp(ResultDirectory(str(tmp_path / "results")), workers_every=0)

    def report(pids: tuple[int, ...]) -> WorkersReport:
        board = WorkerBoard(clock=lambda: NOW)
        board.update(replies({W2: whole(pids=pids)}))
        workers = [worker for _, worker in sorted(board.workers.items())]
        return WorkersReport(workers, board.queued_tasks(), board.consumed_queues(), {}, {}, NOW, None)

    screen = WorkersScreen(controller, report((201, 202)), interval=5.0, refresh_now=lambda: None)
    async with app.run_test(size=(120, 24)) as pilot:
        await app.push_screen(screen)
        await pilot.pause()
        screen.show(report(tuple(range(201, 211))))
        await pilot.pause()
        table = screen.query_one("#workers-table", DataTable)
        cells = [str(cell) for cell in table.get_row(W2)]
        widths = [column.content_width for column in table.ordered_columns]
        assert cells[2:4] == ["prefork 10", "0/10"]
        assert widths[2] >= len("prefork 10") and widths[3] >= len("0/10")  # drawn whole
