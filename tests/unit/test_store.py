"""The store: what it keeps, what it remembers, how it sorts and filters."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.samples import SAMPLE_RESULTS, sample_store
from taskview.query import compile_query
from taskview.results.codec import decode
from taskview.results.record import TaskRecord, summarize
from taskview.store import Store
from taskview.view.sorting import SORT_KEYS, ordered, ordered_ids, position, update_order


def record(task_id: str, raw: bytes, mtime: float) -> TaskRecord:
    return summarize(task_id, "task", "celery-task-meta-", decode(raw), size=len(raw), mtime=mtime)


def test_store_holds_every_sample_file():
    store = sample_store()
    assert len(store) == len([p for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-")])
    counts = store.counts()
    assert counts["GROUP"] == 1 and counts["FAILURE"] == 2 and counts["PROGRESS"] == 1


def test_summary_fields_from_real_files():
    store = sample_store()
    progress = next(r for r in store.records.values() if r.status == "PROGRESS")
    assert progress.progress == (3, 6)
    started = next(r for r in store.records.values() if r.status == "STARTED")
    assert started.pid and started.worker and started.started == started.mtime
    failure = next(r for r in store.records.values() if r.name == "sampletasks.fail_custom")
    assert failure.date_done is not None and failure.args is not None


def real_file(status: str) -> bytes:
    """A file a real worker wrote in this state (sample_results)."""
    import json

    for path in sorted(SAMPLE_RESULTS.iterdir()):
        raw = path.read_bytes()
        if json.loads(raw).get("status") == status:
            return raw
    raise AssertionError(status)


STARTED = real_file("STARTED")
SLEEPY = real_file("GOING_TO_SLEEP")
DONE = real_file("SUCCESS")


def test_transitions_seen_while_watching_and_runtime():
    store = Store()
    store.add(record("t", STARTED, 1000.0))
    store.add(record("t", SLEEPY, 1001.0))
    store.add(record("t", DONE, 1012.0))
    assert store.history("t") == [(1000.0, "STARTED"), (1001.0, "GOING_TO_SLEEP"), (1012.0, "SUCCESS")]
    done = store.get("t")
    assert done.first_seen == 1000.0 and done.last_change == 1012.0 and done.started == 1000.0
    assert done.date_done is not None and done.runtime == done.date_done - 1000.0


def test_a_file_caught_mid_write_keeps_the_last_good_row():
    store = Store()
    store.add(record("t", STARTED, 1000.0))
    assert store.add(record("t", b"", 1001.0)) is False  # truncate phase of an in-place write
    assert store.add(record("t", DONE[:20], 1001.0)) is False  # cut
    assert store.get("t").status == "STARTED" and store.get("t").error is None
    assert store.add(record("t", DONE, 1002.0)) is True
    assert store.get("t").status == "SUCCESS"
    # A file that was never good is shown with its reason.
    store.add(record("new", b"", 1003.0))
    assert store.get("new").error.message == "empty (being written?)"


def test_unchanged_rewrite_is_not_a_change():
    store = Store()
    store.add(record("t", STARTED, 1000.0))
    assert store.add(record("t", STARTED, 1000.0)) is False
    assert "t" not in store.transitions


def test_sort_by_any_field_both_ways_unknown_last():
    store = sample_store()
    for key in ("id", "name", "status", "worker", "time", "runtime", "last_change", "progress", "size"):
        for reverse in (False, True):
            order = ordered_ids(store, key, reverse)
            assert sorted(order) == sorted(store.records)
            values = [SORT_KEYS[key](store.get(i)) for i in order]
            known = [v for v in values if v is not None]
            assert known == sorted(known, reverse=reverse), key
            assert all(v is None for v in values[len(known) :])


def test_sorts_equal_a_sort_by_value_then_id_with_unknown_values_last():
    """The store's one-pass sorts against the obvious (and slower) definition, ties included."""
    store = sample_store()
    for n, status in enumerate(_STATUSES * 3):  # equal values: ties to break
        store.add(record(f"tie{n:02d}", real_file(status), 1500.0 + n % 3))
    for n in range(4):  # running, and changed since first seen: TIME is not CHANGED
        store.add(record(f"moved{n}", real_file("STARTED"), 1600.0 + n))
        store.add(record(f"moved{n}", real_file("PROGRESS"), 1700.0 - n))
        assert store.get(f"moved{n}").date_done is None and store.get(f"moved{n}").last_change == 1700.0 - n
    for n in range(3):  # seen start and finish: a runtime
        store.add(record(f"ran{n}", real_file("STARTED"), 1800.0 + n))
        store.add(record(f"ran{n}", real_file("SUCCESS"), 1900.0 + n))
    assert sum(1 for r in store.records.values() if r.runtime is not None) >= 3
    assert sum(1 for r in store.records.values() if r.progress is not None) >= 2
    for key, getter in SORT_KEYS.items():
        for reverse in (False, True):
            known = [r for r in store.records.values() if getter(r) is not None]
            unknown = [r for r in store.records.values() if getter(r) is None]
            known.sort(key=lambda r: (getter(r), r.task_id), reverse=reverse)
            unknown.sort(key=lambda r: r.task_id)
            assert ordered(store, key, reverse) == known + unknown, (key, reverse)


