"""A task's file read again: which rewrites change its row, what a file written without
result_extended keeps of what the task was known by, and a task that goes and comes back."""

from __future__ import annotations

from taskview.results.files import TASK_PREFIX
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import Links, TaskRecord
from taskview.store import Store
from taskview.view.sorting import ordered_ids

_MID_WRITE = Problem(ProblemKind.EMPTY, "empty (being written?)")


def progress(done: float, **fields) -> TaskRecord:
    fields = {"name": "t.import", "worker": "w1", "size": 300, "mtime": 10.0, **fields}
    return TaskRecord("p", TASK_PREFIX, status="PROGRESS", running=(done, 4.0), **fields)


def test_a_rewrite_in_the_same_state_changes_the_row_when_anything_shown_changes():
    store = Store()
    store.add(progress(1.0))
    assert not store.add(progress(1.0, mtime=20.0))  # the same row
    assert store.add(progress(2.0, mtime=30.0))  # progress moved, same size
    assert store.records["p"].progress == (2.0, 4.0)
    assert store.add(progress(2.0, mtime=40.0, worker="w2"))
    assert store.add(progress(2.0, mtime=50.0, worker="w2", name="t.import2"))
    assert store.add(progress(2.0, mtime=60.0, worker="w2", name="t.import2", size=301))
    assert not store.add(progress(2.0, mtime=70.0, worker="w2", name="t.import2", size=301))
    assert store.history("p") == [(10.0, "PROGRESS")]  # none of them a new state
    # Its next state: the history says since when it was in the last one (its change, not its last write).
    store.add(TaskRecord("p", TASK_PREFIX, status="SUCCESS", mtime=80.0, date_done=80.0))
    assert store.history("p") == [(10.0, "PROGRESS"), (80.0, "SUCCESS")]


def sent(task_id: str, links: Links) -> TaskRecord:
    record = TaskRecord(task_id, TASK_PREFIX, status="STARTED", name="t.add", args="(1, 2)", mtime=10.0)
    record.links = links
    return record


def revoked(task_id: str, links: Links | None = None) -> TaskRecord:
    """A REVOKED file as a worker without result_extended writes it: no name, args or links."""
    record = TaskRecord(task_id, TASK_PREFIX, status="REVOKED", mtime=20.0, date_done=20.0)
    record.links = links
    return record


def test_a_file_without_result_extended_keeps_the_links_the_task_was_known_by():
    store = Store()
    store.add(sent("a", Links(TASK_PREFIX, parent_id="parent-1")))
    store.add(revoked("a"))
    a = store.records["a"]
    assert (a.name, a.args, a.group_id, a.parent_id, a.root_id) == ("t.add", "(1, 2)", None, "parent-1", None)
    assert a.prefix == TASK_PREFIX
    # Its own exception line is kept, with the ids it lacks.
    store.add(sent("b", Links(TASK_PREFIX, group_id="g-1", parent_id="parent-1", root_id="root-1")))
    store.add(revoked("b", Links(TASK_PREFIX, exc="TaskRevokedError: revoked")))
    b = store.records["b"]
    assert (b.exc, b.group_id, b.parent_id, b.root_id) == ("TaskRevokedError: revoked", "g-1", "parent-1", "root-1")
    # A file that names any link of its own keeps its own.
    store.add(sent("c", Links(TASK_PREFIX, group_id="g-1", parent_id="parent-1")))
    store.add(revoked("c", Links(TASK_PREFIX, group_id="g-2")))
    c = store.records["c"]
    assert (c.group_id, c.parent_id) == ("g-2", None)
    store.add(sent("d", Links(TASK_PREFIX, group_id="g-1")))
    store.add(revoked("d", Links(TASK_PREFIX, parent_id="parent-2")))
    d = store.records["d"]
    assert (d.group_id, d.parent_id) == (None, "parent-2")


def test_a_file_without_result_extended_keeps_the_children_the_task_was_known_with():
    store = Store()
    store.add(sent("a", Links(TASK_PREFIX, group_id="g-1", children=("child-1", "child-2"))))
    store.add(revoked("a"))
    assert (store.records["a"].group_id, store.records["a"].links.children) == ("g-1", ("child-1", "child-2"))
    # A file naming children of its own, but no link, keeps its own children and takes the links.
    store.add(sent("b", Links(TASK_PREFIX, parent_id="parent-1", children=("child-1",))))
    store.add(revoked("b", Links(TASK_PREFIX, exc="TaskRevokedError: revoked", children=("child-3",))))
    b = store.records["b"]
    assert (b.exc, b.parent_id, b.links.children) == ("TaskRevokedError: revoked", "parent-1", ("child-3",))


