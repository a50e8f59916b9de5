"""Workflows real workers run, followed live by the directory tail into a store: each tree is the
one Celery's own AsyncResult / GroupResult graph gives, and --tree prints it."""

from __future__ import annotations

import pytest
from celery import chain, chord, group

from helpers.celery_harness import CeleryWorker
from helpers.cli import run
from helpers.tail import Followed

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One worker running every shape; the results directory and what Celery's client says of each."""
    results = tmp_path_factory.mktemp("flows")
    with CeleryWorker(results, extended=True, concurrency=2, name="taskview-flows") as worker:
        app = worker.app
        s = app.signature
        followed = Followed(results)
        shapes = {
            "chain": chain(
                s("sampletasks.add", args=(1, 2)), s("sampletasks.add", args=(3,)), s("sampletasks.add", args=(4,))
            ).apply_async(),
            "failing chain": chain(
                s("sampletasks.add", args=(1, 1)), s("sampletasks.fail_builtin"), s("sampletasks.add", args=(5,))
            ).apply_async(),
            "chord": chord([s("sampletasks.add", args=(i, i)) for i in range(3)], s("sampletasks.tsum")).apply_async(),
            "children": s("sampletasks.spawn_children", args=(3,)).apply_async(),
            "group in a task": s("sampletasks.spawn_group", args=(2,)).apply_async(),
            "retried": s("sampletasks.retry_twice", kwargs={"countdown": 0.1}).apply_async(),
        }
        saved = group(s("sampletasks.add", args=(i, 100)) for i in range(3)).apply_async()
        saved.get(timeout=30)
        saved.save()
        for name, result in shapes.items():
            if name == "failing chain":
                result.parent.get(timeout=30, propagate=False)
            else:
                result.get(timeout=30)
        # Celery's own graph of each, from its client: every id in it.
        expected = {
            "chain": {r.id for r in (shapes["chain"], shapes["chain"].parent, shapes["chain"].parent.parent)},
            "failing chain": {shapes["failing chain"].parent.id, shapes["failing chain"].parent.parent.id},
            "chord": {shapes["chord"].id, shapes["chord"].parent.id, *(r.id for r in shapes["chord"].parent.results)},
            "saved group": {saved.id, *(r.id for r in app.GroupResult.restore(saved.id).results)},
        }
        for name in ("children", "group in a task"):
            graph = app.AsyncResult(shapes[name].id).graph
            expected[name] = {node.id for node in graph}
        expected["retried"] = {shapes["retried"].id}
        tasks = {i for ids in expected.values() for i in ids}

        def arrived(store):
            return all(i in store.records or store.workflows.has_members(i) for i in tasks)

        followed.until(arrived)
        followed.tail.stop()
        yield results, followed.store, shapes, expected, saved


def ids_of_tree(store, task_id):
    index = store.workflows
    return {node.node_id for node, _ in index.walk(index.root_of(task_id))}


@pytest.mark.parametrize("shape", ["chain", "failing chain", "chord", "children", "group in a task", "retried"])
def test_each_tree_is_celerys_graph(ran, shape):
    _, store, shapes, expected, _ = ran
    want = expected[shape]
    # From every member, the same whole workflow (the way up, then down).
    for member in want:
        if member in store.records:
            assert ids_of_tree(store, member) == want, shape


def test_a_saved_group_and_a_failure_seen_from_the_root(ran):
    results, store, shapes, expected, saved = ran
    assert ids_of_tree(store, saved.results[0].id) == expected["saved group"]
    failing = shapes["failing chain"].parent
    summary = store.workflows.summary(store.workflows.root_of(failing.id))
    assert summary.state == "FAILURE" and summary.by_status["FAILURE"] == 1
    out = run(str(results), "--tree", failing.id[:12])
    lines = out.stdout.splitlines()
    assert lines[0].startswith("SUCCESS sampletasks.add " + failing.parent.id)
    assert lines[1].startswith("└─ FAILURE sampletasks.fail_builtin " + failing.id) and lines[1].endswith("◀")
    assert lines[-1] == "2/2 done · 1 FAILURE"


async def test_revoking_a_workflow_revokes_its_unfinished_tasks_with_one_confirmation(tmp_path):
    """A group of two sleeps started on the embedded worker: x on its row offers its 2 unfinished tasks,
    w revokes them (t terminates them: both files say REVOKED), through the controller's one broadcast."""
    from textual.widgets import Static

    from helpers.pilot import plain, wait_until
    from taskview.control.controller import Controller
    from taskview.control.embedded import EmbeddedWorker
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp
    from taskview.ui.screens.confirm import ConfirmScreen

    results = tmp_path / "results"
    results.mkdir()
    with EmbeddedWorker(str(results)) as worker:
        sleeps = group(worker.app.signature("taskview.demo.sleep", args=(60,)) for _ in range(2)).apply_async()
        members = [r.id for r in sleeps.results]
        app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(worker.app))
        async with app.run_test(size=(120, 30)) as pilot:
            screen, store = app.inspector, app.inspector.store
            await wait_until(pilot, lambda: all(store.known_status(m) == "STARTED" for m in members), timeout=20)
            await pilot.press("t")
            await wait_until(pilot, lambda: sleeps.id in screen.table.task_ids)
            screen.table.select_task(sleeps.id)
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            said = " ".join(plain(s) for s in app.screen.query(Static))
            assert "Revoke this workflow?" in said and "2 of its 2 tasks" in said and "revoke the 2 unfinished" in said
            await pilot.press("t")
            await wait_until(pilot, lambda: all(store.known_status(m) == "REVOKED" for m in members), timeout=15)
            assert "revoke (terminate, SIGTERM) of 2 tasks sent" in (screen.notice or "")
