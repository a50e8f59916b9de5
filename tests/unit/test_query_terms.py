"""The filter terms people type about a task's failure, its workflow, its staleness and its time
(taskview/query.py). Every expected match is stated by hand from the real sample files."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from helpers.samples import sample_file, sample_store
from taskview.query import QueryError, compile_query, parse_time, root_of, uses_field
from taskview.results.codec import decode
from taskview.results.files import TASK_PREFIX
from taskview.results.record import Links, TaskRecord, summarize
from taskview.store import Store

STORE = sample_store()


def kept(text: str, store: Store = STORE, **options) -> str:
    """The first 8 characters of the ids ``text`` keeps, sorted."""
    options.setdefault("records", store.records)
    predicate = compile_query(text, **options)
    return " ".join(sorted(i[:8] for i, r in store.records.items() if predicate is None or predicate(r)))


GROUP = "17f17c67 425892a2 5e31192e"
CHILDREN = "1ea9c393 c4be014b e6a0babd"


@pytest.mark.parametrize(
    "text, expected",
    [
        # exc: the exception line (type and message) of FAILURE, RETRY and REVOKED results.
        ("exc:InventoryError", "0ed8f19c"),
        ("exc:inventoryerror", "0ed8f19c"),
        ('exc:"bad value"', "3c37fbe2"),
        ("exc:sku-42", "0ed8f19c"),
        ("exc:upstream", "de710576"),  # a RETRY
        ("exc:TaskRevokedError", "157b2dde 22902135"),
        ("exc:terminated", "157b2dde"),
        ("exc:Error", "0ed8f19c 157b2dde 22902135 3c37fbe2 de710576"),
        ("exc:PaymentDeclined", ""),
        # Free text finds the exception line too (nothing else of these rows says InventoryError).
        ("InventoryError", "0ed8f19c"),
        ("upstream", "de710576"),
        # group:, parent: ids, from their start, whatever the case.
        ("group:056abda1", GROUP),
        ("group:056ABDA1-7cc4", GROUP),
        ("group:7cc4", ""),  # inside the id: not its start
        (
            "-group:056a kind:task status:SUCCESS",
            "1ea9c393 2754d692 876ae4e7 a67693d2 b8a2018c c4be014b e05eea07 e4337ab4 e6a0babd",
        ),
        ("parent:b8a2", CHILDREN),
        ("parent:e4337ab4", ""),  # the retried task names itself: not a parent
        # root: the first task of the workflow, the task itself for one without a parent.
        ("root:b8a2", "1ea9c393 b8a2018c c4be014b e6a0babd"),
        ("root:0ed8f19c", "0ed8f19c"),
        ("root:1ea9c393", ""),  # a child is not a root
        ("exc:Error parent:b8a2", ""),
    ],
)
def test_terms_about_failures_and_workflows(text: str, expected: str):
    assert kept(text) == expected


def chain_file(task_id: str, parent: str | None) -> TaskRecord:
    """A real file of a chain's link: its parent_id names the link before it."""
    meta = json.loads(sample_file("sampletasks.add").read_bytes())
    meta.update(task_id=task_id, parent_id=parent, group_id=None)
    raw = json.dumps(meta).encode()
    return summarize(task_id, "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=1000.0)


def test_root_follows_parents_through_the_store():
    store = Store()
    # a -> b -> c, a chord body whose parent (the unlock task) has no file, and a loop.
    for task_id, parent in [("a1", None), ("b2", "a1"), ("c3", "b2"), ("body", "unlock"), ("x", "y"), ("y", "x")]:
        store.add(chain_file(task_id, parent))
    assert kept("root:a1", store) == "a1 b2 c3"
    assert kept("root:unlock", store) == "body"  # as far as the files tell
    assert root_of(store.get("x"), store.records) in ("x", "y")  # a loop ends
    # Without the store, only what each file says: c3's parent is b2.
    assert root_of(store.get("c3")) == "b2" and kept("root:a1", store, records=None) == "a1 b2"
    # A root the meta names wins.
    meta_root = chain_file("d4", "c3")
    meta_root.links = Links(TASK_PREFIX, parent_id="c3", root_id="r00t")
    assert root_of(meta_root, store.records) == "r00t"


def test_since_and_before_count_back_from_the_clock_given():
    store = Store()
    store.add(TaskRecord("early", TASK_PREFIX, status="SUCCESS", date_done=1000.0, mtime=1000.2))
    store.add(TaskRecord("late", TASK_PREFIX, status="FAILURE", date_done=5000.0, mtime=5000.1))
    store.add(TaskRecord("running", TASK_PREFIX, status="PROGRESS", mtime=3000.0))  # TIME: first seen
    now = 6000.0
    assert kept("since:1h", store, now=now) == "late running"  # from 2400 on
    assert kept("since:50m", store, now=now) == "late running"  # from 3000 on: its edge included
    assert kept("since:49m59s", store, now=now) == "late"
    assert kept("since:1h30m", store, now=now) == "early late running"  # from 600 on
    assert kept("before:1h", store, now=now) == "early"
    assert kept("since:2h before:50m", store, now=now) == "early"
    assert kept("-since:1h", store, now=now) == "early"
    assert kept("since:0.5d", store, now=40_000.0) == "early late running"  # from -3200 on
    assert kept("since:1w", store, now=1000.0 + 604800) == "early late running"
    assert kept("since:2w", store, now=2000.0 + 1209600) == "late running"
    # Without a clock: the time of compiling.
    fresh = Store()
    fresh.add(TaskRecord("now", TASK_PREFIX, status="SUCCESS", date_done=time.time() - 30, mtime=0.0))
    fresh.add(TaskRecord("old", TASK_PREFIX, status="SUCCESS", date_done=time.time() - 3600, mtime=0.0))
    assert kept("since:10m", fresh) == "now"


def test_since_a_date_and_time():
    finished = {i[:8]: r.date_done for i, r in STORE.records.items() if r.date_done is not None}
    # The real files' date_done, stated by hand: these finished at or after 21:59:30.4 UTC.
    after = ["157b2dde", "17f17c67", "1ea9c393", "22902135", "425892a2", "c4be014b", "e4337ab4", "e6a0babd"]
    predicate = compile_query("since:2026-11-25T21:59:30.4+00:00")
    assert sorted(i[:8] for i, r in STORE.records.items() if r.date_done is not None and predicate(r)) == after
    predicate = compile_query("before:2026-11-25T21:59:30.4+00:00")
    assert sorted(i[:8] for i, r in STORE.records.items() if r.date_done is not None and predicate(r)) == sorted(
        set(finished) - set(after)
    )
    # Without a zone: local time, as the table shows times.
    local = datetime(2026, 11, 25, 21, 59, 30, 400000).timestamp()
    assert parse_time("2026-11-25T21:59:30.4", 0.0) == local
    assert parse_time("2026-11-25", 0.0) == datetime(2026, 11, 25).timestamp()


def test_terms_that_mean_nothing_are_left_out_while_typing_and_refused_when_strict():
    assert compile_query("since:") is None and compile_query("since:1") is None  # half typed
    assert kept("since:abc status:FAILURE") == "0ed8f19c 3c37fbe2"
    with pytest.raises(QueryError, match="not a time"):
        compile_query("since:abc", strict=True)
    with pytest.raises(QueryError, match="not a time"):
        compile_query("-before:10x", strict=True)
    # stale is known only where someone judged it (the live inspector): nothing matches elsewhere.
    assert kept("stale") == "" and kept("-stale") == kept("")
    with pytest.raises(QueryError, match="live inspector"):
        compile_query("status:FAILURE,stale", strict=True)
    assert compile_query("stale", stale=set(), strict=True) is not None
    # A word merely containing "stale" is free text.
    assert kept("stalemate") == ""


def test_which_fields_a_query_uses():
    assert uses_field("root:ab status:FAILURE", "root") and uses_field("-ROOT:ab", "root")
    assert not uses_field("rootless parent:ab", "root") and not uses_field('name:"root:x"', "root")
