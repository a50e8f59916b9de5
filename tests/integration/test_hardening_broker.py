"""Broker and worker faults, on a private Redis (the machine's shared one is never stopped).

The broker stops mid-session and comes back on the same port: the control keys fail
with one clear line within seconds, the screen keeps answering, then they work again.
A worker SIGKILLed in the middle of a task leaves it STARTED: the row says it is stale.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from helpers.brokers import PrivateRedis
from helpers.control import DemoWorkerProcess, read_status
from helpers.pilot import summary_text, wait_until
from taskview.control import demo_tasks
from taskview.control.controller import Controller
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.enqueue_menu import EnqueueMenu

pytestmark = pytest.mark.slow  # a broker stopped and restarted, a worker killed mid-task: timing-heavy


@pytest.fixture
def redis(tmp_path: Path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def send_add(pilot, app: TaskviewApp) -> None:
    await pilot.press("n")
    assert isinstance(app.screen, EnqueueMenu)
    await pilot.press("a")


async def test_broker_stopped_mid_session_then_restarted(redis: PrivateRedis, tmp_path: Path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    with DemoWorkerProcess(redis.url, results, tmp_path) as worker:
        monkeypatch.setenv(demo_tasks.ENV_QUEUE, worker.queue)
        client = demo_tasks.make_app(str(results), broker_url=redis.url, queue=worker.queue)
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(client))
        async with app.run_test(size=(140, 30)) as pilot:
            await wait_until(pilot, lambda: app.inspector.scan is None)
            await send_add(pilot, app)
            await wait_until(
                pilot,
                lambda: len(app.inspector.store) == 1 and app.inspector.store.counts()["SUCCESS"] == 1,
                timeout=15,
            )
            (first,) = app.inspector.store.records

            redis.stop()
            await send_add(pilot, app)
            asked = time.monotonic()
            await pilot.press("question_mark")  # the screen answers while the call is under way
            await pilot.press("escape")
            await wait_until(
                pilot, lambda: app.inspector.notice is not None and "unreachable" in app.inspector.notice, timeout=8
            )
            assert time.monotonic() - asked < 6
            assert f"127.0.0.1:{redis.port}" in app.inspector.notice and "\n" not in app.inspector.notice
            assert len(app.inspector.store) == 1  # nothing was sent: no PENDING row

            redis.start()  # same port, empty: the worker has to reconnect and declare its queue again
            await send_add(pilot, app)
            await wait_until(pilot, lambda: len(app.inspector.store) == 2, timeout=8)  # sent: a PENDING row at once
            assert "unreachable" not in (app.inspector.notice or "")
            # The new one (it may have run already: a loaded machine can be slower than the worker).
            (task_id,) = set(app.inspector.store.records) - {first}
            # The worker reconnects by itself (Celery's retry), runs the task, and the file says so.
            await wait_until(pilot, lambda: app.inspector.store.get(task_id).status == "SUCCESS", timeout=30)
            assert read_status(results, task_id)[0] == "SUCCESS"


async def test_worker_killed_mid_task_shows_its_unfinished_tasks_stale(
    redis: PrivateRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A STARTED and a PROGRESS task, their worker SIGKILLed: both stale (the STARTED one at once by
    its pool process, the PROGRESS one at the second missed ping), their clocks stopped, counted in
    the summary, kept by the stale filter."""
    results = tmp_path / "results"
    results.mkdir()
    with DemoWorkerProcess(redis.url, results, tmp_path, concurrency=2) as worker:
        monkeypatch.setenv(demo_tasks.ENV_QUEUE, worker.queue)
        client = demo_tasks.make_app(str(results), broker_url=redis.url, queue=worker.queue)
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(client))
        async with app.run_test(size=(140, 30)) as pilot:
            screen, store = app.inspector, app.inspector.store
            await wait_until(pilot, lambda: screen.scan is None)
            await pilot.press("n", "s")  # sleep(30)
            await wait_until(pilot, lambda: screen.table.selected_id is not None)
            sleeping = screen.table.selected_id
            await pilot.press("n", "p")  # progress(10)
            await wait_until(pilot, lambda: screen.table.selected_id != sleeping)
            progressing = screen.table.selected_id
            await wait_until(pilot, lambda: store.get(sleeping).status == "STARTED", timeout=15)
            await wait_until(pilot, lambda: store.get(progressing).status == "PROGRESS", timeout=15)

            async def judge() -> None:
                screen.check_stale()
                # The check pings the workers (1 s at most) in a worker thread of its own: wait for it to end.
                await wait_until(pilot, lambda: not any(w.group == "stale" and not w.is_finished for w in app.workers))

            await judge()
            assert store.stale == set()  # alive: not stale

            os.killpg(worker.proc.pid, signal.SIGKILL)  # the worker and its pool, as the OOM killer would
            worker.proc.wait(5)
            await wait_until(pilot, lambda: not _alive(store.get(sleeping).pid), timeout=5)
            await judge()
            # Its pool process is gone: stale at once. The PROGRESS task waits for its worker's
            # second missed ping in a row (tests/unit/test_control_stale.py pins the rule); on a
            # loaded machine the ping before the kill can have missed already, making this the second.
            assert sleeping in store.stale and store.stale <= {sleeping, progressing}
            await judge()
            assert store.stale == {sleeping, progressing}  # the second missed ping in a row
            assert read_status(results, sleeping)[0] == "STARTED"  # what the files say forever
            assert read_status(results, progressing)[0] == "PROGRESS"

            def row(task_id: str) -> str:
                index = screen.table.task_ids.index(task_id)
                screen.table.scroll_to(y=index, animate=False, immediate=True)
                return screen.table.render_line(index - int(screen.table.scroll_y) + 1).text

            await wait_until(pilot, lambda: "STARTED stale" in row(sleeping) and "PROGRESS stale" in row(progressing))
            await wait_until(pilot, lambda: "stale 2" in summary_text(app))
            def runtime(task_id: str) -> str:  # the RUNTIME cell: the second column from the right
                return row(task_id).split()[-2]

            before = runtime(progressing)
            assert before.endswith("s") and before != "0.00s"  # it ran for a while
            await pilot.pause(1.5)
            assert runtime(progressing) == before  # its running clock stopped (a live one moves every second)
            await pilot.press("slash", *"stale", "enter")
            await wait_until(pilot, lambda: set(screen.table.task_ids) == {sleeping, progressing})


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rpartition(b")")[2].split()[:1] != [b"Z"]
