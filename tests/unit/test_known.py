"""The tail's memory of what it read (sources/known.py): a sorted list and a small dict behave as one dict."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from taskview.results.record import TaskRecord
from taskview.sources import known as known_module
from taskview.sources.known import KnownRecords


def record(task_id: str, mtime: float = 1.0) -> TaskRecord:
    return TaskRecord(task_id, "celery-task-meta-", status="SUCCESS", mtime=mtime)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["put", "pop", "get"]), st.integers(0, 60)), max_size=400))
def test_behaves_like_a_dict(monkeypatch_ops):
    """Any sequence of puts, pops and lookups, with folds forced often, answers like a dict."""
    original = known_module.MIN_FOLD
    known_module.MIN_FOLD = 3  # fold all the time
    try:
        known, model = KnownRecords(), {}
        for step, (op, n) in enumerate(monkeypatch_ops):
            task_id = f"id-{n:03d}"
            if op == "put":
                r = record(task_id, float(step))
                known.put(r)
                model[task_id] = r
            elif op == "pop":
                assert known.pop(task_id) is model.pop(task_id, None)
            else:
                assert known.get(task_id) is model.get(task_id)
        assert sorted(known) == sorted(model)
        assert all(known.get(t) is r for t, r in model.items())
    finally:
        known_module.MIN_FOLD = original


def test_a_first_scan_worth_of_records_lives_in_the_sorted_list():
    known = KnownRecords()
    ids = [f"{random.getrandbits(64):016x}" for _ in range(50_000)]
    for task_id in ids:
        known.put(record(task_id))
    assert len(known._recent) <= max(known_module.MIN_FOLD, len(known._sorted) // 8) + 1
    assert sorted(known) == sorted(set(ids))
    assert known.get(ids[123]).task_id == ids[123] and known.get("absent") is None


def test_a_first_scans_records_join_those_read_before_it(monkeypatch):
    """Reads before the scan's records came (folded into the sorted list) are kept, and all are found."""
    monkeypatch.setattr(known_module, "MIN_FOLD", 1)
    known = KnownRecords()
    for task_id in ("b", "x", "d"):  # read live meanwhile: folded
        known.put(record(task_id, 2.0))
    known.add_sorted([record("a"), record("c"), record("e")])
    assert sorted(known) == ["a", "b", "c", "d", "e", "x"]
    assert [(known.get(t).task_id, known.get(t).mtime) for t in "abcdex"] == [
        ("a", 1.0),
        ("b", 2.0),
        ("c", 1.0),
        ("d", 2.0),
        ("e", 1.0),
        ("x", 2.0),
    ]
    assert known.get("f") is None
    known.add_sorted([])  # nothing: nothing changes
    assert sorted(known) == ["a", "b", "c", "d", "e", "x"]
