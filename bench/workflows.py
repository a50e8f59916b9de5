"""The workflows view at 100k tasks in 10k workflows, beside the flat view's figures (same run).

Each workflow is ten tasks as Celery's files link them: a chain of five links (parent ids, each
naming the next as its child), the last starting a group of four (parent and group ids) and a
chord body (the group's id, a parent without a file). The records are made in memory (the view
model's work is what is timed, not reading files); the flat figures are the table model's own
full sort and filter of the same store.
"""

from __future__ import annotations

import statistics
import time
import uuid

import msgspec

from common import Figure
from taskview.results.files import TASK_PREFIX
from taskview.results.record import Links, TaskRecord
from taskview.store import Store
from taskview.view.table_model import TableModel
from taskview.view.workflow_tree import WorkflowTree


def make_store(workflows: int) -> Store:
    store = Store()
    ids = [str(uuid.UUID(int=n, version=4)) for n in range(workflows * 12)]
    records = []
    now = 1_800_000_000.0
    for w in range(workflows):
        base = ids[w * 12 : w * 12 + 12]
        chain, members, body, gid, unlock = base[:5], base[5:9], base[9], base[10], base[11]
        for at, task_id in enumerate(chain):
            children: tuple[object, ...] = (chain[at + 1],) if at < 4 else ((gid, tuple(members)),)
            links = Links(TASK_PREFIX, None, None, chain[at - 1] if at else None, None, children)
            records.append(TaskRecord(task_id, links, "SUCCESS", "bench.link", date_done=now + w + at, mtime=now))
        for task_id in members:
            links = Links(TASK_PREFIX, None, gid, chain[4], None, ())
            records.append(TaskRecord(task_id, links, "SUCCESS", "bench.member", date_done=now + w + 5, mtime=now))
        links = Links(TASK_PREFIX, None, gid, unlock, None, ())
        records.append(TaskRecord(body, links, "FAILURE" if w % 10 == 0 else "SUCCESS", "bench.body", mtime=now))
    from taskview.store import first_sight

    first_sight(records)
    store.add_scanned(records)
    return store


def _timed(fn, repeats: int = 5, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        started = clock()
        fn()
        times.append(clock() - started)
    return statistics.median(times) * 1000


def run(workflows: int = 10_000) -> list[Figure]:
    store = make_store(workflows)
    count = len(store)
    model = TableModel(store)
    model.sort("last_change", True)
    flat_sort = _timed(lambda: model.sort("last_change", True))
    label = f"{count // 1000}k tasks, {workflows // 1000}k workflows"
    shown = (model.sort_key, model.reverse)  # as the inspector builds: each workflow's first row kept

    def cold_toggle() -> None:
        store.workflows.forget_roots()  # as after a scan: no root known
        WorkflowTree(store).build(model.rows, False, sort=shown)

    cold_ms = _timed(cold_toggle)
    cold_cpu = _timed(cold_toggle, clock=time.process_time)  # what it costs whatever else the machine runs
    flat_cpu = _timed(lambda: model.sort("last_change", True), clock=time.process_time)
    toggle_ms = _timed(lambda: WorkflowTree(store).build(model.rows, False, sort=shown))  # the roots known from before
    tree = WorkflowTree(store)
    tree.build(model.rows, False)
    middle = len(tree.rows) // 2

    expand_ms = _timed(lambda: tree.expand(middle) and tree.collapse(middle), 21)
    tree.build(model.rows, False)
    rebuild_ms = _timed(lambda: tree.build(model.rows, False))
    # A live change as the inspector shows it: a chord's body finishes again (a new status, its file's
    # newest write), the table model moves its row, then the tree its workflow; beside the same with
    # the workflows' order made anew from every row.
    bodies = iter([r for r in store.records.values() if r.name == "bench.body"])
    moment = iter(range(1, 1_000_000))

    def live_change(moved: bool) -> None:
        old = next(bodies)
        status = "SUCCESS" if old.status == "FAILURE" else "FAILURE"
        store.add_many([msgspec.structs.replace(old, status=status, mtime=old.mtime + next(moment))], live=True)
        model.touch([old.task_id])
        model.refresh()
        changed = model.take_row_changes()
        if moved:
            tree.build(model.rows, False, changed=changed, sort=shown)
        else:
            tree.build(model.rows, False)

    tree.build(model.rows, False, sort=shown)
    anew_ms = _timed(lambda: live_change(False), 9)
    tree.build(model.rows, False, sort=shown)
    moved_ms = _timed(lambda: live_change(True), 9)
    return [
        Figure(
            f"workflows: first toggle, {label}", cold_ms, "ms", flat_sort, "flat full sort", "< 300 ms", cold_ms < 300
        ),
        Figure("workflows: first toggle, CPU time", cold_cpu, "ms", flat_cpu, "flat sort CPU", "", None),
        Figure("workflows: toggle again", toggle_ms, "ms", flat_sort, "flat full sort", "< 300 ms", toggle_ms < 300),
        Figure("workflows: expand + collapse a workflow", expand_ms, "ms", None, "", "< 50 ms", expand_ms < 50),
        Figure("workflows: rows made anew", rebuild_ms, "ms", flat_sort, "flat full sort", "", None),
        Figure("workflows: rows after a live change", moved_ms, "ms", anew_ms, "order made anew", "", None),
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure.row())
