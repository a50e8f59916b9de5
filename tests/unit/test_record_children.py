"""The children a meta names (results/record.py: children_of), as AsyncResult.as_tuple() writes them:
``[[id, parent], None]`` a task, ``[[group id, parent], [members]]`` a group; anything else left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskview.results.codec import decode
from taskview.results.files import TASK_PREFIX
from taskview.results.record import (
    Links,
    TaskRecord,
    children_from_json,
    children_of,
    records_from_batch,
    records_to_batch,
    summarize,
)

FLOWS = Path(__file__).resolve().parents[2] / "sample_workflows"


def test_tasks_and_a_group_with_its_members_in_their_order():
    value = [
        [["c1", "p"], None],
        [["g1", "p"], [[["m1", "g1"], None], [["m2", "g1"], None]]],
        [["c2", None], None],
    ]
    assert children_of(value, "p") == ("c1", ("g1", ("m1", "m2")), "c2")


@pytest.mark.parametrize(
    "odd",
    [
        [["c9", "p"], None, None],  # three items, not (head, members)
        [["c9", "p"]],  # one item
        ["c9", None],  # the id without its [id, parent] list
        [[], None],  # an empty head
        [[9, "p"], None],  # an id that is not text
        [["", "p"], None],  # an empty id
        [["p", "p"], None],  # the task itself (a retried task lists itself)
        [["c9", "p"], "members"],  # members that are not a list
        "c9",
        None,
    ],
)
def test_anything_else_among_the_children_is_left_out(odd):
    assert children_of([[["c1", "p"], None], odd, [["c2", "p"], None]], "p") == ("c1", "c2")


def test_a_group_member_naming_the_task_itself_or_oddly_is_left_out_of_the_group():
    members = [[["m1", "g1"], None], [["p", "g1"], None], [[], None], [["m2", "g1"], None, 3]]
    assert children_of([[["g1", "p"], members]], "p") == (("g1", ("m1",)),)


def test_groups_nested_more_than_20_levels_are_cut_at_the_21st():
    # g0 holds g1, which holds g2, ... down to g24, which holds the task "leaf"
    item: list = [["leaf", "g24"], None]
    for level in range(24, -1, -1):
        item = [[f"g{level}", "p"], [item]]
    kept = children_of([item], "p")
    names = []
    while kept:
        ((name, kept),) = kept
        names.append(name)
    # levels 0 to 20 are read (g20 at the 21st, without its members), the deeper ones left out
    assert names == [f"g{level}" for level in range(21)]


def test_a_group_files_groups_nested_more_than_20_levels_are_cut_at_the_21st():
    item: list = [["leaf", "g24"], None]
    for level in range(24, 0, -1):
        item = [[f"g{level}", "g0"], [item]]
    kept = children_of([["g0", None], [item]], "g0", group=True)  # the group file itself is level 0
    names = []
    while kept:
        ((name, kept),) = kept
        names.append(name)
    assert names == [f"g{level}" for level in range(1, 21)]


def test_a_group_files_result_gives_its_members():
    saved_group = [["g1", None], [[["m1", "g1"], None], [["m2", "g1"], None], "junk"]]
    assert children_of(saved_group, "g1", group=True) == ("m1", "m2")
    # its own id heads it and is not left out, whatever it is (mutmut's "XXXX" too)
    assert children_of([["XXXX", None], [[["m1", "XXXX"], None]]], "XXXX", group=True) == ("m1",)
    assert children_of([["g1", None], None], "g1", group=True) == ()  # no members list
    assert children_of("g1", "g1", group=True) == ()


def test_children_come_back_from_json_as_tuples():
    assert children_from_json(["c1", ["g1", ["m1", ["g2", ["m2"]]]], "c2"]) == (
        "c1",
        ("g1", ("m1", ("g2", ("m2",)))),
        "c2",
    )
    assert children_from_json([]) == () and children_from_json(None) == ()


def test_children_cross_the_pipe():
    parent = TaskRecord("p", Links(TASK_PREFIX, None, None, None, None, ("c1", ("g1", ("m1",)))), "SUCCESS")
    (back,) = records_from_batch(records_to_batch([parent]))
    assert back.links is not None and back.links.children == ("c1", ("g1", ("m1",)))


def test_a_summary_leaves_the_task_itself_out_of_its_children():
    # the real retried task's file, with the children a retry writes: itself, and a task it started
    (path,) = [p for p in FLOWS.iterdir() if b"retry_twice" in p.read_bytes()]
    meta = json.loads(path.read_bytes())
    own = meta["task_id"]
    meta["children"] = [[[own, None], None], [["c1", own], None]]
    raw = json.dumps(meta).encode()
    record = summarize(own, "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=1.0)
    assert record.links is not None and record.links.children == ("c1",)


def test_a_group_file_that_cannot_be_decoded_is_a_row_saying_why():
    raw = b'{"result": [["g1", null], [[["m1", "g1"], null]'  # cut while written
    record = summarize("g1", "group", "celery-taskset-meta-", decode(raw), size=len(raw), mtime=1.0)
    assert record.error is not None and record.error.message == f"truncated JSON at byte {len(raw)}"
    assert record.links is None
