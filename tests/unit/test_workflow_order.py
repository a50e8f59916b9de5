"""The workflows view kept up to date: after a few tasks changed, only their workflows move, and the rows
are those a build from scratch makes of the same table rows."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from taskview.query import compile_query
from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.record import Links, TaskRecord
from taskview.store import Store, first_sight
from taskview.view.table_model import TableModel
from taskview.view.workflow_tree import WorkflowTree

pytestmark = pytest.mark.unit

STATUSES = ["SUCCESS", "FAILURE", "STARTED", "RETRY", "PROGRESS"]
SORTS = [("last_change", True), ("status", False), ("name", True), ("id", False), ("size", True)]
QUERIES = [None, "status:SUCCESS", "name:n1", "-status:FAILURE"]


def task(task_id: str, *, parent: str | None = None, group: str | None = None, status="SUCCESS", name="n0"):
    links = Links(TASK_PREFIX, None, group, parent, None, ())
    return TaskRecord(task_id, links if (parent or group) else TASK_PREFIX, status=status, name=name)


class View:
    """A store, the table model over it and the workflows view, fed as the inspector feeds them."""

    def __init__(self, sort: tuple[str, bool], query: str | None) -> None:
        self.store = Store()
        self.model = TableModel(self.store)
        self.model.sort(*sort)
        self.predicate = compile_query(query) if query else None
        self.model.set_filter(self.predicate)
        self.model.step_filter(60.0)
        self.tree = WorkflowTree(self.store)
        self.moved = 0  # builds that moved workflows rather than made the order anew

    def show(self) -> None:
        model = self.model
        model.refresh()
        before = self.tree._order
        self.tree.build(
            model.rows,
            model.predicate is not None,
            changed=model.take_row_changes(),
            sort=(model.sort_key, model.reverse),
            predicate=model.predicate,
        )
        self.moved += self.tree._order is before

    def scratch(self) -> list[str]:
        """The roots in order, as a new view makes them of the same rows."""
        fresh = WorkflowTree(self.store)
        fresh.expanded = set(self.tree.expanded)
        fresh.build(list(self.model.rows), self.model.predicate is not None)
        assert [(r.depth, r.record.task_id) for r in fresh.rows] == [
            (r.depth, r.record.task_id) for r in self.tree.rows
        ]
        assert [_shown(r) for r in fresh.records] == [_shown(r) for r in self.tree.records]
        return fresh._order


def _shown(record: TaskRecord) -> tuple[str, str | None, str]:
    """What a closed workflow's row says of its root."""
    return record.task_id, record.status, record.kind


#: One change: (task number, parent's number or None, group or None, status, name, what): "add" the task
#: (again: a new record of it), "remove" it, "file"/"unfile" the group numbered ``number % 3``, or the
#: user's: a new "sort" (``SORTS[number % 5]``), a new "filter" (``QUERIES[number % 4]``), "open" the
#: workflow of the task (or close it, when open).
_changes = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.one_of(st.none(), st.integers(0, 11)),
        st.one_of(st.none(), st.sampled_from(["g0", "g1", "g2"])),
        st.sampled_from(STATUSES),
        st.sampled_from(["n0", "n1", "n2"]),
        st.sampled_from(["add", "add", "add", "add", "remove", "file", "unfile", "sort", "filter", "open"]),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@example(  # a chain's first link comes last: the second link's workflow is gone into the first's
    changes=[(1, 0, None, "SUCCESS", "n0", "add"), (0, None, None, "SUCCESS", "n0", "add")],
    sort=("last_change", True),
    query=None,
    cycles=False,
    per_show=1,
)
@example(  # a workflow's first task sorts later now: one of its others, not changed, comes first
    changes=[
        (0, None, None, "FAILURE", "n0", "add"),
        (1, 0, None, "STARTED", "n0", "add"),
        (2, 0, None, "SUCCESS", "n0", "add"),
        (5, None, None, "RETRY", "n0", "add"),
        (6, None, None, "STARTED", "n0", "add"),
        (0, None, None, "SUCCESS", "n0", "add"),
    ],
    sort=("status", False),
    query=None,
    cycles=False,
    per_show=1,
)
@example(  # a workflow's root's file goes, its first task another: the root's row says PENDING now
    changes=[
        (0, None, None, "SUCCESS", "n0", "add"),
        (5, 0, None, "FAILURE", "n0", "add"),
        (0, None, None, "SUCCESS", "n0", "remove"),
    ],
    sort=("status", False),
    query=None,
    cycles=False,
    per_show=1,
)
@given(
    changes=_changes,
    sort=st.sampled_from(SORTS),
    query=st.sampled_from(QUERIES),
    cycles=st.booleans(),
    per_show=st.integers(1, 4),
)
def test_workflows_moved_where_tasks_changed_are_in_the_order_a_new_build_makes(changes, sort, query, cycles, per_show):
    view = View(sort, query)
    store, model = view.store, view.model
    view.show()
    for step, (number, parent, group, status, name, what) in enumerate(changes):
        task_id = f"t{number:02}"
        if what == "open":  # as the user does on its row, or before the rows show it
            root, tree = store.workflows.root_of(task_id), view.tree
            at = tree.position(root)
            if at is None or tree.rows[at].depth or not tree.rows[at].expandable:
                tree.expanded ^= {root}
            elif tree.rows[at].expanded:
                tree.collapse(at)
            else:
                tree.expand(at)
        elif what == "sort":
            model.sort(*SORTS[number % 5])
        elif what == "filter":
            query = QUERIES[number % 4]
            model.set_filter(compile_query(query) if query else None)
            model.step_filter(60.0)
        elif what == "remove":
            store.remove(task_id)
            model.touch([task_id])
        elif what in ("file", "unfile"):
            group_id = f"g{number % 3}"
            if what == "file":
                store.add(TaskRecord(group_id, GROUP_PREFIX))
            else:
                store.remove(group_id)
            model.touch([group_id])
        else:
            if parent is not None and parent >= number and not cycles:
                parent = None  # ways up to lower numbers only: no cycle
            up = None if parent is None else f"t{parent:02}"
            store.add(task(task_id, parent=up, group=group, status=status, name=name))
            model.touch([task_id])
        if step % per_show == 0:
            view.show()
            assert view.tree._order == view.scratch()
    view.show()
    assert view.tree._order == view.scratch()


