"""Workers and queues with real workers on RabbitMQ (a vhost of the test's own) and Redis (a
redis-server of its own): a worker blocked by a long task while its queue fills, its RESERVED tasks,
a purge, pool grow, a rate limit, consumers, a warm shutdown, and a worker killed in the middle of a
refresh. Kombu's filesystem broker (the --demo path) is in test_workers_app.py, through the screen.

On the filesystem broker a worker runs Celery's synchronous loop: with its pool full and a task
reserved it waits to hand it over and answers nothing (it shows as silent); tasks with an ETA wait
in its timer instead, and it answers about them.

Each broker space is the test's own: no other engineer's worker answers these broadcasts.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from helpers.brokers import private_broker, require_broker
from helpers.control import DemoWorkerProcess, wait_status
from taskview.control import demo_tasks
from taskview.control.controller import Controller
from taskview.control.monitor import WorkerMonitor, WorkersReport
from taskview.control.workers import RESERVED
from taskview.store import Store
from taskview.ui.worker_rows import held_rows, queued_summary

pytestmark = pytest.mark.slow  # real workers blocked, a pool grown, a worker killed mid-refresh: timing-heavy

SLEEP = demo_tasks.PREFIX + "sleep"
ADD = demo_tasks.PREFIX + "add"
PREFETCH = 3  # with acks_late and one process: one task runs, two wait reserved in the worker


def _until(monitor: WorkerMonitor, check, timeout: float = 15.0) -> WorkersReport:
    """Refresh until ``check(report)`` holds; the last report."""
    deadline = time.monotonic() + timeout
    while True:
        report = monitor.refresh()
        if check(report):
            return report
        assert time.monotonic() < deadline, (report.lines, [(w.name, w.status) for w in report.workers], report.depths)
        time.sleep(0.1)


def _worker(report: WorkersReport, name: str):
    return next(w for w in report.workers if w.name == name)


def blocked_worker(
    url: str, tmp: Path, *, broker_dir: Path | None = None, second: DemoWorkerProcess | None = None
) -> None:
    """``second`` (started): the whole story (pool grow, a second worker, consumers, warm shutdown)."""
    extra = second is not None
    results = tmp / "results"
    blocked = DemoWorkerProcess(
        url, results, tmp, concurrency=1, extra_args=("--prefetch-multiplier", str(PREFETCH)), broker_dir=broker_dir
    )
    with blocked:
        app = demo_tasks.make_app(
            str(results), broker_url=url, broker_dir=str(broker_dir) if broker_dir else None, queue=blocked.queue
        )
        controller = Controller(app, ping_timeout=1.0)
        monitor = WorkerMonitor(controller, lambda report: None, inspect_timeout=0.6, app_queues=[blocked.queue])
        queue = blocked.queue

        long = controller.enqueue(SLEEP, (), {"seconds": 60}, queue=queue)
        assert long.ok, long
        wait_status(results, long.task_id, "STARTED")
        # with priorities: on Redis each goes to a list of its own (queue, queue\x06\x163, ...), all counted
        waiting = [
            controller.enqueue(SLEEP, (), {"seconds": 0.1}, queue=queue, priority=n % 3 * 3).task_id for n in range(6)
        ]

        # the queue fills behind the blocked worker: 1 runs, 2 reserved, 4 ready; asked until it
        # answers whole (on a loaded machine some polls get part of its replies in 0.6 s, and say so)
        report = _until(
            monitor,
            lambda r: any(w.name == blocked.nodename and len(w.reserved) == PREFETCH - 1 for w in r.workers)
            and r.depths.get(queue) is not None
            and r.depths[queue].ready == 4
            and not r.lines,
        )
        worker = _worker(report, blocked.nodename)
        assert worker.status == "online" and worker.pool == "prefork" and worker.pool_size == 1
        assert [t.task_id for t in worker.active] == [long.task_id]
        assert worker.active[0].name == SLEEP and worker.active[0].args == "seconds=60"
        reserved = [t.task_id for t in worker.reserved]
        assert set(reserved) <= set(waiting), (reserved, waiting)
        if url.startswith("redis"):  # the 4 ready ones are counted across the queue's priority lists
            with app.connection_for_write() as conn:
                assert conn.default_channel.client.keys(queue + "\x06\x16*")
        assert queue in worker.queues and worker.prefetch == PREFETCH
        assert report.consumers[queue] == 1 and queued_summary(report) == f"{queue} 4"
        assert report.lines == []

        # RESERVED rows in the table for tasks with no file yet
        store = Store()
        changed = store.set_held(held_rows(report) or {}, time.time())
        assert sorted(changed) == sorted(reserved)
        assert {store.get(t).status for t in reserved} == {RESERVED}
        assert {store.get(t).worker for t in reserved} == {blocked.nodename}

        # a reserved task revoked before it starts; the others purged from the queue
        revoked = reserved[0]
        assert controller.revoke(revoked).ok
        purged = controller.purge(queue)
        assert purged.ok and purged.message == f"purged queue {queue}: 4 messages deleted", purged
        absent = controller.purge("taskview-no-such-queue-" + queue)
        if url.startswith("amqp"):  # a passive declare first: a missing queue is not created by a purge
            assert not absent.ok and absent.message.endswith("does not exist: nothing purged"), absent
        else:  # on Redis and the filesystem an empty queue is no queue: nothing to create either
            assert absent.ok and absent.message.endswith(": 0 messages deleted"), absent

        # a rate limit, seen in what the worker registers
        limited = controller.worker_command(blocked.nodename, "rate_limit", {"task_name": ADD, "rate_limit": "5/m"})
        assert limited.ok and limited.message == f"{blocked.nodename}: new rate limit set successfully", limited
        registered = controller.inspect_workers(0.6, commands=["registered"])
        assert isinstance(registered, dict)
        assert f"{ADD} [rate_limit=5/m]" in registered["registered"][blocked.nodename]
        unknown = controller.worker_command(blocked.nodename, "rate_limit", {"task_name": "nope", "rate_limit": "1/s"})
        assert not unknown.ok and unknown.message == f"{blocked.nodename} refused rate limit: unknown task"

        if not extra:  # Celery takes a few seconds to start a process: once, on RabbitMQ
            _killed_mid_refresh(monitor, blocked)
            app.close()
            return

        # grow the pool: the reserved tasks run (the revoked one never does)
        grown = controller.worker_command(blocked.nodename, "pool_grow", {"n": 1})
        assert grown.ok and grown.message == f"{blocked.nodename}: pool will grow", grown
        report = _until(
            monitor,
            lambda r: _worker(r, blocked.nodename).pool_size == 2 and not _worker(r, blocked.nodename).reserved,
        )
        assert len(_worker(report, blocked.nodename).pids) == 2
        assert report.depths[queue].ready == 0
        wait_status(results, revoked, "REVOKED")
        for task_id in reserved[1:]:
            wait_status(results, task_id, "SUCCESS")
        # no longer held, and never sent by taskview: their rows go (their files say from now on)
        assert sorted(store.set_held(held_rows(report) or {}, time.time())) == sorted(reserved)
        assert not any(store.get(t) for t in reserved)
        shrunk = controller.worker_command(blocked.nodename, "pool_shrink", {"n": 1})
        assert shrunk.ok and shrunk.message == f"{blocked.nodename}: pool will shrink", shrunk
        _until(monitor, lambda r: _worker(r, blocked.nodename).pool_size == 1)

        assert second is not None
        _consumers_and_shutdown(second, controller, monitor, blocked.nodename)

        _killed_mid_refresh(monitor, blocked)
        app.close()


def _killed_mid_refresh(monitor: WorkerMonitor, worker: DemoWorkerProcess) -> None:
    """Killed in the middle of a refresh: the refresh ends in time, the worker is first
    "not answering", then gone, what it held with it; nothing hangs."""
    monitor.inspect_timeout = 0.3  # a local broker answers in milliseconds; a dead worker never
    done: list[WorkersReport] = []
    refresh = threading.Thread(target=lambda: done.append(monitor.refresh()))
    began = time.monotonic()
    refresh.start()
    time.sleep(0.05)
    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGKILL)
    refresh.join(10)
    assert done and time.monotonic() - began < 5
    report = _until(monitor, lambda r: _worker(r, worker.nodename).status == "not answering")
    assert f"{worker.nodename} has not answered since" in " ".join(report.lines)
    report = _until(monitor, lambda r: _worker(r, worker.nodename).status == "gone")
    assert f"{worker.nodename} is gone: no answer since" in " ".join(report.lines)
    assert report.queued == {} and not _worker(report, worker.nodename).active


def _consumers_and_shutdown(
    second: DemoWorkerProcess, controller: Controller, monitor: WorkerMonitor, first: str
) -> None:
    """A second worker: both show; it consumes a queue more, then stops; a warm shutdown ends it."""
    with second:
        both = {first, second.nodename}
        report = _until(monitor, lambda r: both <= {w.name for w in r.workers if w.status == "online"})
        extra_queue = second.queue + "-more"
        added = controller.worker_command(second.nodename, "add_consumer", {"queue": extra_queue})
        assert added.ok and added.message == f"{second.nodename}: add consumer {extra_queue}", added
        report = _until(monitor, lambda r: extra_queue in _worker(r, second.nodename).queues)
        assert report.depths[extra_queue].ready == 0
        cancelled = controller.worker_command(second.nodename, "cancel_consumer", {"queue": extra_queue})
        assert cancelled.ok, cancelled
        _until(monitor, lambda r: extra_queue not in _worker(r, second.nodename).queues)
        stopped = controller.worker_command(second.nodename, "shutdown", {})
        assert stopped.ok and stopped.message == f"shutdown sent to {second.nodename}"
        assert second.proc is not None
        second.proc.wait(15)  # a warm shutdown: the process ends by itself
        assert second.proc.returncode == 0, second.log()


def test_blocked_worker_on_rabbitmq(tmp_path: Path):
    """Done when: two real workers on RabbitMQ, one blocked, its queue filling; reserved rows; purge; pool grow."""
    with private_broker("rabbitmq", tmp_path) as url:
        second = DemoWorkerProcess(url, tmp_path / "results", tmp_path, concurrency=1).start()  # meanwhile
        try:
            blocked_worker(url, tmp_path, second=second)
        finally:
            second.__exit__()


def test_blocked_worker_on_redis(tmp_path: Path):
    with private_broker("redis", tmp_path) as url:
        blocked_worker(url, tmp_path)


@pytest.mark.parametrize("scheme", ["amqp", "redis"])
def test_a_broker_that_is_down_says_so_and_keeps_the_last_answer(scheme: str):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"amqp://guest:pw-secret@127.0.0.1:{port}//" if scheme == "amqp" else f"redis://:pw-secret@127.0.0.1:{port}/0"
    from taskview.control.app_loading import load_app

    monitor = WorkerMonitor(Controller(load_app(None, url)), lambda report: None, app_queues=["celery"])
    began = time.monotonic()
    report = monitor.refresh()
    assert time.monotonic() - began < 5
    assert report.error is not None and "broker unreachable" in report.error and "pw-secret" not in report.error
    assert report.lines == [report.error] and report.queued is None and report.last_answer is None


def test_a_refused_login_says_so():
    from taskview.control.app_loading import load_app

    wrong = require_broker("rabbitmq").replace("guest:guest@", "guest:not-the-password@")  # nothing gets in
    monitor = WorkerMonitor(Controller(load_app(None, wrong)), lambda report: None)
    report = monitor.refresh()
    assert report.error is not None and report.error.startswith("broker refused the login: amqp://guest:****@")
    assert "not-the-password" not in report.error and report.queued is None