def test_a_row_is_found_by_binary_search_or_by_a_walk_when_it_moved_since():
    store = sample_store()
    for key in SORT_KEYS:
        for reverse in (False, True):
            order = ordered(store, key, reverse)
            assert [position(order, r, key, reverse) for r in order] == list(range(len(order)))
    order = ordered(store, "status", False)
    first = order[0]
    changed = record(first.task_id, real_file("STARTED" if first.status != "STARTED" else "SUCCESS"), 3000.0)
    store.add(changed)
    assert store.get(first.task_id) is not first and position(order, store.get(first.task_id), "status", False) == 0
    assert position(order, record("nowhere", real_file("SUCCESS"), 1.0), "status", False) is None


def test_filter_language():
    store = sample_store()

    def ids(text: str) -> set[str]:
        return set(ordered_ids(store, predicate=compile_query(text)))

    failures = {i for i, r in store.records.items() if r.status == "FAILURE"}
    assert ids("status:FAILURE") == failures
    assert ids("status:failure") == failures
    assert ids("-status:SUCCESS") == {i for i, r in store.records.items() if r.status != "SUCCESS" or r.kind == "group"}
    assert ids("name:fail_custom") == {i for i, r in store.records.items() if r.name == "sampletasks.fail_custom"}
    some = next(iter(store.records))
    assert ids(f"id:{some[:6]}") == {i for i in store.records if i.startswith(some[:6])}
    assert ids(some[:8]) >= {some}
    assert ids("worker:sample-worker") == {i for i, r in store.records.items() if r.worker}
    assert ids("status:FAILURE,RETRY") == {i for i, r in store.records.items() if r.status in ("FAILURE", "RETRY")}
    assert ids("kind:group") == {i for i, r in store.records.items() if r.kind == "group"}
    assert ids("GOING") == {i for i, r in store.records.items() if r.status == "GOING_TO_SLEEP"}
    assert ids('name:"sampletasks.add" -status:FAILURE') == {
        i for i, r in store.records.items() if r.name == "sampletasks.add"
    }
    assert compile_query("") is None and compile_query('name:"unclosed') is not None


def test_memory_per_record_is_small():
    """DESIGN.md's budget: well under 500 B a task for the summary (the dump measures real RSS)."""
    store = sample_store()
    r = store.get(next(i for i, rec in store.records.items() if rec.name == "sampletasks.add"))
    size = sys.getsizeof(r) + sys.getsizeof(r.task_id) + sys.getsizeof(r.mtime) + sys.getsizeof(r.args or "")
    assert size < 400, size
    assert not hasattr(r, "__dict__")


def test_removed_files_leave_the_store(tmp_path: Path):
    store = sample_store()
    some = next(iter(store.records))
    assert store.remove(some) and some not in store


# --- incremental re-ordering: always what a full sort gives ------------------------------


_STATUSES = ["STARTED", "SUCCESS", "FAILURE", "PROGRESS", "GOING_TO_SLEEP"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(SORT_KEYS)),
    st.booleans(),
    st.sampled_from([None, "status:SUCCESS,FAILURE", "-status:STARTED", "name:add"]),
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(_STATUSES + ["gone", "empty"]), st.integers(0, 50)),
        min_size=1,
        max_size=25,
    ),
)
def test_update_order_equals_a_full_sort(sort_key, reverse, query, changes):
    """Random changes (new tasks, new states, removals, unreadable files) to a real directory's store."""
    store = sample_store()
    predicate = compile_query(query) if query else None
    order = ordered(store, sort_key, reverse, predicate)
    real = {status: real_file(status) for status in _STATUSES}
    touched = []
    for n, status, when in changes:
        task_id = f"t{n:02d}"
        if status == "gone":
            store.remove(task_id)
        elif status == "empty":
            store.add(record(task_id, b"", 2000.0 + when))
        else:
            store.add(record(task_id, real[status], 2000.0 + when))
        touched.append(task_id)
    # The same records, not only the same ids: the changed tasks' current ones.
    assert update_order(store.records, order, touched, sort_key, reverse, predicate) == ordered(store, sort_key, reverse, predicate)


def test_started_tasks_are_indexed_for_the_stale_check():
    store = sample_store()
    assert store.started == {r.task_id for r in store.records.values() if r.status == "STARTED"} != set()
    task_id = next(iter(store.started))
    store.add(record(task_id, b'{"status": "SUCCESS", "result": 1}', 3000.0))
    assert task_id not in store.started
    store.add(record(task_id, b'{"status": "STARTED", "result": {"pid": 1}}', 3001.0))
    assert task_id in store.started
    store.add(record(task_id, b'{"status": "STAR', 3002.0))  # cut mid-write: still STARTED
    assert task_id in store.started
    store.remove(task_id)
    assert task_id not in store.started


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "change", "remove", "sort"]), st.integers(0, 12)), max_size=40))
def test_records_in_id_order_follow_every_change(ops):
    """The store's id-ordered records (the tie-break of every sort) always hold the current records."""
    store = Store()
    raw = {n: real_file(_STATUSES[n % len(_STATUSES)]) for n in range(13)}
    for op, n in ops:
        task_id = f"t{n:02d}"
        if op == "add":
            store.add(record(task_id, raw[n], 1000.0 + n))
        elif op == "change":
            store.add(record(task_id, raw[(n + 1) % 13], 2000.0 + n))
        elif op == "remove":
            store.remove(task_id)
        else:
            assert store.by_id() == sorted(store.records.values(), key=lambda r: r.task_id)
            assert all(a is store.records[a.task_id] for a in store.by_id())
    assert [r.task_id for r in store.by_id()] == sorted(store.records)
    assert all(a is store.records[a.task_id] for a in store.by_id())
