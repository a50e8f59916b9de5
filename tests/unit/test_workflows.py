"""The workflow index and the workflows view model, over real worker files (sample_workflows) and
records made to arrive in the worst orders (a child before its parent, a file gone, a cycle)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from taskview.headless import workflow_json, workflow_store, workflow_text
from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.record import Links, TaskRecord
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.view.sorting import ordered
from taskview.view.workflow_tree import WorkflowTree
from taskview.workflows import BODY, GROUP, MISSING

pytestmark = pytest.mark.unit

FLOWS = Path(__file__).resolve().parents[2] / "sample_workflows"


def metas() -> dict[str, dict]:
    """task id -> meta of every task file in sample_workflows (what the worker wrote)."""
    found = {}
    for path in FLOWS.iterdir():
        if path.name.startswith(TASK_PREFIX):
            found[path.name.removeprefix(TASK_PREFIX)] = json.loads(path.read_bytes())
    return found


def by_name(name: str) -> str:
    [task_id] = [i for i, m in metas().items() if m["name"] == f"sampletasks.{name}"]
    return task_id


def tree_of(store: Store, task_id: str) -> list[tuple[int, str, str, str]]:
    index = store.workflows
    return [(depth, node.node_id, node.kind, node.role) for node, depth in index.walk(index.root_of(task_id))]


def test_every_shape_real_workers_wrote():
    store = workflow_store(ResultDirectory(str(FLOWS)))
    m = metas()
    # A chain: each link under the one before it.
    [first] = [i for i, x in m.items() if x["name"] == "sampletasks.add" and x["args"] == [1, 2]]
    second = m[first]["children"][0][0][0]
    third = m[second]["children"][0][0][0]
    assert tree_of(store, third) == [(0, first, "task", ""), (1, second, "task", ""), (2, third, "task", "")]
    # A chord: the header's group (no file: its members name it), its members, the body last.
    body = by_name("tsum")
    gid = m[body]["group_id"]
    members = sorted(i for i, x in m.items() if x.get("group_id") == gid and i != body)
    assert tree_of(store, members[0]) == [(0, gid, GROUP, "")] + [(1, i, "task", "") for i in members] + [
        (1, body, "task", BODY)
    ]
    # A group started from a task: the task, its group, the members, in the order the task names them.
    spawner = by_name("spawn_group")
    (group_id, _), named = m[spawner]["children"][0]
    assert tree_of(store, spawner) == [(0, spawner, "task", ""), (1, group_id, GROUP, "")] + [
        (2, member[0][0], "task", "") for member in named
    ]
    # A saved group: its file's members, in its order.
    [saved] = [p.name.removeprefix(GROUP_PREFIX) for p in FLOWS.iterdir() if p.name.startswith(GROUP_PREFIX)]
    saved_members = [item[0][0] for item in json.loads((FLOWS / (GROUP_PREFIX + saved)).read_bytes())["result"][1]]
    assert tree_of(store, saved_members[-1]) == [(0, saved, GROUP, "")] + [(1, i, "task", "") for i in saved_members]
    # A retried task lists itself as its child and parent: a workflow of one.
    retried = by_name("retry_twice")
    assert m[retried]["parent_id"] == retried
    assert tree_of(store, retried) == [(0, retried, "task", "")]
    # A chain failing midway: its root says so.
    failed = by_name("fail_builtin")
    root = store.workflows.root_of(failed)
    summary = store.workflows.summary(root)
    assert (summary.tasks, summary.done, summary.by_status["FAILURE"], summary.state) == (2, 2, 1, "FAILURE")
    assert summary.text() == "2/2 done · 1 FAILURE"


def test_the_same_trees_whatever_order_the_files_come_in_and_as_they_go():
    whole = workflow_store(ResultDirectory(str(FLOWS)))
    records = list(whole.records.values())
    trees = {task_id: tree_of(whole, task_id) for task_id in whole.records}
    for seed in range(5):
        random.Random(seed).shuffle(records)
        store = Store()
        for record in records:
            store.add(record)
        assert {task_id: tree_of(store, task_id) for task_id in store.records} == trees
    # Files going (result_expires): a chain's middle link gone, it is PENDING in the first link's tree, and the
    # last still hangs under it (the way up from the last ends there: only the gone file named its parent).
    m = metas()
    [first] = [i for i, x in m.items() if x["name"] == "sampletasks.add" and x["args"] == [1, 2]]
    second = m[first]["children"][0][0][0]
    third = m[second]["children"][0][0][0]
    assert whole.remove(second)
    assert tree_of(whole, first) == [(0, first, "task", ""), (1, second, MISSING, ""), (2, third, "task", "")]
    assert tree_of(whole, third) == [(0, second, MISSING, ""), (1, third, "task", "")]
    assert whole.remove(first)
    assert tree_of(whole, third) == [(0, second, MISSING, ""), (1, third, "task", "")]


def task(task_id: str, *, parent: str | None = None, group: str | None = None, children=(), status="SUCCESS"):
    links = Links(TASK_PREFIX, None, group, parent, None, tuple(children))
    return TaskRecord(task_id, links if (parent or group or children) else TASK_PREFIX, status=status)


#: One change to a store: (task number, its parent's number or None, its group or None, what): "add" or
#: "remove" the task, or "file"/"unfile" the group numbered ``number % 3`` (a saved group's file).
_changes = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.one_of(st.none(), st.integers(0, 11)),
        st.one_of(st.none(), st.sampled_from(["g0", "g1", "g2"])),
        st.sampled_from(["add", "add", "add", "remove", "file", "unfile"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@example(  # a group's way up goes through its members' parent: that parent's new parent is the group's root
    before=[(1, None, None, "add"), (5, None, None, "add"), (6, None, "g0", "add")],
    after=[(7, None, "g0", "add"), (5, 1, None, "add")],
    group_parents=(5, None, None),
)
@example(  # a saved group's file, its members started by a task: the group is in that task's workflow
    before=[],
    after=[(5, None, None, "add"), (6, None, "g0", "add"), (0, None, None, "file")],
    group_parents=(5, None, None),
)
@example(  # a group's last member gone: the group has no way up any more
    before=[(5, None, None, "add"), (6, None, "g0", "add")],
    after=[(7, None, "g0", "add"), (6, None, None, "remove"), (7, None, None, "remove")],
    group_parents=(5, None, None),
)
@given(before=_changes, after=_changes, group_parents=st.tuples(*[st.one_of(st.none(), st.integers(0, 11))] * 3))
def test_roots_worked_out_where_links_changed_are_those_worked_out_from_scratch(before, after, group_parents):
    """Files coming, changing their links and going after the roots were known: the roots kept up
    to date where links changed are the roots of every node worked out again."""
    store, scratch = Store(), Store()  # the roots kept up to date, and worked out again at each check
    index = store.workflows

    def change(number: int, parent: int | None, group: str | None, what: str) -> None:
        task_id = f"t{number:02}"
        if what in ("remove", "unfile"):
            gone = task_id if what == "remove" else f"g{number % 3}"
            store.remove(gone)
            scratch.remove(gone)
            return
        if what == "file":
            saved = TaskRecord(f"g{number % 3}", GROUP_PREFIX)
            store.add(saved)
            scratch.add(saved)
            return
        if group is not None:  # a group's members share their parent (a chord's header, a task's group)
            parent = group_parents[int(group[1])]
        if parent is not None and parent >= number:
            # Ways up go to lower numbers: a cycle ends where it closes, at a node the walk's start
            # decides, which neither way of working roots out promises.
            parent = group = None
        record = task(task_id, parent=None if parent is None else f"t{parent:02}", group=group)
        store.add(record)
        scratch.add(record)

    for each in before:
        change(*each)
    index.known_roots()
    for each in after:
        change(*each)
        kept = index.known_roots()
        scratch.workflows.forget_roots()
        fresh = scratch.workflows.known_roots()
        tasks = list(store.records)  # what the view looks up (a task no root names is its own)
        assert [kept.get(n, n) for n in tasks] == [fresh.get(n, n) for n in tasks]
        named = {up for r in store.records.values() if r.links for up in (r.links.parent_id, r.links.group_id)}
        assert set(kept) <= set(tasks) | named  # nothing kept of files gone that nothing names
        nodes = sorted(set(kept) | set(fresh) | set(tasks) | {"g0", "g1", "g2"})  # and any node asked for
        assert [index.root_of(n, dict(kept)) for n in nodes] == [index.root_of(n, dict(fresh)) for n in nodes]


@pytest.mark.parametrize("plain_tasks", [0, 12_000])
def test_roots_worked_out_again_after_a_change_are_those_worked_out_from_scratch(plain_tasks: int):
    """A group whose members came from two parents, and a chain longer than a walk up goes (only past
    8 x 1000 records is it worked out again rather than all at once)."""
    store, scratch = Store(), Store()

    def add(record: TaskRecord) -> None:
        store.add(record)
        scratch.add(record)

    for number in range(plain_tasks):
        add(task(f"plain{number}"))
    store.workflows.known_roots()
    for record in (
        task("p1"),
        task("p2"),
        task("m1", parent="p1", group="g"),
        task("m2", parent="p2", group="g"),
        task("body", parent="unlock", group="g"),  # a chord's body: its parent wrote no file
        *(task(f"c{link:04}", parent=f"c{link - 1:04}") for link in range(1, 1300)),
    ):
        add(record)
        store.workflows.known_roots()
    add(task("c0000", parent="top"))  # the chain's first link, last: 1,300 links' roots change
    kept = store.workflows.known_roots()
    scratch.workflows.forget_roots()
    fresh = scratch.workflows.known_roots()
    assert {n: kept.get(n, n) for n in store.records} == {n: fresh.get(n, n) for n in store.records}
    assert kept["c1299"] == "top" and kept["body"] == kept["g"] == "p1"


def test_links_changed_while_the_view_is_closed_cost_no_memory_past_a_bound():
    store = Store()
    store.workflows.known_roots()  # the workflows view shown once
    for number in range(10_000):  # files in groups coming and going, the view closed
        store.add(task(f"m{number}", group=f"g{number}"))
        store.remove(f"m{number}")
    assert len(store.workflows._dirty) <= 1000
    store.add(task("child", parent="parent"))
    assert store.workflows.root_of("child") == "parent"


def test_children_named_without_files_are_pending_and_a_child_before_its_parent_hangs_under_it():
    store = Store()
    store.add(task("c2", parent="p"))  # the parent's file not there yet
    assert tree_of(store, "c2") == [(0, "p", MISSING, ""), (1, "c2", "task", "")]
    store.add(task("p", children=["c1", "c2", ("g", ("m1", "m2"))], status="STARTED"))
    assert tree_of(store, "c2") == [
        (0, "p", "task", ""),
        (1, "c1", MISSING, ""),
        (1, "c2", "task", ""),
        (1, "g", GROUP, ""),
        (2, "m1", MISSING, ""),
        (2, "m2", MISSING, ""),
    ]
    summary = store.workflows.summary("p")
    assert summary.text() == "1/5 done · 1 running · 3 PENDING" and summary.state == "STARTED"
    # What revoking the workflow sends: every task not finished, those without a file too (not the group).
    assert store.workflows.unfinished("p") == (["p", "c1", "m1", "m2"], 5)
    assert store.workflows.is_workflow_root("p") and not store.workflows.is_workflow_root("c2")


def test_cycles_and_self_links_end():
    store = Store()
    store.add(task("a", parent="b"))
    store.add(task("b", parent="a", children=["a", "b"]))
    assert {node.node_id for node, _ in store.workflows.walk("a")} == {"a", "b"}
    assert store.workflows.root_of("a") in {"a", "b"} and store.workflows.root_of("b") in {"a", "b"}
    tree = WorkflowTree(store)
    tree.build(ordered(store), False)
    assert len(tree.rows) == 1
    tree.expand(0)
    assert sorted(row.record.task_id for row in tree.rows) == ["a", "b"]


def test_the_view_orders_workflows_by_their_best_member_and_a_filter_keeps_ancestors():
    store = Store()
    for record in (
        task("root"),
        task("mid", parent="root"),
        task("leaf", parent="mid", status="FAILURE"),
        task("other", parent="root"),
        task("alone"),
    ):
        store.add(record)
    tree = WorkflowTree(store)
    by_id = sorted(store.records.values(), key=lambda r: r.task_id)  # alone, leaf, mid, other, root
    assert [r.task_id for r in tree.build(by_id, False)] == ["alone", "root"]
    assert tree.rows[1].expandable and not tree.rows[0].expandable
    assert tree.expand(1)
    assert [(r.guide + r.marker, r.record.task_id) for r in tree.rows] == [
        ("", "alone"),
        ("▾ ", "root"),
        ("├─ ▾ ", "mid"),
        ("│  └─ ", "leaf"),
        ("└─ ", "other"),
    ]
    assert tree.summary("root").state == "FAILURE"
    assert tree.collapse(2) == 2 and [r.record.task_id for r in tree.rows] == ["alone", "root", "mid", "other"]
    assert tree.collapse(3) == 1  # not open: up to its parent
    # A filter that keeps only the failed leaf: its workflow, and the way to it.
    tree.build([store.records["leaf"]], True)
    tree.expand(0)
    tree.folded.clear()
    tree.reveal("leaf")
    assert [r.record.task_id for r in tree.rows] == ["root", "mid", "leaf"]
    assert tree.position("leaf") == 2


def test_workflows_opened_keep_their_place_when_the_rows_are_built_again():
    store = Store()
    for number in range(5):  # five chains of two: w0 > c0, ..., w4 > c4
        store.add(task(f"w{number}"))
        store.add(task(f"c{number}", parent=f"w{number}"))
    store.add(task("pending-child", parent="gone"))  # a workflow whose root has no file
    tree = WorkflowTree(store)
    by_id = sorted(store.records.values(), key=lambda r: r.task_id)
    assert [r.task_id for r in tree.build(by_id, False)] == ["w0", "w1", "w2", "w3", "w4", "gone"]
    assert tree.rows[5].kind == MISSING and tree.rows[5].record.status == "PENDING"
    tree.expand(3)
    tree.expand(1)
    tree.expand(7)  # "gone": after the two opened before it
    built = [(r.depth, r.record.task_id) for r in tree.rows]
    assert built == [
        (0, "w0"),
        (0, "w1"),
        (1, "c1"),
        (0, "w2"),
        (0, "w3"),
        (1, "c3"),
        (0, "w4"),
        (0, "gone"),
        (1, "pending-child"),
    ]
    tree.build(by_id, False)
    assert [(r.depth, r.record.task_id) for r in tree.rows] == built
    assert [r.task_id for r in tree.records] == [task_id for _, task_id in built]
    assert tree.position("c3") == 5 and tree.rows[4].expanded and not tree.rows[3].expanded


def test_a_filter_keeps_the_way_to_its_matches_in_workflows_opened_before_and_after_a_build():
    store = Store()
    for number in range(3):  # three chains of three: w0 > m0 > c0, ...
        store.add(task(f"w{number}"))
        store.add(task(f"m{number}", parent=f"w{number}"))
        store.add(task(f"c{number}", parent=f"m{number}", status="FAILURE"))
    tree = WorkflowTree(store)
    failed = sorted((r for r in store.records.values() if r.status == "FAILURE"), key=lambda r: r.task_id)
    tree.expanded.add("w1")  # opened before the filter
    tree.build(failed, True)
    assert [(r.depth, r.record.task_id) for r in tree.rows] == [(0, "w0"), (0, "w1"), (1, "m1"), (2, "c1"), (0, "w2")]
    assert tree.expand(4)  # opened after it
    assert [r.record.task_id for r in tree.rows][4:] == ["w2", "m2", "c2"]
    assert tree.position("c2") == 6 and tree.position("m0") is None


def test_a_filter_keeps_the_way_to_a_match_under_a_child_with_no_file_and_after_links_changed():
    store = Store()
    store.add(task("first", children=["second"], status="FAILURE"))
    store.add(task("second", parent="first", children=["third"]))
    store.add(task("third", parent="second", status="FAILURE"))
    store.remove("second")  # result_expires: the middle link's file gone, its name still in first's
    tree = WorkflowTree(store)
    tree.build([store.records["first"], store.records["third"]], True)
    tree.expand(0)
    assert [(r.depth, r.record.task_id) for r in tree.rows] == [
        (0, "first"),
        (1, "second"),
        (2, "third"),
        (0, "second"),
    ]
    # A workflow opened after its links changed shows the way to the match as it is now.
    store = Store()
    store.add(task("b", parent="p"))
    store.add(task("c", parent="b", status="FAILURE"))
    tree = WorkflowTree(store)
    tree.build([store.records["c"]], True)
    store.add(task("p", parent="q"))
    tree.expand(0)
    assert [(r.depth, r.record.task_id) for r in tree.rows] == [(0, "p"), (1, "b"), (2, "c")]


def test_a_task_shown_in_two_workflows_is_found_in_its_own():
    store = Store()
    store.add(task("first", children=["second"]))
    store.add(task("second", parent="first", children=["third"]))
    store.add(task("third", parent="second"))
    store.remove("second")  # third's workflow is second's now; first's tree still names second, then third
    tree = WorkflowTree(store)
    tree.build(sorted(store.records.values(), key=lambda r: r.task_id), False)
    assert tree.reveal("third") and tree.expand(0)
    assert [(r.depth, r.record.task_id) for r in tree.rows] == [
        (0, "first"),
        (1, "second"),
        (2, "third"),
        (0, "second"),
        (1, "third"),
    ]
    assert tree.position("third") == 4 and tree.position("first") == 0


def test_headless_tree_text_and_json():
    store = workflow_store(ResultDirectory(str(FLOWS)))
    spawner = by_name("spawn_group")
    text = workflow_text(store, spawner).splitlines()
    assert text[0].startswith("SUCCESS sampletasks.spawn_group ") and text[0].endswith("◀")
    assert text[1].startswith("└─ group ") and text[2].startswith("   ├─ SUCCESS sampletasks.add ")
    assert text[-1] == "3/3 done"
    doc = workflow_json(store, spawner)
    assert doc["root_id"] == spawner and doc["summary"]["tasks"] == 3
    assert [c["kind"] for c in doc["tree"]["children"]] == ["group"]
    assert len(doc["tree"]["children"][0]["children"]) == 2


def test_dump_root_id_is_the_files_own_or_the_first_of_its_workflow(tmp_path: Path, monkeypatch):
    import csv
    import io
    import shutil

    from taskview import headless
    from taskview.headless import write_csv, write_jsonl
    from taskview.results import parallel

    monkeypatch.setattr(parallel, "MIN_FILES_TO_SPLIT", 4)  # the sample workflows' files in shares
    monkeypatch.setattr(parallel, "MIN_SHARE", 3)
    assert len(headless._shares(ResultDirectory(str(FLOWS)), 2)) > 2

    store = workflow_store(ResultDirectory(str(FLOWS)))
    index = store.workflows
    expected = {task_id: index.root_of(task_id) for task_id in store.records}
    assert len(set(expected.values())) == 8
    for jobs in (1, 2):  # 2: a forked process writes some shares and notes their links for this one
        out = io.BytesIO()
        write_jsonl(ResultDirectory(str(FLOWS)), out, jobs)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        assert {row["task_id"]: row["root_id"] for row in rows} == expected, jobs
        text = io.StringIO()
        write_csv(ResultDirectory(str(FLOWS)), text, jobs)
        dumped = {row["task_id"]: row["root_id"] for row in csv.DictReader(io.StringIO(text.getvalue()))}
        assert dumped == expected, jobs
    # To a file (the command line's way): the patched shares go straight to its descriptor (writev).
    for jobs in (1, 2):
        with open(tmp_path / "dump.jsonl", "wb") as binary:
            write_jsonl(ResultDirectory(str(FLOWS)), binary, jobs)
        rows = [json.loads(line) for line in (tmp_path / "dump.jsonl").read_bytes().splitlines()]
        assert {row["task_id"]: row["root_id"] for row in rows} == expected, jobs
        with open(tmp_path / "dump.csv", "w", newline="") as text_file:
            write_csv(ResultDirectory(str(FLOWS)), text_file, jobs)
        with open(tmp_path / "dump.csv", newline="") as text_file:
            dumped = {row["task_id"]: row["root_id"] for row in csv.DictReader(text_file)}
        assert dumped == expected, jobs
    # A file naming its own root keeps it; one whose content looks like a mark is left as it is.
    copy = tmp_path / "flows"
    shutil.copytree(FLOWS, copy)
    chained = by_name("tsum")
    path = copy / (TASK_PREFIX + chained)
    meta = json.loads(path.read_bytes())
    meta["root_id"], meta["result"] = "r00t", "root-0123456789abcdef0123456789abcdef-0"
    path.write_text(json.dumps(meta))
    out = io.BytesIO()
    write_jsonl(ResultDirectory(str(copy)), out, 1)
    row = next(json.loads(line) for line in out.getvalue().splitlines() if chained in line.decode())
    assert row["root_id"] == "r00t" and row["result"] == "root-0123456789abcdef0123456789abcdef-0"


def test_a_shares_marks_are_replaced_in_pieces_as_patch_replaces_them():
    from taskview.headless import RootMarks

    marks = RootMarks()
    for csv in (False, True):
        quote = "" if csv else '"'
        made = [marks.mark(f"t{n}", "task", "p", None) for n in range(12)]
        rows = "".join(f"{{{quote}{mark}{quote},{n}}}\n" for n, mark in enumerate(made)).encode()
        roots = [f"root,{n % 3}" if csv else f"root{n % 3}" for n in range(12)]
        pieces = marks.pieces(rows, roots, csv)
        assert len(pieces) == 2 * 12 + 1 and b"".join(pieces) == marks.patch(rows, roots, csv)
        assert b"root-" not in b"".join(pieces) and (b'"root,1"' if csv else b'"root1"') in b"".join(pieces)
        # Marks not in the order they were made (cannot happen): each one's own number says its root.
        one, two = (f"{quote}{made[n]}{quote},".encode() for n in (1, 2))
        swapped = rows.replace(one, b"@").replace(two, one).replace(b"@", two)
        patched = marks.patch(swapped, roots, csv)
        assert b"".join(marks.pieces(swapped, roots, csv)) == patched
        lines = patched.splitlines()
        assert lines[1] == (b'{"root,2",1}' if csv else b'{"root2",1}')
        assert lines[2] == (b'{"root,1",2}' if csv else b'{"root1",2}')
        assert lines[3:] == b"".join(pieces).splitlines()[3:]
        marks.taken()


def test_tree_flags_that_do_not_go_together_are_one_line_errors(tmp_path: Path):
    from helpers.cli import run

    for args in (
        [str(FLOWS), "--tree", "nothing-has-this-id"],
        [str(FLOWS), "--tree", by_name("tsum")[:4], "--dump", "jsonl"],
        [str(FLOWS), "--json"],
        [str(tmp_path / "x.tgz"), "--tree", "abc"],
    ):
        (tmp_path / "x.tgz").write_bytes(b"")
        done = run(*args, check=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and not done.stdout, (args, done.stderr)
