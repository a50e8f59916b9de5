"""The control keys pressed in the app, against real workers: n s (sleep), x t (terminate) -> REVOKED.

Once on the embedded filesystem broker (what `taskview --demo` runs), and once
each on RabbitMQ and Redis with a worker started as the README tells users.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from helpers.brokers import PrivateRedis, require_broker
from helpers.control import DemoWorkerProcess, read_status
from helpers.pilot import wait_until
from taskview.control import demo_tasks
from taskview.control.controller import Controller
from taskview.control.embedded import EmbeddedWorker
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.confirm import ConfirmScreen
from taskview.ui.screens.enqueue_menu import EnqueueMenu


async def enqueue_sleep_then_terminate(app: TaskviewApp, results: Path) -> None:
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None)
        await pilot.press("n")
        assert isinstance(app.screen, EnqueueMenu)
        await pilot.press("s")
        # At once a PENDING row, selected; then the worker's file says STARTED.
        await wait_until(pilot, lambda: app.inspector.table.selected_id is not None)
        task_id = app.inspector.table.selected_id
        assert app.inspector.store.get(task_id).name == "taskview.demo.sleep"
        await wait_until(pilot, lambda: app.inspector.store.get(task_id).status == "STARTED")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("t")
        sent = time.monotonic()
        await wait_until(pilot, lambda: app.inspector.store.get(task_id).status == "REVOKED", timeout=10)
        took = time.monotonic() - sent
        status, meta = read_status(results, task_id)
        assert status == "REVOKED" and meta["result"]["exc_message"] == ["terminated"]
        assert "revoke (terminate, SIGTERM) sent" in (app.inspector.notice or "")
        assert took < 5, took  # about a second; noisy CI machines get slack
        # A PENDING row first, unless the worker's STARTED file came before the send's answer
        # (a loaded machine): then no PENDING after it (a placeholder never hides a real state).
        states = [s for _, s in app.inspector.store.history(task_id)]
        assert states[0] == "PENDING" or (states[0] == "STARTED" and "PENDING" not in states), states


async def test_demo_keys_on_the_embedded_worker(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    with EmbeddedWorker(str(results)) as worker:
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(worker.app))
        await enqueue_sleep_then_terminate(app, results)


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
async def test_demo_keys_on_a_real_broker(broker: str, tmp_path: Path, monkeypatch):
    url = require_broker(broker)
    results = tmp_path / "results"
    results.mkdir()
    with DemoWorkerProcess(url, results, tmp_path) as worker:
        monkeypatch.setenv(demo_tasks.ENV_QUEUE, worker.queue)
        client = demo_tasks.make_app(str(results), broker_url=url, queue=worker.queue)
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(client))
        await enqueue_sleep_then_terminate(app, results)
        assert ":guest@" not in app.inspector.controller.broker_display  # the password never shows


async def test_a_task_sent_to_a_queue_no_worker_consumes_is_a_pending_row_at_once(tmp_path: Path):
    """Celery writes nothing for a task until it starts: the row taskview adds is all there is."""
    results = tmp_path / "results"
    results.mkdir()
    redis = PrivateRedis(tmp_path)  # a broker of its own: no worker anywhere consumes from it
    redis.start()
    try:
        client = demo_tasks.make_app(str(results), broker_url=redis.url)
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(client))
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: app.inspector.scan is None)
            await pilot.press("n", "a")
            await wait_until(pilot, lambda: app.inspector.table.selected_id is not None)
            record = app.inspector.store.get(app.inspector.table.selected_id)
            assert (record.status, record.name) == ("PENDING", "taskview.demo.add")
            assert app.inspector.table.task_ids == [record.task_id]
            # Not a silent PENDING: no worker consumes the demo queue, and the user is told.
            await wait_until(pilot, lambda: "consumes queue taskview-demo" in (app.inspector.notice or ""))
            assert "waits, PENDING" in app.inspector.notice
        assert not list(results.iterdir())  # nothing ran: the row came from taskview alone
    finally:
        redis.stop()


async def test_read_only_sends_nothing(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    with EmbeddedWorker(str(results)) as worker:
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(worker.app, read_only=True))
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: app.inspector.scan is None)
            # The footer does not offer what would be refused; the keys still say why.
            offered = {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}
            assert {"filter", "detail"} <= offered and not offered & {"enqueue", "revoke", "reenqueue"}
            await pilot.press("n")
            assert "read-only: enqueue not sent" in app.inspector.notice
            assert not isinstance(app.screen, EnqueueMenu)
            app.inspector.store.add_pending("some-task", "taskview.demo.sleep", time.time())
            app.inspector.rows_changed(["some-task"], now=True)
            await wait_until(pilot, lambda: app.inspector.table.selected_id == "some-task")
            await pilot.press("x")
            assert "read-only: revoke not sent" in app.inspector.notice
            await pilot.press("R")
            assert "read-only: re-enqueue not sent" in app.inspector.notice
        assert not list(results.iterdir())  # nothing ran


async def test_a_broker_that_is_down_answers_fast_and_never_freezes(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    client = demo_tasks.make_app(str(results), broker_url="amqp://guest:s3cret@127.0.0.1:1//")
    app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(client))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None)
        await pilot.press("n", "a")
        started = time.monotonic()
        # The UI keeps answering while the call is under way.
        await pilot.press("question_mark")
        await pilot.press("escape")
        await wait_until(
            pilot, lambda: app.inspector.notice is not None and "unreachable" in app.inspector.notice, timeout=8
        )
        assert time.monotonic() - started < 6
        assert "s3cret" not in app.inspector.notice and "127.0.0.1:1" in app.inspector.notice
        assert app.inspector.table.task_ids == []  # nothing was sent, so no PENDING row


async def test_started_task_of_a_dead_worker_is_flagged_stale(samples: Path):
    # sample_results holds a STARTED task whose worker was SIGKILLed.
    import json
    import socket
    import subprocess

    started = next(json.loads(p.read_bytes()) for p in samples.iterdir() if b'"STARTED"' in p.read_bytes())
    # As if its worker ran on this host with a pool process that has exited
    # (the sample's own pid may be taken by something else here).
    gone = subprocess.Popen(["true"])
    gone.wait()
    started["result"] = {"pid": gone.pid, "hostname": f"sample-worker@{socket.gethostname()}"}
    started["worker"] = started["result"]["hostname"]
    (samples / f"celery-task-meta-{started['task_id']}").write_text(json.dumps(started))
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(
            pilot, lambda: app.inspector.scan is None and started["task_id"] in app.inspector.table.task_ids
        )
        app.inspector.check_stale()
        await wait_until(pilot, lambda: started["task_id"] in app.inspector.store.stale)
        assert app.inspector.store.stale == {started["task_id"]}

        def row_text() -> str:
            index = app.inspector.table.task_ids.index(started["task_id"])
            app.inspector.table.scroll_to(y=index, animate=False, immediate=True)
            return app.inspector.table.render_line(index - int(app.inspector.table.scroll_y) + 1).text

        assert "STARTED stale" in row_text()
        # The task moves on (its file now says REVOKED): no longer shown stale, at once.
        revoked = next(json.loads(p.read_bytes()) for p in samples.iterdir() if b'"REVOKED"' in p.read_bytes())
        (samples / f"celery-task-meta-{started['task_id']}").write_text(
            json.dumps({**revoked, "task_id": started["task_id"]})
        )
        await wait_until(pilot, lambda: app.inspector.store.get(started["task_id"]).status == "REVOKED")
        await wait_until(pilot, lambda: started["task_id"] in app.inspector.table.task_ids)
        assert "stale" not in row_text() and "REVOKED" in row_text()