def test_a_task_changing_in_a_big_directory_moves_its_workflow_alone():
    """The common case, a chain's next link or a task finishing, takes no new order of every workflow."""
    view = View(("last_change", True), None)
    for number in range(200):
        view.store.add(task(f"w{number:03}"))
        view.store.add(task(f"c{number:03}", parent=f"w{number:03}", status="STARTED"))
        view.model.touch([f"w{number:03}", f"c{number:03}"])
    view.show()
    assert view.moved == 0
    # The last change first: c050 finishes (its row is newest), then a new workflow comes.
    finished = task("c050", parent="w050")
    finished.mtime = 1e12
    view.store.add(finished)
    view.model.touch(["c050"])
    view.show()
    lone = task("lone")
    lone.mtime = 2e12
    view.store.add(lone)
    view.model.touch(["lone"])
    view.show()
    # A workflow's first task's file written again, the same status: its row's place does not change.
    again = task("c050", parent="w050")
    again.mtime, again.size = 1e12, 999
    view.store.add(again)
    view.model.touch(["c050"])
    view.show()
    assert view.moved == 3
    assert view.tree._order[:2] == ["lone", "w050"]
    assert view.tree._order == view.scratch()
    # A removal moves a workflow's first task away with nothing to take its place: a new order.
    view.store.remove("c050")
    view.model.touch(["c050"])
    view.show()
    assert view.moved == 3 and view.tree._order == view.scratch()


def _shows_as_new(store: Store, model: TableModel, tree: WorkflowTree, *touched: str) -> None:
    model.touch(touched)
    model.refresh()
    tree.build(model.rows, False, changed=model.take_row_changes(), sort=(model.sort_key, model.reverse))
    fresh = WorkflowTree(store)
    fresh.build(list(model.rows), False)
    assert tree._order == fresh._order


def test_a_first_scans_task_not_yet_a_row_does_not_place_its_workflow():
    """A scan's records come into the rows with its next order (they are not touched before): a task
    whose root changes meanwhile is no row to place its workflow by."""
    store = Store()
    model, tree = TableModel(store), WorkflowTree(store)
    _shows_as_new(store, model, tree)
    body = TaskRecord("a-child", Links(TASK_PREFIX, None, "g", "z-parent", None, ()), status="SUCCESS", mtime=5.0)
    first_sight([body])
    store.add_scanned([body])
    store.add_pending("b-sent", "x", 4.0)
    _shows_as_new(store, model, tree, "b-sent")
    store.add_many([TaskRecord("z-parent", TASK_PREFIX, status="SUCCESS", mtime=3.0)], live=True)
    _shows_as_new(store, model, tree, "z-parent")  # a-child's root changed: it is still no row


def test_two_changes_in_a_chain_longer_than_a_walk_goes_leave_one_workflow():
    """Worked out one by one, the lower link's walk up stopped at the cut (MAX_DEPTH) on a node with a root
    of its own: two roots for one chain, and the view, moving workflows, lost a thousand rows."""

    def link(number: int) -> TaskRecord:
        head = Links(TASK_PREFIX, None, None, f"c{number - 1:04}", None, ()) if number else TASK_PREFIX
        return TaskRecord(f"c{number:04}", head, status="SUCCESS", mtime=1.0)

    store = Store()
    model, tree = TableModel(store), WorkflowTree(store)
    model.sort("id", True)
    plain = [TaskRecord(f"f{n:05}", TASK_PREFIX, status="SUCCESS", mtime=1.0) for n in range(9000)]
    store.add_many(plain + [link(n) for n in range(1100)])  # past 8,000 tasks: worked out one by one
    model.resort()
    _shows_as_new(store, model, tree)
    store.remove("c0001")
    store.add(link(1100))
    _shows_as_new(store, model, tree, "c0001", "c1100")
    memo = store.workflows.known_roots()
    assert all(memo.get(root, root) == root for root in memo.values())  # every root is its own
    store.remove("c1100")
    _shows_as_new(store, model, tree, "c1100")
    assert len(tree.rows) == 9000 + 2  # the plain tasks, c0000 alone, the links below c0001 (no file) in one
