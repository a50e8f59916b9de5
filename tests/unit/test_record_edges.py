"""results/record.py at its edges: argument previews at their bounds, records crossing the pipe
with sizes, prefixes and long strings the other side has not seen. Expected values by hand."""

from __future__ import annotations

import sys
import uuid

import orjson
import pytest

from taskview.results import record as record_module
from taskview.results.record import Links, TaskRecord, args_preview, records_from_batch, records_to_batch, shared_size

TASK_PREFIX = "celery-task-meta-"


def crossed(records: list[TaskRecord]) -> list[TaskRecord]:
    return records_from_batch(orjson.loads(orjson.dumps(records_to_batch(records))))


def test_a_preview_keeps_eight_arguments_and_the_keyword_ones():
    assert args_preview([1, 2, 3, 4, 5, 6, 7, 8, 9], None) == "1, 2, 3, 4, 5, 6, 7, 8"
    assert args_preview([1, 2, 3, 4, 5, 6, 7, 8], None) == "1, 2, 3, 4, 5, 6, 7, 8"
    assert args_preview([1], {"a": 2}) == "1, a=2"
    assert args_preview(["x"], {"b": "y"}) == "'x', b='y'"


def test_a_string_of_the_previews_width_is_cut_not_abbreviated():
    forty = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    assert len(forty) == 40
    assert args_preview((forty,), None) == "'abcdefghijklmnopqrstuvwxyz0123456789AB…"
    assert args_preview(None, {"k": forty}) == "k='abcdefghijklmnopqrstuvwxyz0123456789…"


def test_a_size_the_other_side_never_saw_crosses():
    size = 10**13 + uuid.uuid4().int % 10**6  # not among the sizes seen so far
    assert size not in record_module._SIZES
    (back,) = crossed([TaskRecord("t", TASK_PREFIX, status="SUCCESS", size=size)])
    assert back.size == size and type(back.size) is int


def test_a_known_size_is_the_shared_object_even_when_the_table_is_full(monkeypatch):
    big = 10**12 + 11
    monkeypatch.setattr(record_module, "_SIZES", {})
    monkeypatch.setattr(record_module, "_MAX_SIZES", 1)
    first = shared_size(int(str(big)))
    again = int(str(big))
    assert again is not first and shared_size(again) is first


def test_records_with_the_same_links_and_other_prefixes_keep_their_own_prefix():
    links = Links(TASK_PREFIX, group_id="g1")
    one = TaskRecord("a", links, status="SUCCESS")
    two = TaskRecord("b", "proj:celery-task-meta-", status="SUCCESS")
    two.links = Links("ignored", group_id="g1")  # the setter keeps the record's prefix
    three = TaskRecord("c", TASK_PREFIX, status="SUCCESS")
    three.links = Links("ignored", group_id="g1")
    back = crossed([one, two, three])
    assert [r.prefix for r in back] == [TASK_PREFIX, "proj:celery-task-meta-", TASK_PREFIX]
    assert [r.group_id for r in back] == ["g1", "g1", "g1"]
    assert back[0].links is back[2].links  # saying the same, with the same prefix: one object


def test_strings_up_to_199_characters_are_interned_and_longer_ones_are_not():
    def fresh(length: int) -> str:
        return (uuid.uuid4().hex * 8)[:length]

    names = {length: fresh(length) for length in (199, 200, 250)}
    back = crossed([TaskRecord(str(n), TASK_PREFIX, status="SUCCESS", name=name) for n, name in names.items()])
    for record, (length, name) in zip(back, names.items(), strict=True):
        assert record.name == name
        # sys.intern of an equal string made anew gives the one interned before, if any
        interned = sys.intern("".join(list(name))) is record.name
        assert interned is (length < 200), length


def test_a_broken_batch_says_so():
    batch = orjson.loads(orjson.dumps(records_to_batch([TaskRecord("t", TASK_PREFIX, status="SUCCESS")])))
    batch["columns"][0].append("extra")
    with pytest.raises(ValueError, match="^a batch whose columns do not line up$"):
        records_from_batch(batch)
    del batch["columns"][0]
    with pytest.raises(ValueError, match="^a batch whose columns do not line up$"):
        records_from_batch(batch)


def test_links_are_shared_by_value_up_to_a_bound(monkeypatch):
    from taskview.results.record import shared_links

    monkeypatch.setattr(record_module, "_LINKS", {})
    monkeypatch.setattr(record_module, "_MAX_LINKS", 2)
    x, y, z = (Links(TASK_PREFIX, group_id=g) for g in ("gx", "gy", "gz"))
    assert shared_links(x) is x and shared_links(y) is y
    assert shared_links(Links(TASK_PREFIX, group_id="gx")) is x  # an equal one: the first
    assert shared_links(z) is z and record_module._LINKS == {z: z}  # full: emptied, then z kept


def test_an_exception_line_needs_a_type_and_keeps_eight_arguments_and_200_characters():
    from taskview.results.record import exception_line

    assert exception_line({"exc_type": "", "exc_message": ["x"]}) is None
    assert exception_line({"exc_type": 5, "exc_message": "m"}) is None
    assert exception_line({"exc_type": "E", "exc_message": list("abcdefghi")}) == "E: a, b, c, d, e, f, g, h"
    exact = "m" * 197  # "E: " and 197 characters: 200, kept whole
    assert exception_line({"exc_type": "E", "exc_message": [exact]}) == "E: " + exact
    assert exception_line({"exc_type": "E", "exc_message": [exact + "n"]}) == "E: " + "m" * 196 + "…"


def summary(meta: dict):
    from taskview.results.codec import decode
    from taskview.results.record import summarize

    raw = orjson.dumps(meta)
    return summarize("t1", "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=5.0)


def test_what_a_summary_leaves_out():
    started = summary({"status": "STARTED", "result": {"pid": "12", "hostname": "w@h"}, "task_id": "t1"})
    assert started.running is None and started.worker == "w@h"
    for group_id in ("", 5):
        record = summary({"status": "SUCCESS", "group_id": group_id, "task_id": "t1"})
        assert record.group_id is None and record.links is None


def test_a_yaml_summary_cut_before_its_status_says_at_which_byte():
    from taskview.results.codec import decode
    from taskview.results.record import summarize

    raw = b"children: []\ndate_done: null\n"  # PyYAML writes keys sorted: cut before status
    record = summarize("t1", "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=5.0)
    assert record.error is not None and record.error.message == f"truncated YAML at byte {len(raw)} (no status yet)"


def test_names_and_workers_up_to_199_characters_are_interned():
    for length in (199, 200):
        name, worker = (uuid.uuid4().hex * 8)[:length], (uuid.uuid4().hex * 8)[:length]
        record = summary({"status": "SUCCESS", "name": name, "worker": worker, "task_id": "t1"})
        assert record.name == name and record.worker == worker
        assert (sys.intern("".join(list(name))) is record.name) is (length < 200)
        assert (sys.intern("".join(list(worker))) is record.worker) is (length < 200)


def test_statuses_up_to_63_characters_are_interned():
    # a custom state is any string a task sets: a long one (hostile or not) stays out of the intern table
    for length in (63, 64):
        status = ("PROGRESS_" + uuid.uuid4().hex * 2)[:length]
        record = summary({"status": status, "result": None, "task_id": "t1"})
        assert record.status == status
        assert (sys.intern("".join(list(status))) is record.status) is (length < 64), length
