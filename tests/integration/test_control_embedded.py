"""The embedded demo worker (taskview --demo): a real Celery worker on the filesystem broker.

Every demo task is run and its files read with taskview's own decoder; revoke
(terminate or not) goes through the Controller; and no worker process may
outlive its taskview, however taskview ends.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers.control import (
    processes_mentioning,
    read_status,
    wait_no_process,
    wait_processes,
    wait_status,
)
from taskview.control import demo_tasks
from taskview.control.controller import Controller
from taskview.control.embedded import EmbeddedWorker, EmbeddedWorkerError, live_workers
from taskview.control.stale import is_stale


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A user's own broker in the environment must not leak into the demo worker or its client.
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://someone:hunter2@127.0.0.1:1//")
    started = time.monotonic()
    with EmbeddedWorker(tmp_path / "results") as w:
        w.start_seconds = time.monotonic() - started
        yield w
        w.stop(timeout=0)  # SIGKILL: quicker; the graceful stop has a test of its own
    assert w.broker_dir is not None and not w.broker_dir.exists()
    assert w not in live_workers()


def test_start_revoke_terminate_and_stop_leaves_nothing(worker: EmbeddedWorker):
    print(f"embedded worker ready in {worker.start_seconds:.2f} s")
    assert worker.start_seconds < 5
    assert worker.running
    assert worker.results_dir.is_dir()
    controller = Controller(worker.app)
    assert controller.broker_display == f"filesystem:// ({worker.broker_dir}/data)"
    assert controller.ping() == {worker.nodename: {"ok": "pong"}}

    sent = controller.enqueue("taskview.demo.sleep", kwargs={"seconds": 30}, queue=worker.queue)
    assert sent.ok and sent.message == f"sent taskview.demo.sleep {sent.task_id}"
    meta, _ = wait_status(worker.results_dir, sent.task_id, "STARTED")
    assert meta["result"]["hostname"] == worker.nodename
    assert meta["name"] == "taskview.demo.sleep"

    started = time.monotonic()
    outcome = controller.revoke(sent.task_id, terminate=True)
    assert outcome.ok, outcome
    assert outcome.message == f"revoke (terminate, SIGTERM) sent to {worker.nodename}"
    meta, _ = wait_status(worker.results_dir, sent.task_id, "REVOKED", timeout=5)
    took = time.monotonic() - started
    print(f"filesystem broker: REVOKED on disk {took:.2f} s after revoke() was called")
    assert took < 2
    assert meta["result"]["exc_message"] == ["terminated"]

    # calls from several threads at once (the UI calls from its thread workers)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        pings = [pool.submit(controller.ping) for _ in range(2)]
        sent = list(pool.map(lambda i: controller.enqueue("taskview.demo.add", (i, i), queue=worker.queue), range(8)))
    assert all(p.result() == {worker.nodename: {"ok": "pong"}} for p in pings)
    for i, outcome in enumerate(sent):
        assert outcome.ok, outcome
        assert wait_status(worker.results_dir, outcome.task_id, "SUCCESS")[0]["result"] == 2 * i

    marker = str(worker.broker_dir)
    assert len(wait_processes(marker, 3)) == 3  # the worker and its pool (a terminated child is replaced)
    started = time.monotonic()
    worker.stop()
    stopped = time.monotonic() - started
    print(f"embedded worker stopped in {stopped:.2f} s")
    assert stopped < 4
    assert not worker.running
    wait_no_process(marker, timeout=1)


def test_every_demo_task_on_the_embedded_worker(worker: EmbeddedWorker):
    controller = Controller(worker.app)
    results = worker.results_dir

    def send(key: str) -> str:
        outcome = demo_tasks.send_demo(controller, key)
        assert outcome.ok, outcome
        return outcome.task_id

    add, fail, retry, chain = send("a"), send("f"), send("r"), send("c")
    meta, _ = wait_status(results, add, "SUCCESS")
    assert meta["result"] == 5 and meta["args"] == [2, 3]
    meta, _ = wait_status(results, fail, "FAILURE")
    assert meta["result"]["exc_type"] == "ValueError"
    assert meta["result"]["exc_message"] == ["the demo task failed on purpose"]
    meta, _ = wait_status(results, retry, "RETRY")
    assert meta["result"]["exc_type"] == "ConnectionError"
    meta, _ = wait_status(results, chain, "SUCCESS")
    assert meta["result"] == 3
    second = meta["children"][0][0][0]
    meta, _ = wait_status(results, second, "SUCCESS")
    assert meta["result"] == 6 and meta["parent_id"] == chain
    last = meta["children"][0][0][0]
    meta, _ = wait_status(results, last, "SUCCESS")
    assert meta["result"] == 10
    meta, _ = wait_status(results, retry, "SUCCESS", timeout=10)
    assert meta["result"] == "ok after 2 retries" and meta["retries"] == 2

    progress, sleepy = send("p"), send("g")
    meta, _ = wait_status(results, progress, "PROGRESS")
    assert meta["result"] == {"current": 0, "total": 10}
    meta, _ = wait_status(results, sleepy, "GOING_TO_SLEEP")
    assert meta["result"] is None

    # both pool processes are busy: a third task waits in the queue (PENDING: no file)
    queued = send("s")
    time.sleep(0.5)
    assert read_status(results, queued) == (None, None)
    outcome = controller.revoke(queued)  # no terminate: it will just never run
    assert outcome.ok and outcome.message.startswith(f"revoke sent to {worker.nodename}"), outcome
    meta, _ = wait_status(results, queued, "REVOKED", timeout=3)
    assert meta["result"]["exc_message"] == ["revoked"]

    for task_id, sig in ((progress, "SIGKILL"), (sleepy, "TERM")):
        outcome = controller.revoke(task_id, terminate=True, signal=sig)
        assert outcome.ok, outcome
        wait_status(results, task_id, "REVOKED", timeout=3)
    assert not controller.revoke(progress, terminate=True, signal="SIGNOPE").ok


def test_stale_started_task_after_the_worker_is_killed(worker: EmbeddedWorker):
    controller = Controller(worker.app)
    sent = demo_tasks.send_demo(controller, "s")
    meta, _ = wait_status(worker.results_dir, sent.task_id, "STARTED")
    pid, hostname = meta["result"]["pid"], meta["result"]["hostname"]
    replies = controller.ping()
    assert not is_stale(hostname, pid, replies)
    worker.stop(timeout=0)  # SIGKILL, like a crashed host: the file stays STARTED
    assert read_status(worker.results_dir, sent.task_id)[0] == "STARTED"
    # its pool process is gone: SIGKILL is sent to the group at once, the process ends a moment later
    deadline = time.monotonic() + 5
    while not is_stale(hostname, pid, None) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert is_stale(hostname, pid, None)
    assert is_stale(hostname, None, {})  # its worker does not answer ping


def test_a_worker_that_cannot_start_says_why(tmp_path: Path):
    results = tmp_path / "results"
    with pytest.raises(EmbeddedWorkerError) as info:
        EmbeddedWorker(results, concurrency=0, loglevel="nonsense").start()
    assert "exited with code" in str(info.value) and "\n" not in str(info.value)
    assert not live_workers()


# -- taskview ends: no worker may be left ---------------------------------------------------

HOST_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    # Ctrl+C and a hangup as in a terminal: a test run started in the background (no job
    # control) or under nohup hands its children SIGINT or SIGHUP ignored, and then taskview
    # rightly goes on (install_cleanup_handlers leaves an ignored SIGHUP ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    from taskview.control.embedded import EmbeddedWorker, install_cleanup_handlers
    install_cleanup_handlers()
    worker = EmbeddedWorker(sys.argv[1]).start()
    print(worker.broker_dir, flush=True)
    how = sys.argv[2]
    if how == "exit":
        sys.exit(0)  # no stop(): atexit does it
    if how == "crash":
        raise RuntimeError("taskview crashed")
    time.sleep(60)
""")


