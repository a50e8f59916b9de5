"""A real worker of a project that is not the demo (tests/helpers/worker_app), followed by the
directory tail into a store, as the live inspector does, without a screen: its workflows filtered,
a queued task revoked, and the tasks a killed worker leaves in every unfinished state judged stale."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from celery import chain, group

from helpers.celery_harness import CeleryWorker
from helpers.cli import dump, run
from helpers.tail import Followed
from taskview.control.stale import StaleWatch
from taskview.query import compile_query


def wait_scheduled(worker: CeleryWorker, task_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        scheduled = worker.app.control.inspect(destination=[worker.nodename], timeout=1.0).scheduled() or {}
        if any(entry["request"]["id"] == task_id for entries in scheduled.values() for entry in entries):
            return
        assert time.monotonic() < deadline, scheduled


def ping(worker: CeleryWorker) -> dict[str, dict]:
    """The workers that answer, as Controller.ping_workers gives them."""
    return {node: reply for answer in worker.app.control.ping(timeout=1.0) or [] for node, reply in answer.items()}


@pytest.mark.slow
def test_a_real_project_followed_filtered_revoked_and_left_stale(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    with CeleryWorker(results, extended=True, name="own-project", concurrency=3) as worker:
        followed = Followed(results)
        try:
            app = worker.app
            # Workflows: a chain of three, and a group with a failure.
            links = chain(
                app.signature("sampletasks.add", (1, 2)),
                app.signature("sampletasks.add", (3,)),
                app.signature("sampletasks.add", (4,)),
            ).apply_async()
            first = links.parent.parent.id
            batch = group(
                app.signature("sampletasks.add", (5, 5)),
                app.signature("sampletasks.fail_builtin", ("PaymentDeclined: card 4242",)),
            ).apply_async()
            workflow = [first, links.parent.id, links.id, *(c.id for c in batch.children)]
            followed.until(lambda s: all(followed.status(i) in ("SUCCESS", "FAILURE") for i in workflow))

            # A task taskview sent, revoked while it waits in the queue: its file names nothing.
            queued = worker.send("sleep", 30, options={"countdown": 60})
            followed.store.add_pending(queued.id, "sampletasks.sleep", time.time())
            wait_scheduled(worker, queued.id)  # held by the worker until its countdown ends
            worker.revoke(queued.id)
            followed.until(lambda s: followed.status(queued.id) == "REVOKED")
            assert "name" not in json.loads(worker.path(queued.id).read_bytes())
            assert followed.store.get(queued.id).name == "sampletasks.sleep"

            # Tasks in every unfinished state, then the worker killed under them.
            retry = worker.send("retry_twice", countdown=3600)
            followed.until(lambda s: followed.status(retry.id) == "RETRY")
            progress = worker.send("progress", total=4, stall_at=1, stall=120)
            custom = worker.send("going_to_sleep", seconds=120)
            started = worker.send("sleep", 120)
            unfinished = {
                retry.id: "RETRY",
                progress.id: "PROGRESS",
                custom.id: "GOING_TO_SLEEP",
                started.id: "STARTED",
            }
            followed.until(lambda s: all(followed.status(i) == v for i, v in unfinished.items()))
            store = followed.store
            assert set(store.unfinished) == set(unfinished)
            watch = StaleWatch()
            assert watch.check(store.stale_candidates(), ping(worker)) == set()
            worker.kill()
            # It missed its first ping: only the STARTED task, whose pool process is gone, is stale yet.
            assert watch.check(store.stale_candidates(), ping(worker)) == {started.id}
            stale = watch.check(store.stale_candidates(), ping(worker))
        finally:
            followed.tail.stop()
    assert stale == set(unfinished)
    assert store.set_stale(stale) == set(unfinished)
    for text in ("stale", "status:stale", "status:STALE,FAILURE -kind:group"):
        predicate = compile_query(text, stale=store.stale)
        kept = {i for i, r in store.records.items() if predicate(r)}
        assert kept >= set(unfinished) and kept - set(unfinished) <= {batch.children[1].id}, text

    # The same directory, filtered headless by workflow and failure.
    ids = {r["task_id"] for r in dump(results, "--filter", f"root:{first[:8]}")}
    assert ids == {first, links.parent.id, links.id}
    ids = {r["task_id"] for r in dump(results, "--filter", f"group:{batch.id}")}
    assert ids == {c.id for c in batch.children}
    ids = {r["task_id"] for r in dump(results, "--filter", "exc:PaymentDeclined")}
    assert ids == {batch.children[1].id}
    stats = json.loads(run(str(results), "--stats", "--json", "--filter", "exc:revoked").stdout)
    assert stats["by_status"] == {"REVOKED": 1}
