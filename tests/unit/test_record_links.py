"""A record's links (group, parent, root) and exception line: read from real files, kept small, carried by the pipe."""

from __future__ import annotations

import json
import sys

import orjson

from helpers.samples import SAMPLE_RESULTS, sample_file
from taskview.results.codec import decode
from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.record import (
    EXC_LINE,
    Links,
    TaskRecord,
    exception_line,
    records_from_batch,
    records_to_batch,
    summarize,
)
from taskview.results.scan import ResultDirectory


def summary_of(raw: bytes, task_id: str = "t") -> TaskRecord:
    return summarize(task_id, "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=1000.0)


def with_meta(name_part: str, **changes) -> bytes:
    """A real file's meta with some fields changed, as a worker would have written it."""
    meta = json.loads(sample_file(name_part).read_bytes())
    meta.update(changes)
    return json.dumps(meta).encode()


def by_id() -> dict[str, TaskRecord]:
    return {r.task_id: r for batch in ResultDirectory(str(SAMPLE_RESULTS)).scan() for r in batch}


def test_exception_lines_of_the_real_failures_retries_and_revokes():
    records = by_id()
    assert records["3c37fbe2-d3ac-4667-ba10-386321d91912"].exc == "ValueError: bad value: -1"
    # Two arguments: joined, as the detail pane shows them.
    assert records["0ed8f19c-de1d-4d76-8ca4-fec237612888"].exc == "InventoryError: out of stock, sku-42"
    assert records["de710576-c4a0-42c9-a0f2-383f3d420e49"].exc == "ConnectionError: upstream 503"
    assert records["157b2dde-e77c-400b-aec6-ec146ee3891f"].exc == "TaskRevokedError: terminated"
    assert records["22902135-1f65-4ca5-93b5-685cc2334b03"].exc == "TaskRevokedError: revoked"
    # Other states say nothing of an exception, even when their result looks like one.
    assert all(r.exc is None for r in records.values() if r.status not in ("FAILURE", "RETRY", "REVOKED"))
    looks_like_one = with_meta("sampletasks.add", result={"exc_type": "X", "exc_message": ["y"]})
    assert summary_of(looks_like_one).exc is None


def test_an_exception_line_is_bounded_and_says_what_python_would():
    assert exception_line({"exc_type": "E", "exc_message": []}) == "E"
    assert exception_line({"exc_type": "E", "exc_message": "text"}) == "E: text"
    assert exception_line({"exc_type": "E", "exc_message": [42]}) == "E: 42"
    assert exception_line({"exc_type": "E"}) == "E"
    assert exception_line({"exc_message": ["no type"]}) is None
    assert exception_line({"exc_type": "E", "exc_message": ["a", 1, None]}) == "E: a, 1, None"
    assert exception_line(ValueError("from pickle")) == "ValueError: from pickle"
    assert exception_line(["not", "an", "exception"]) is None
    huge = exception_line({"exc_type": "PaymentDeclined", "exc_message": ["x" * 100_000]})
    assert huge is not None and len(huge) == EXC_LINE and huge.startswith("PaymentDeclined: xxx") and huge[-1] == "…"


def test_group_and_parent_ids_of_the_real_files():
    records = by_id()
    group = "056abda1-7cc4-4f4a-a9ce-da276be76008"
    parent = "b8a2018c-f111-4a98-957a-b6d241871ff1"
    assert {i[:8] for i, r in records.items() if r.group_id == group} == {"17f17c67", "425892a2", "5e31192e"}
    assert {i[:8] for i, r in records.items() if r.parent_id == parent} == {"1ea9c393", "c4be014b", "e6a0babd"}
    # A retried task names itself as its parent: that says nothing, and is not kept.
    retried = records["e4337ab4-4166-4810-ad78-a2c3f37a36e5"]
    assert json.loads(sample_file(retried.task_id).read_bytes())["parent_id"] == retried.task_id
    assert retried.parent_id is None and retried.links is None
    # Celery's file backend writes no root_id; a meta that names one (another backend's copy) keeps it,
    # unless it is the task itself.
    assert all(r.root_id is None for r in records.values())
    assert summary_of(with_meta("sampletasks.add", root_id="r00t")).root_id == "r00t"
    assert summary_of(with_meta("sampletasks.add", root_id="t", group_id=None)).links is None


def test_tasks_without_links_pay_nothing_and_tasks_saying_the_same_share_one():
    records = by_id()
    no_links = [r for r in records.values() if r.links is None]
    assert no_links and all(type(r.prefix_or_links) is str for r in no_links)
    siblings = [r for r in records.values() if r.group_id == "056abda1-7cc4-4f4a-a9ce-da276be76008"]
    assert len(siblings) == 3 and siblings[0].links is siblings[1].links is siblings[2].links
    # The record is no bigger for it: 14 fields (a 15th costs 16 bytes a task, the allocator's step).
    assert sys.getsizeof(TaskRecord("t", TASK_PREFIX)) == 128
    assert all(r.prefix == TASK_PREFIX and r.kind == "task" for r in records.values() if r.status is not None)
    group_file = next(r for r in records.values() if r.status is None)
    assert group_file.prefix == GROUP_PREFIX and group_file.kind == "group"
    # A saved group's links are its members, as its file names them (in its order).
    assert group_file.links is not None and group_file.links.children == tuple(s.task_id for s in siblings_in_file())


def siblings_in_file() -> list[TaskRecord]:
    meta = json.loads((SAMPLE_RESULTS / f"{GROUP_PREFIX}056abda1-7cc4-4f4a-a9ce-da276be76008").read_bytes())
    return [by_id()[member[0][0]] for member in meta["result"][1]]


def test_links_can_be_set_and_cleared_keeping_the_prefix():
    record = TaskRecord("t", "proj_" + TASK_PREFIX, status="SUCCESS")
    record.links = Links("ignored", parent_id="p")
    assert record.prefix == "proj_" + TASK_PREFIX and record.parent_id == "p" and record.filename.startswith("proj_")
    record.links = None
    assert record.prefix_or_links == "proj_" + TASK_PREFIX and record.parent_id is None


def test_links_cross_the_child_scans_pipe():
    records = list(by_id().values())
    records.append(summary_of(with_meta("sampletasks.add", root_id="r00t", group_id="g1", parent_id="p1"), "rooted"))
    batch = orjson.loads(orjson.dumps(records_to_batch(records)))  # as the child sends it
    back = records_from_batch(batch)
    assert [r.links for r in back] == [r.links for r in records]
    assert sum(r.links is not None for r in back) == 14  # 13 sample files (a parent, a saved group) and the rooted one
    rooted = back[-1]
    assert (rooted.root_id, rooted.group_id, rooted.parent_id, rooted.exc) == ("r00t", "g1", "p1", None)
    # Only the records with links are sent them, each distinct one once; equal ones come back as one object.
    assert len(batch["linked"][0]) == 14
    assert len(batch["links"]) == 10  # a group's three members, a parent's three children share one
    group = [r for r in back if r.group_id == "056abda1-7cc4-4f4a-a9ce-da276be76008"]
    assert len(group) == 3 and group[0].links is group[1].links is group[2].links
