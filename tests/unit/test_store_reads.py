"""What the store answers besides its rows: a task's history, a selection, a task just sent (store.py)."""

from __future__ import annotations

from helpers.samples import SAMPLE_RESULTS, sample_store
from taskview.query import compile_query
from taskview.results.codec import decode
from taskview.results.record import TaskRecord, summarize
from taskview.store import Store


def real_file(status: str) -> bytes:
    """A file a real worker wrote in this state (sample_results)."""
    for path in sorted(SAMPLE_RESULTS.iterdir()):
        raw = path.read_bytes()
        if f'"status": "{status}"'.encode() in raw:
            return raw
    raise AssertionError(status)


def record(task_id: str, raw: bytes, mtime: float) -> TaskRecord:
    return summarize(task_id, "task", "celery-task-meta-", decode(raw), size=len(raw), mtime=mtime)


STARTED = real_file("STARTED")


def test_the_history_of_a_task_that_never_changed_is_its_status_since_it_last_changed():
    store = Store()
    assert store.history("absent") == []
    store.add(record("t", STARTED, 1000.0))
    assert store.history("t") == [(1000.0, "STARTED")]
    store.add(record("t", STARTED + b" ", 1005.0))  # written again, the same status
    assert store.get("t").mtime == 1005.0
    assert store.history("t") == [(1000.0, "STARTED")]
    store.add(record("bad", b"[1]", 1003.0))
    assert store.history("bad") == [(1003.0, "unreadable")]


def test_select_without_a_predicate_is_every_record():
    store = sample_store()
    assert sorted(r.task_id for r in store.select()) == sorted(store.records)
    assert all(r is store.get(r.task_id) for r in store.select())
    failures = store.select(compile_query("status:FAILURE"))
    assert len(failures) == 2 and all(r.status == "FAILURE" for r in failures)


def test_a_task_just_sent_is_pending_until_its_file_comes():
    store = Store()
    store.add_pending("sent", "sampletasks.add", 100.0)
    pending = store.get("sent")
    assert (pending.status, pending.name, pending.mtime, pending.prefix) == (
        "PENDING",
        "sampletasks.add",
        100.0,
        "celery-task-meta-",
    )
    assert pending.first_seen == 100.0 and pending.error is None and store.counts() == {"PENDING": 1}
    store.add_pending("sent", "other", 200.0)  # sent again before its file: nothing changes
    assert store.get("sent") is pending
    store.add(record("sent", STARTED, 101.0))
    assert store.get("sent").status == "STARTED" and store.counts() == {"STARTED": 1}
    store.add_pending("sent", "sampletasks.add", 300.0)  # a file came: it is no longer pending
    assert store.get("sent").status == "STARTED"
