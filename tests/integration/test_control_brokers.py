"""The Controller against real brokers: RabbitMQ and Redis with a real demo worker; a broker that is down.

RabbitMQ and Redis are expected at the addresses in helpers.brokers. When one does not
answer the test is skipped, saying so; with TASKVIEW_NO_SKIPS=1 (CI) it fails.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from helpers.brokers import REDIS_URL, private_broker, require_broker
from helpers.control import BroadcastWatcher, DemoWorkerProcess, wait_status
from taskview.control import demo_tasks
from taskview.control.app_loading import load_app
from taskview.control.controller import Controller
from taskview.control.stale import is_stale


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_enqueue_and_revoke_terminate_on_a_real_broker(broker: str, tmp_path: Path):
    url = require_broker(broker)
    results = tmp_path / "results"
    with DemoWorkerProcess(url, results, tmp_path) as worker:
        app = demo_tasks.make_app(str(results), broker_url=url, queue=worker.queue)
        controller = Controller(app)
        assert controller.broker_display == (
            "amqp://guest:****@127.0.0.1:5672//" if broker == "rabbitmq" else REDIS_URL
        )

        replies = controller.ping(timeout=1.0)
        assert worker.nodename in replies, (replies, worker.log())

        added = demo_tasks.send_demo(controller, "a", queue=worker.queue)
        assert added.ok and added.message == f"sent taskview.demo.add {added.task_id}"
        meta, _ = wait_status(results, added.task_id, "SUCCESS")
        assert meta["result"] == 5

        sent = demo_tasks.send_demo(controller, "s", queue=worker.queue)
        assert sent.ok, sent
        meta, _ = wait_status(results, sent.task_id, "STARTED")
        assert meta["result"]["hostname"] == worker.nodename
        pid = meta["result"]["pid"]
        assert not is_stale(worker.nodename, pid, replies)

        started = time.monotonic()
        outcome = controller.revoke(sent.task_id, terminate=True)
        revoke_call = time.monotonic() - started
        assert outcome.ok, outcome
        assert outcome.message.startswith("revoke (terminate, SIGTERM) sent to ")
        meta, _ = wait_status(results, sent.task_id, "REVOKED", timeout=5)
        revoked_after = time.monotonic() - started
        assert meta["result"]["exc_type"] == "TaskRevokedError"
        assert meta["result"]["exc_message"] == ["terminated"]
        # the pool process that ran it was killed: a STARTED file with its pid would now be stale
        deadline = time.monotonic() + 3
        while not is_stale(worker.nodename, pid, replies):
            assert time.monotonic() < deadline, f"pool process {pid} still alive"
            time.sleep(0.05)
        print(f"{broker}: revoke call {revoke_call:.2f} s, REVOKED on disk after {revoked_after:.2f} s")
        assert revoked_after < 3.0

        chain = demo_tasks.send_demo(controller, "c", queue=worker.queue)
        assert chain.ok, chain
        meta, _ = wait_status(results, chain.task_id, "SUCCESS")
        assert meta["result"] == 3 and meta["children"], meta
        app.close()


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_revoke_without_any_worker_is_not_sent(broker: str, tmp_path: Path):
    """A broker space of the test's own (a fresh vhost, a private redis-server): no worker there for sure."""
    with private_broker(broker, tmp_path) as url, BroadcastWatcher(url) as watcher:
        controller = Controller(load_app(None, url), ping_timeout=0.5)
        started = time.monotonic()
        outcome = controller.revoke("0f0f0f0f-dead-beef-0000-000000000000", terminate=True)
        assert time.monotonic() - started < 3
        assert not outcome.ok, outcome
        assert outcome.message == "no worker answered ping within 0.5 s: none could revoke it; revoke not sent"
        watcher.fence()  # everything the controller broadcast has arrived by now
        assert watcher.commands() == ["ping"]  # asked who is there; revoked nothing


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return


@pytest.mark.parametrize("scheme", ["amqp", "redis"])
def test_broker_down_answers_fast_and_masks_the_password(scheme: str):
    port = closed_port()
    url = f"amqp://guest:s3cr3t-pw@127.0.0.1:{port}//" if scheme == "amqp" else f"redis://:s3cr3t-pw@127.0.0.1:{port}/0"
    controller = Controller(load_app(None, url))
    shown = url.replace("s3cr3t-pw", "****")
    assert controller.broker_display == shown
    for call in (
        lambda: controller.enqueue("taskview.demo.add", (1, 2)),
        lambda: controller.revoke("0f0f0f0f-dead-beef-0000-000000000000", terminate=True),
        lambda: demo_tasks.send_demo(controller, "c"),
    ):
        started = time.monotonic()
        outcome = call()
        took = time.monotonic() - started
        assert took < 5, took
        assert not outcome.ok
        assert outcome.message == f"broker unreachable: {shown}: Connection refused"
        assert "s3cr3t" not in outcome.message
    started = time.monotonic()
    assert controller.ping() == {}
    assert controller.ping_workers() is None
    assert time.monotonic() - started < 5


def test_broker_that_never_answers_times_out(tmp_path: Path):
    """A server that accepts the connection and says nothing: bounded by connect_timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        for url in (f"amqp://guest:pw-x1@127.0.0.1:{port}//", f"redis://:pw-x1@127.0.0.1:{port}/0"):
            controller = Controller(load_app(None, url), connect_timeout=0.5)
            started = time.monotonic()
            outcome = controller.enqueue("taskview.demo.add", (1, 2))
            assert time.monotonic() - started < 2
            assert not outcome.ok and "no answer within 0.5 s" in outcome.message, outcome
            assert "pw-x1" not in outcome.message


def test_read_only_refuses_without_touching_the_broker():
    port = closed_port()
    controller = Controller(load_app(None, f"amqp://guest:guest@127.0.0.1:{port}//"), read_only=True)
    assert controller.read_only
    outcome = controller.enqueue("taskview.demo.add", (1, 2))
    assert not outcome.ok and outcome.message == "read-only: taskview.demo.add not sent"
    outcome = controller.revoke("abc", terminate=True)
    assert not outcome.ok and outcome.message == "read-only: revoke of abc not sent"
    outcome = controller.revoke(["abc", "def"], terminate=True)  # a workflow's unfinished tasks
    assert not outcome.ok and outcome.message == "read-only: revoke of 2 tasks not sent" and outcome.task_id == "abc"
    outcome = demo_tasks.send_demo(controller, "c")
    assert not outcome.ok and outcome.message.startswith("read-only")


def test_calls_from_many_threads_at_once(tmp_path: Path):
    """Controller calls run concurrently from threads (the UI calls them off its thread)."""
    from concurrent.futures import ThreadPoolExecutor

    port = closed_port()
    controller = Controller(load_app(None, f"redis://:pw@127.0.0.1:{port}/0"))
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda i: controller.enqueue("taskview.demo.add", (i, i)), range(16)))
    assert all(not o.ok and "Connection refused" in o.message for o in outcomes)
