"""Bulk actions with real workers: ``taskview DIR revoke|retry|forget QUERY`` as a user runs it.

Two real workers on kombu's filesystem broker (no server), each consuming a queue of its
own, with result_extended. 50 running tasks terminated at once, failures of one exception
type sent again to their own queues, forget while files change, --dry-run touching nothing,
and a broker that dies halfway (a private redis-server, killed between two batches).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from celery import Celery

from helpers.brokers import PrivateRedis
from helpers.celery_harness import WORKER_APP_DIR, CeleryWorker, stop_workers
from helpers.cli import run
from helpers.pilot import wait_until
from taskview.control.bulk import execute
from taskview.control.bulk_plan import outcome_line, plan
from taskview.control.controller import Controller
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.bulk_progress import BulkProgress
from taskview.ui.screens.confirm import ConfirmScreen

pytestmark = pytest.mark.slow

QUEUES = ("bulk-a", "bulk-b")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory):
    """Two prefork workers of 25 processes, one per queue, sharing one broker folder and one results directory."""
    results = tmp_path_factory.mktemp("bulk") / "results"
    broker = tmp_path_factory.mktemp("bulk-broker")
    started = [
        CeleryWorker(
            results,
            extended=True,
            name=queue,
            concurrency=25,
            broker_dir=broker,
            extra_args=["-Q", queue],
            wait_ready=False,
        )
        for queue in QUEUES
    ]
    try:
        for worker in started:
            worker.start()
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        stop_workers(started)
        for worker in started:
            worker.close()


def taskview(worker: CeleryWorker, *args: str):
    """``taskview RESULTS ... -A sampletasks`` in the worker's project, as its user would run it."""
    return run(str(worker.results_dir), *args, "-A", "sampletasks", check=False, cwd=WORKER_APP_DIR, env=worker.env())


def metas(results: Path) -> dict[str, dict]:
    found = {}
    for path in results.iterdir():
        if path.name.startswith("celery-task-meta-"):
            try:
                found[path.name.removeprefix("celery-task-meta-")] = json.loads(path.read_bytes())
            except ValueError:
                pass  # being written
    return found


def audit_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns) for folder in folders for p in folder.rglob("*") if p.is_file()
    }


def test_fifty_running_tasks_terminated_across_two_workers(workers):
    a, b = workers
    sent = [a.send("sleep", 120, options={"queue": QUEUES[i % 2]}).id for i in range(50)]
    a.wait_all({task_id: "STARTED" for task_id in sent}, timeout=60)
    began = time.monotonic()
    log = a.results_dir.parent / "audit.log"
    proc = taskview(a, "revoke", "name:sleep status:STARTED", "--terminate", "--yes", "--log", str(log))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "terminated 50, skipped 0, failed 0" in proc.stdout
    audit = audit_lines(log)  # one JSON line per task
    assert sorted(e["task_id"] for e in audit) == sorted(sent)
    assert {(e["action"], e["outcome"], e["name"], e["broker"].split(" ")[0]) for e in audit} == {
        ("terminate", "ok", "sampletasks.sleep", "filesystem://")
    }
    got = a.wait_all({task_id: "REVOKED" for task_id in sent}, timeout=30)
    assert {meta["worker"].split("@")[0] for meta in got.values()} == set(QUEUES)  # both workers ran them
    assert time.monotonic() - began < 30