def run_host(tmp_path: Path, how: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, str(tmp_path / "results"), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        raise AssertionError(f"host did not start its worker: {proc.stderr.read()}")
    return proc, line


#: how taskview ends -> its exit code
ENDINGS = {
    "exit": 0,  # normal exit, no stop() called: atexit
    "crash": 1,  # an exception: atexit
    "SIGINT": 1,  # Ctrl+C outside the UI: KeyboardInterrupt, atexit
    "SIGTERM": 128 + signal.SIGTERM,  # install_cleanup_handlers
    "SIGHUP": 128 + signal.SIGHUP,  # the terminal went away
}


@pytest.mark.slow
def test_no_worker_outlives_taskview(tmp_path: Path):
    """Each way taskview can end, all at once (each host runs its own worker, in a terminal session)."""
    hosts = {how: run_host(tmp_path / how, how) for how in ENDINGS}
    try:
        for how, (proc, broker_dir) in hosts.items():
            if how.startswith("SIG"):
                assert processes_mentioning(broker_dir), how
                proc.send_signal(getattr(signal, how))
        for how, (proc, broker_dir) in hosts.items():
            # Each host stops its worker on the way out: seconds, more on a machine under load
            # (5 hosts and their workers at once; seen over 10 s beside two busy CPU loops).
            code = proc.wait(45)
            assert code == ENDINGS[how], (how, proc.stderr.read())
            wait_no_process(broker_dir, timeout=5)
            assert not Path(broker_dir).exists(), how
    finally:
        for proc, _ in hosts.values():
            proc.kill()
            proc.wait()


def test_sigkill_of_taskview_the_worker_dies_by_itself(tmp_path: Path):
    proc, broker_dir = run_host(tmp_path, "wait")
    try:
        assert len(wait_processes(broker_dir, 3)) == 3  # the worker and its pool (not the host)
        started = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        gone = wait_no_process(broker_dir, timeout=5)
    finally:
        proc.kill()
        proc.wait()
    print(f"SIGKILL: the orphaned worker was gone {time.monotonic() - started:.2f} s later")
    assert gone < 3
    assert not Path(broker_dir).exists()  # it removed its broker folder too
