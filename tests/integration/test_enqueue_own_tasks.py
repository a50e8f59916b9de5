"""``n`` and ``R`` with a project of its own (not the demo): its tasks, typed arguments, its queues.

A small shop project is written into the test's folder, a real worker of it runs
on a private Redis consuming its two queues, and the inspector drives it through
``-A shop`` as a user would: n lists the shop's tasks (no Celery built-ins),
the form takes JSON arguments checked as they are typed, R sends a failed task
back to the queue it came from, and a queue no worker consumes is said so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.brokers import PrivateRedis
from helpers.control import wait_status
from helpers.pilot import plain, wait_until
from taskview.control.app_loading import load_app
from taskview.control.controller import Controller
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.enqueue_form import EnqueueForm
from taskview.ui.screens.task_picker import TaskPicker

pytestmark = pytest.mark.slow  # a worker of its own

SHOP = textwrap.dedent("""
    import os
    from celery import Celery

    app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend="file://" + os.environ["SHOP_RESULTS"])
    app.conf.update(
        result_extended=True,
        task_track_started=True,
        task_routes={"shop.build_daily_report": {"queue": "reports"}},
    )

    # shared=False: this module is imported once per test into one process, and a shared task
    # (Celery's default) joins every app finalized later, twice here (DuplicateTaskNameWarning).
    @app.task(name="shop.send_order_email", shared=False)
    def send_order_email(order_id, to="nobody@example.com"):
        return f"sent {order_id} to {to}"

    @app.task(name="shop.build_daily_report", shared=False)
    def build_daily_report(day):
        return {"day": day, "rows": 3}

    @app.task(name="shop.charge", shared=False)
    def charge(amount):
        if amount < 0:
            raise ValueError(f"negative amount {amount}")
        return amount
""")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(results dir, the shop's client app): a worker of the shop runs until the test ends."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    results = tmp_path / "results"
    results.mkdir()
    (tmp_path / "shop.py").write_text(SHOP)
    monkeypatch.setenv("SHOP_BROKER", redis.url)
    monkeypatch.setenv("SHOP_RESULTS", str(results))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shop", "worker", "-P", "solo", "-Q", "celery,reports",
         "-n", "shop-worker@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        app = load_app("shop", None)
        controller = Controller(app)
        deadline_pings = 0
        while not controller.ping(timeout=0.5):
            deadline_pings += 1
            assert deadline_pings < 60 and worker.poll() is None, "the shop's worker did not start"
        yield results, app
    finally:
        worker.kill()
        worker.wait(10)
        redis.stop()
        sys.modules.pop("shop", None)


def inspector(results: Path, app) -> TaskviewApp:
    return TaskviewApp(ResultDirectory(str(results)), controller=Controller(app), own_tasks=True)


async def fill(pilot, field: str, text: str) -> None:
    """Replace a form field's text, as a user selecting it and typing over it would."""
    form = pilot.app.screen
    assert isinstance(form, EnqueueForm)
    widget = form.query_one(f"#form-{field}")
    widget.value = ""
    widget.focus()
    await pilot.press(*text)


async def test_n_sends_one_of_the_apps_own_tasks_with_typed_arguments(shop):
    results, client = shop
    app = inspector(results, client)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskPicker))
        listed = [app.screen.query_one("#picker-tasks").get_option_at_index(i).id for i in range(3)]
        assert listed == ["shop.build_daily_report", "shop.charge", "shop.send_order_email"]  # no celery.*
        await pilot.press(*"email", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnqueueForm))
        await fill(pilot, "kwargs", "[1]")  # not an object: said at once, and Enter sends nothing
        error = app.screen.query_one("#form-error")
        assert "kwargs must be a JSON object" in plain(error)
        await pilot.press("enter")
        assert isinstance(app.screen, EnqueueForm)
        await fill(pilot, "kwargs", '{"to": "ann@example.com"}')
        await fill(pilot, "args", "[17]")
        assert "sends shop.send_order_email to celery" in plain(error)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.inspector)
        task_id = app.inspector.table.selected_id  # the new row, selected at once
        meta, _ = wait_status(results, task_id, "SUCCESS")
        assert meta["result"] == "sent 17 to ann@example.com" and meta["queue"] == "celery"
        await wait_until(pilot, lambda: app.inspector.store.get(task_id).status == "SUCCESS")

        # A routed task goes where the app routes it: the form says so, the worker's file agrees.
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, TaskPicker))
        await pilot.press(*"report", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnqueueForm))
        await fill(pilot, "args", '["2026-12-01"]')
        assert "sends shop.build_daily_report to reports" in plain(app.screen.query_one("#form-error"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is app.inspector)
        meta, _ = wait_status(results, app.inspector.table.selected_id, "SUCCESS")
        assert meta["queue"] == "reports" and meta["result"] == {"day": "2026-12-01", "rows": 3}


async def test_r_sends_a_failed_task_back_to_its_queue_or_another_and_says_when_none_consumes_it(shop):
    results, client = shop
    failed = client.send_task("shop.charge", args=[-5])
    wait_status(results, failed.id, "FAILURE")
    app = inspector(results, client)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: failed.id in app.inspector.table.task_ids)
        app.inspector.table.select_task(failed.id)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, EnqueueForm))
        form = app.screen
        values = {f: form.query_one(f"#form-{f}").value for f in ("args", "kwargs", "queue", "countdown")}
        assert values == {"args": "[-5]", "kwargs": "{}", "queue": "celery", "countdown": ""}
        await fill(pilot, "queue", "nobody-listens")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "consumes queue nobody-listens" in (app.inspector.notice or ""))
        waiting = app.inspector.table.selected_id
        assert waiting != failed.id and app.inspector.store.get(waiting).status == "PENDING"
        assert not (results / f"celery-task-meta-{waiting}").exists()

        app.inspector.table.select_task(failed.id)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, EnqueueForm))
        await pilot.press("enter")  # as stored: back to celery, where the worker runs it again
        await wait_until(pilot, lambda: app.screen is app.inspector)
        again = app.inspector.table.selected_id
        meta, _ = wait_status(results, again, "FAILURE")
        assert meta["args"] == [-5] and meta["queue"] == "celery"
        assert json.loads(json.dumps(meta["result"]))["exc_type"] == "ValueError"