def test_retry_sends_again_only_the_failures_of_one_exception_on_their_own_queues(workers):
    a, b = workers
    builtin = [a.send("fail_builtin", f"bad {i}", options={"queue": QUEUES[i % 2]}).id for i in range(5)]
    custom = [a.send("fail_custom", options={"queue": QUEUES[i % 2]}).id for i in range(2)]
    a.wait_all({task_id: "FAILURE" for task_id in builtin + custom})
    before = set(metas(a.results_dir))
    proc = taskview(a, "retry", "exc:ValueError name:fail_builtin")
    assert proc.returncode == 2 and "add --yes" in proc.stderr  # no terminal, no --yes: nothing sent
    proc = taskview(a, "retry", "exc:ValueError name:fail_builtin", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "re-sent 5, skipped 0, failed 0" in proc.stdout
    old = metas(a.results_dir)
    deadline = time.monotonic() + 30
    while True:
        new = {i: m for i, m in metas(a.results_dir).items() if i not in before}
        if len(new) == 5 and all(m["status"] == "FAILURE" for m in new.values()):
            break
        assert time.monotonic() < deadline, new
        time.sleep(0.1)
    assert sorted((m["name"], tuple(m["args"]), m["queue"]) for m in new.values()) == sorted(
        (old[i]["name"], tuple(old[i]["args"]), old[i]["queue"]) for i in builtin
    )
    for meta in new.values():  # each ran on the worker of the queue it came from
        assert meta["worker"].startswith(meta["queue"] + "@")
    assert all(m["name"] != "sampletasks.fail_custom" for m in new.values())


def test_a_dry_run_touches_neither_the_directory_nor_the_broker(workers):
    a, _ = workers
    a.wait_all({a.send("add", 1, 2, options={"queue": QUEUES[0]}).id: "SUCCESS"})
    folders = (a.results_dir, a.broker_dir / "data", a.broker_dir / "control")
    before = snapshot(*folders)
    for args in (
        ("retry", "exc:ValueError", "--dry-run"),
        ("revoke", "kind:task", "--kill", "--dry-run"),
        ("forget", "kind:task", "--include-unfinished", "--dry-run"),
    ):
        proc = taskview(a, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "dry run:" in proc.stdout and "would " in proc.stdout
    # -A without PATH: the app's own file:// result directory
    proc = run("forget", "kind:task", "--dry-run", "-A", "sampletasks", check=False, cwd=WORKER_APP_DIR, env=a.env())
    assert proc.returncode == 0 and f"in {a.results_dir}:" in proc.stdout, proc.stderr
    assert snapshot(*folders) == before


def test_what_a_bulk_command_cannot_mean_is_a_one_line_error(workers):
    a, _ = workers
    for args, said in (
        (("purge", "kind:task"), "unknown action 'purge'"),
        (("forget", "kind:task", "--kill"), "--terminate and --kill go with revoke"),
        (("retry", "kind:task", "--dry-run", "--yes"), "choose one of --dry-run and --yes"),
        (("revoke", "since:yesterday", "--yes"), "since:yesterday"),
    ):
        proc = taskview(a, *args)
        assert proc.returncode == 2 and said in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_forget_keeps_every_file_that_changed_after_it_was_listed(workers):
    a, _ = workers
    results = a.results_dir
    finished = [a.send("add", i, i, options={"queue": QUEUES[0]}).id for i in range(3)]
    running = [a.send("sleep", 1.5, options={"queue": QUEUES[1]}).id for _ in range(3)]
    a.wait_all({**{t: "SUCCESS" for t in finished}, **{t: "STARTED" for t in running}})
    ours = set(finished + running)
    records = [r for batch in ResultDirectory(str(results)).scan() for r in batch if r.task_id in ours]
    bulk = plan("forget", records, include_unfinished=True)
    assert len(bulk.targets) == 6
    a.wait_all({t: "SUCCESS" for t in running})  # their files rewritten since the listing
    done = execute(bulk, directory=str(results))
    outcome = {d.task_id: d.detail for d in done}
    assert {t for t, detail in outcome.items() if not detail} == set(finished)
    assert all(outcome[t] == "changed since it was listed: kept" for t in running)
    assert ours & set(metas(results)) == set(running)
    assert outcome_line(bulk, done) == "removed 3, skipped 0, failed 3"


def test_forget_of_old_finished_results_from_cron(workers):
    a, _ = workers
    results = a.results_dir
    unfinished = {i for i, m in metas(results).items() if m["status"] not in ("SUCCESS", "FAILURE", "REVOKED")}
    successes = {i for i, m in metas(results).items() if m["status"] == "SUCCESS"}
    assert successes
    proc = taskview(a, "forget", "status:SUCCESS before:0s", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    left = metas(results)
    assert not successes & set(left) and unfinished <= set(left)
    assert any(m["status"] == "FAILURE" for m in left.values())
    proc = taskview(a, "forget", "status:SUCCESS", "--yes")
    assert proc.returncode == 3 and "no task matched" in proc.stdout


def test_a_broker_that_dies_halfway_leaves_an_outcome_of_what_was_done(workers, tmp_path: Path):
    a, _ = workers
    failures = [
        r
        for batch in ResultDirectory(str(a.results_dir)).scan()
        for r in batch
        if r.exc is not None and r.exc.startswith("ValueError")
    ]
    results = ResultDirectory(str(a.results_dir))
    stored = {r.task_id: results.read_full(r.filename).meta for r in failures}
    bulk = plan("retry", failures, metas=stored)
    assert len(bulk.targets) >= 5
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        app = Celery("bulk-dies", broker=server.url, set_as_current=False)
        controller = Controller(app, connect_timeout=1.0, call_timeout=4.0)
        # Between the first batch and the second, the broker is killed.
        done = execute(bulk, controller=controller, batch=2, progress=lambda n, total: server.stop())
    finally:
        server.stop()
    assert [d.ok for d in done] == [True, True] + [False] * (len(done) - 2)
    assert all("broker unreachable" in d.detail for d in done[2:]), done
    assert outcome_line(bulk, done) == f"re-sent 2, skipped 0, failed {len(done) - 2}"


def test_read_only_refuses_and_nothing_is_sent(workers):
    a, _ = workers
    before = snapshot(a.results_dir, a.broker_dir / "data")
    for args in (("revoke", "kind:task", "--yes"), ("forget", "kind:task", "--yes"), ("retry", "kind:task", "--yes")):
        proc = taskview(a, *args, "--read-only")
        assert proc.returncode == 2 and "--read-only" in proc.stderr
    assert snapshot(a.results_dir, a.broker_dir / "data") == before
    assert os.listdir(a.results_dir)


async def test_in_the_inspector_mark_all_running_then_terminate_them_with_one_confirmation(workers):
    """The issue's own story: filter status:STARTED name:sleep, mark all, terminate, every one REVOKED."""
    a, _ = workers
    finished = a.send("add", 1, 1, options={"queue": QUEUES[0]}).id
    a.wait_for(finished, "SUCCESS")
    running = [a.send("sleep", 60, options={"queue": QUEUES[i % 2]}).id for i in range(6)]
    a.wait_all({t: "STARTED" for t in running})
    app = TaskviewApp(ResultDirectory(str(a.results_dir)), controller=Controller(a.app))
    async with app.run_test(size=(80, 24)) as pilot:
        store = app.inspector.store
        await wait_until(pilot, lambda: app.inspector.scan is None and all(t in store for t in running))
        await pilot.press("slash", *"status:STARTED name:sleep", "enter")
        await wait_until(pilot, lambda: not app.inspector.model.filtering and len(app.inspector.model.rows) == 6)
        await pilot.press("a", "a")
        assert set(app.inspector.model.marks) == set(running)
        await pilot.press("escape")  # the filter cleared: the finished task shows, unmarked
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.title_text == "Revoke 6 of 6 marked tasks?"
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, BulkProgress) and app.screen.done is not None)
        assert "terminated 6, skipped 0, failed 0" in str(app.screen.title_line.content)
        await pilot.press("enter")
        await wait_until(pilot, lambda: all(store.get(t).status == "REVOKED" for t in running))
        assert store.get(finished).status == "SUCCESS"


async def test_in_the_inspector_r_sends_the_marked_failures_again(workers):
    a, _ = workers
    failed = [a.send("fail_custom", f"out of {i}", options={"queue": QUEUES[i % 2]}).id for i in range(2)]
    a.wait_all({t: "FAILURE" for t in failed})
    app = TaskviewApp(ResultDirectory(str(a.results_dir)), controller=Controller(a.app))
    async with app.run_test(size=(80, 24)) as pilot:
        store = app.inspector.store
        await wait_until(pilot, lambda: app.inspector.scan is None and all(t in store for t in failed))
        await wait_until(pilot, lambda: all(t in app.inspector.table.task_ids for t in failed))
        for task_id in failed:
            app.inspector.table.select_task(task_id)
            await pilot.press("space")
        assert set(app.inspector.model.marks) == set(failed)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # the files read off the UI thread
        assert app.screen.title_text == "Send 2 of 2 marked tasks again, each to its own queue?"
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, BulkProgress) and app.screen.done is not None)
        sent = [d.sent for d in app.screen.done]
        await pilot.press("enter")
        assert all(t in store for t in sent)  # PENDING rows at once, as for one task sent
        await wait_until(pilot, lambda: all(store.get(t).status == "FAILURE" for t in sent))
        assert sorted(store.get(t).worker.split("@")[0] for t in sent) == sorted(QUEUES)