def test_a_task_running_when_first_seen_live_starts_then_and_not_when_read_by_a_scan():
    store = Store()
    store.add(TaskRecord("live", TASK_PREFIX, status="PROGRESS", mtime=50.0), live=True)
    store.add_many([TaskRecord("many", TASK_PREFIX, status="PROGRESS", mtime=60.0)], live=True)
    store.add_many([TaskRecord("scan", TASK_PREFIX, status="PROGRESS", mtime=70.0)])
    assert [store.records[t].started for t in ("live", "many", "scan")] == [50.0, 60.0, None]
    # A task taskview sent (its PENDING row) starts at its first running write, whatever the state.
    store.add_pending("sent", "t.x", 5.0)
    store.add(TaskRecord("sent", TASK_PREFIX, status="PROGRESS", mtime=12.0))
    assert store.records["sent"].started == 12.0


def test_a_task_that_goes_and_comes_back_is_a_new_sight():
    store = Store()
    assert not store.remove("never-seen")
    # First read mid-write, then its file is deleted and written again whole.
    store.add(TaskRecord("m", TASK_PREFIX, error=_MID_WRITE, mtime=1.0))
    assert store.remove("m")
    store.add(TaskRecord("m", TASK_PREFIX, status="SUCCESS", mtime=2.0))
    assert store.known_status("m") == "SUCCESS"
    # A worker named by an earlier file is not carried over to the task's next life.
    store.add(TaskRecord("w", TASK_PREFIX, status="STARTED", worker="w1", mtime=1.0))
    store.add(TaskRecord("w", TASK_PREFIX, status="CUSTOM", mtime=2.0))
    assert store.worker_of("w") == "w1"
    store.remove("w")
    store.add(TaskRecord("w", TASK_PREFIX, status="CUSTOM", mtime=3.0))
    assert store.worker_of("w") is None
    # Nor to a task once it is finished: no worker runs it.
    store.add(TaskRecord("v", TASK_PREFIX, status="STARTED", worker="w1", mtime=1.0))
    store.add(TaskRecord("v", TASK_PREFIX, status="CUSTOM", mtime=2.0))
    store.add(TaskRecord("v", TASK_PREFIX, status="REVOKED", mtime=3.0))
    assert store.worker_of("v") is None


def test_tasks_that_come_and_go_outside_a_first_scan_are_put_in_its_order():
    store = Store()
    store.add_scanned([TaskRecord("a", TASK_PREFIX, status="SUCCESS", mtime=10.0, last_change=10.0)])
    store.adopt_order([store.records["a"]])
    store.add(TaskRecord("c", TASK_PREFIX, status="STARTED", mtime=30.0), live=True)
    store.remove("c")
    store.add(TaskRecord("d", TASK_PREFIX, status="STARTED", mtime=20.0), live=True)
    assert ordered_ids(store) == ["d", "a"]


def test_every_change_to_the_unfinished_tasks_moves_the_unfinished_version():
    """The stale check makes its candidates again only when this moved since it last looked."""
    store = Store()
    steps = [
        lambda: store.add(TaskRecord("a", TASK_PREFIX, status="STARTED", worker="w1", mtime=1.0)),
        lambda: store.add(TaskRecord("a", TASK_PREFIX, status="SUCCESS", mtime=1.5, date_done=1.5)),
        lambda: store.add(TaskRecord("a", TASK_PREFIX, status="STARTED", worker="w1", mtime=1.8)),
        lambda: store.add(TaskRecord("b", TASK_PREFIX, status="STARTED", worker="w1", mtime=2.0)),
        lambda: store.add(TaskRecord("a", TASK_PREFIX, status="PROGRESS", worker="w1", mtime=3.0)),
        lambda: store.add(TaskRecord("a", TASK_PREFIX, status="SUCCESS", mtime=4.0, date_done=4.0)),
        lambda: store.add_scanned([TaskRecord("c", TASK_PREFIX, status="PROGRESS", mtime=5.0, last_change=5.0)]),
        lambda: store.remove("b"),
        lambda: store.remove("c"),
    ]
    for step in steps:
        before = store.unfinished_version
        step()
        assert store.unfinished_version != before
    assert store.unfinished == set()
    # A scan's batch right after the first task started.
    other = Store()
    other.add(TaskRecord("s", TASK_PREFIX, status="STARTED", mtime=1.0))
    before = other.unfinished_version
    other.add_scanned([TaskRecord("t", TASK_PREFIX, status="RETRY", mtime=2.0, last_change=2.0)])
    assert other.unfinished_version != before
    before = store.unfinished_version
    store.add(TaskRecord("d", TASK_PREFIX, status="SUCCESS", mtime=6.0, date_done=6.0))  # never unfinished
    store.remove("a")  # finished already
    assert store.unfinished_version == before
