"""The per-task summary kept in memory (results/record.py): what a record says of a real file."""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo

import orjson
import pytest

from helpers.samples import SAMPLE_RESULTS, sample_file
from taskview.results.codec import decode
from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import (
    ARGS_PREVIEW,
    TaskRecord,
    _short_repr,
    args_preview,
    classify,
    display_status,
    display_statuses,
    epoch,
    progress_of,
    records_from_batch,
    records_to_batch,
    shared_size,
    summarize,
)
from taskview.results.scan import ResultDirectory


def summary_of(raw: bytes, task_id: str = "t", kind: str = "task", mtime: float = 1000.0) -> TaskRecord:
    prefix = GROUP_PREFIX if kind == "group" else TASK_PREFIX
    return summarize(task_id, kind, prefix, decode(raw), size=len(raw), mtime=mtime)


def with_meta(path_part: str, **changes) -> bytes:
    """A real file's meta with some fields changed, as a worker would have written it."""
    meta = json.loads(sample_file(path_part).read_bytes())
    meta.update(changes)
    return json.dumps(meta).encode()


def all_records() -> list[TaskRecord]:
    return [r for batch in ResultDirectory(str(SAMPLE_RESULTS)).scan() for r in batch]


# --- what a summary holds -------------------------------------------------------------------------


def test_a_finished_task():
    raw = sample_file("sampletasks.fail_custom").read_bytes()
    meta = json.loads(raw)
    record = summary_of(raw, mtime=1234.5)
    assert (record.task_id, record.prefix, record.kind) == ("t", TASK_PREFIX, "task")
    assert record.status == "FAILURE" and record.error is None
    assert record.name == "sampletasks.fail_custom" and record.worker == meta["worker"]
    assert record.args == "'out of stock', 'sku-42'"
    assert record.date_done == datetime.fromisoformat(meta["date_done"]).timestamp()
    assert record.mtime == 1234.5 and record.size == len(raw)
    assert record.pid is None and record.progress is None and record.running is None
    assert record.filename == TASK_PREFIX + "t"


def test_a_started_task_keeps_its_pool_process_and_worker():
    raw = sample_file('"STARTED"').read_bytes()
    result = json.loads(raw)["result"]
    record = summary_of(raw)
    assert record.status == "STARTED" and record.pid == result["pid"] and record.progress is None
    assert record.worker == result["hostname"]
    # Without a worker field (result_extended off), the hostname in the result names it.
    no_worker = summary_of(with_meta('"STARTED"', worker=None))
    assert no_worker.worker == result["hostname"]
    other = summary_of(with_meta('"STARTED"', worker="other@host"))
    assert other.worker == "other@host"
    assert summary_of(with_meta('"STARTED"', result={"pid": "12", "hostname": "h@x"})).pid is None
    assert summary_of(with_meta('"STARTED"', result={"pid": True, "hostname": "h@x"})).pid is None


def test_a_task_in_progress_says_how_far():
    raw = sample_file('"PROGRESS"').read_bytes()
    record = summary_of(raw)
    assert record.status == "PROGRESS" and record.progress == (3.0, 6.0) and record.pid is None
    # Only states before the end report progress; a finished task's result is its result.
    done = summary_of(with_meta('"PROGRESS"', status="SUCCESS"))
    assert done.progress is None and done.running is None
    for status in ("FAILURE", "REVOKED"):
        assert summary_of(with_meta('"PROGRESS"', status=status)).progress is None
    assert summary_of(with_meta('"PROGRESS"', status="RETRY")).progress == (3.0, 6.0)


def test_a_group_file():
    raw = next(p for p in SAMPLE_RESULTS.iterdir() if p.name.startswith(GROUP_PREFIX)).read_bytes()
    record = summary_of(raw, kind="group")
    assert record.kind == "group" and record.status is None and record.error is None
    assert display_status(record) == "GROUP"
    bad = summary_of(b'{"children": []}', kind="group")
    assert bad.error == Problem(ProblemKind.NOT_A_RESULT, "not a Celery group result", ": no 'result' field")
    assert bad.error.kind is ProblemKind.NOT_A_RESULT


def test_long_and_odd_fields():
    long_name = "n" * 300
    record = summary_of(with_meta("sampletasks.add", name=long_name, worker="w" * 300))
    assert record.name == long_name and record.worker == "w" * 300
    odd = summary_of(with_meta("sampletasks.add", name=7, worker=["not", "a", "str"], args=None, kwargs=None))
    assert odd.name is None and odd.worker is None and odd.args is None
    assert summary_of(with_meta("sampletasks.add", args=None, kwargs={"x": 1})).args == "x=1"
    assert summary_of(with_meta("sampletasks.add", args=[1], kwargs=None)).args == "1"
    assert summary_of(with_meta("sampletasks.add", date_done=None)).date_done is None
    assert summary_of(with_meta("sampletasks.add", date_done="not a date")).date_done is None


def test_interned_strings_are_shared_between_records():
    one, two = (summary_of(sample_file("sampletasks.add").read_bytes(), task_id=t) for t in ("a", "b"))
    assert one.name is two.name and one.worker is two.worker and one.status is two.status


def test_a_read_error_is_the_whole_summary():
    problem = Problem(ProblemKind.UNREADABLE, "unreadable", ": permission denied")
    record = summarize("t", "task", TASK_PREFIX, None, size=0, mtime=5.0, error=problem)
    assert record.error is problem and record.status is None and record.mtime == 5.0
    assert display_status(record) == "unreadable"
    cut = summary_of(sample_file("sampletasks.add").read_bytes()[:30])
    assert cut.error is not None and cut.error.kind is ProblemKind.TRUNCATED and cut.status is None


# --- status and errors (classify) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, kind, message",
    [
        (b'{"result": 1}', ProblemKind.NOT_A_RESULT, "not a Celery task result: no status"),
        (b'{"status": ""}', ProblemKind.NOT_A_RESULT, "not a Celery task result: no status"),
        (b'{"status": 3}', ProblemKind.NOT_A_RESULT, "not a Celery task result: no status"),
        # PyYAML writes keys sorted: cut at a line end, a file parses without its last keys.
        (b"children: []\ndate_done: null\n", ProblemKind.TRUNCATED, "truncated YAML at byte 29 (no status yet)"),
        (b"children: []\ntask_id: x\n", ProblemKind.NOT_A_RESULT, "not a Celery task result: no status"),
        (b"result: 1\nstatus: 5\n", ProblemKind.NOT_A_RESULT, "not a Celery task result: no status"),
    ],
)
def test_files_without_a_status(raw: bytes, kind: ProblemKind, message: str):
    status, error = classify("task", decode(raw), len(raw))
    assert status is None and error is not None
    assert error.kind is kind and error.message == message


def test_a_long_status_is_kept_whole():
    status = "CUSTOM_" + "X" * 100
    assert summary_of(with_meta("sampletasks.add", status=status)).status == status
    assert classify("task", decode(b'{"status": "OK"}'), 16) == ("OK", None)


def test_display_status():
    assert display_status(TaskRecord("t", TASK_PREFIX, status="SUCCESS")) == "SUCCESS"
    assert display_status(TaskRecord("t", TASK_PREFIX)) == ""
    assert display_status(TaskRecord("g", GROUP_PREFIX)) == "GROUP"
    assert display_status(TaskRecord("g", "proj:" + GROUP_PREFIX)) == "GROUP"
    broken = Problem(ProblemKind.INVALID, "invalid JSON")
    assert display_status(TaskRecord("t", TASK_PREFIX, status="SUCCESS", error=broken)) == "unreadable"


def test_display_statuses_of_a_batch_are_each_records_display_status():
    broken = Problem(ProblemKind.INVALID, "invalid JSON")
    plain = [TaskRecord("a", TASK_PREFIX, status="SUCCESS"), TaskRecord("b", TASK_PREFIX, status="STARTED")]
    assert display_statuses(plain) == ["SUCCESS", "STARTED"]
    # One row with no status, or one with an error, and each is shown as display_status shows it.
    assert display_statuses([*plain, TaskRecord("g", GROUP_PREFIX)]) == ["SUCCESS", "STARTED", "GROUP"]
    errored = [*plain, TaskRecord("c", TASK_PREFIX, status="SUCCESS", error=broken)]
    assert display_statuses(errored) == ["SUCCESS", "STARTED", "unreadable"]
    assert display_statuses([]) == []


# --- small parts ---------------------------------------------------------------------------------


def test_progress_needs_two_finite_numbers_and_a_total_above_zero():
    assert progress_of({"current": 3, "total": 6}) == (3.0, 6.0)
    assert progress_of({"current": 0.5, "total": 1}) == (0.5, 1.0)
    for bad in (
        {"current": 3},
        {"total": 6},
        {"current": 3, "total": 0},
        {"current": 3, "total": -1},
        {"current": True, "total": 6},
        {"current": 3, "total": False},
        {"current": "3", "total": 6},
        {"current": float("nan"), "total": 6},
        {"current": 3, "total": float("inf")},
        {"current": 10**400, "total": 6},
        {"current": 3, "total": 10**400},
    ):
        assert progress_of(bad) is None, bad


def test_args_preview():
    assert args_preview([1, "two", None, 2.5, True], {"k": "v"}) == "1, 'two', None, 2.5, True, k='v'"
    assert args_preview((1, 2), None) == "1, 2"
    assert args_preview("text", None) == "'text'"
    assert args_preview(None, {"a": 1, "b": [1, 2]}) == "a=1, b=[1, 2]"
    assert args_preview(list(range(20)), None) == "0, 1, 2, 3, 4, 5, 6, 7"  # the first eight
    assert args_preview(None, {chr(97 + n): n for n in range(20)}) == "a=0, b=1, c=2, d=3, e=4, f=5, g=6, h=7"
    assert args_preview([], {}) == ""
    assert args_preview(None, "not a dict") == ""
    exact = "x" * (ARGS_PREVIEW - 2)
    assert args_preview([exact], None) == repr(exact)  # 40 characters: kept whole
    longer = args_preview(["y" * ARGS_PREVIEW], None)
    assert len(longer) == ARGS_PREVIEW and longer.endswith("…")
    assert args_preview([10**50], None) == "100000000000000000...0000000000000000000"
    nested = args_preview([[[[[1]]]]], None)
    assert nested == "[[[[...]]]]"


def test_the_short_repr_is_bounded_in_depth_and_length():
    short = _short_repr()
    assert short.maxlevel == 3 and short.maxstring == short.maxother == ARGS_PREVIEW
    assert short.repr([[[[1]]]]) == "[[[[...]]]]"
    assert len(short.repr("z" * 100)) <= ARGS_PREVIEW


def test_epoch():
    expected = datetime(2026, 11, 25, 21, 59, 30, 159446, tzinfo=timezone.utc).timestamp()
    assert epoch("2026-11-25T21:59:30.159446+00:00") == expected
    assert epoch("2026-11-25T21:59:30.159446Z") == expected
    assert epoch(datetime(2026, 11, 25, 21, 59, 30, 159446, tzinfo=timezone.utc)) == expected
    # Without a zone: UTC, whatever this machine's zone (Celery up to 5.3 wrote utcnow()).
    assert epoch("2026-11-25T21:59:30.159446") == epoch(datetime(2026, 11, 25, 21, 59, 30, 159446)) == expected
    assert epoch("yesterday") is None and epoch(12345) is None and epoch(None) is None
    assert epoch(datetime.min) == -62135596800.0

    class NoOffset(tzinfo):  # a zone (from a pickle) that does not say its offset
        def utcoffset(self, dt):
            return None

    assert epoch(datetime(2026, 11, 25, tzinfo=NoOffset())) is None
    assert epoch("0001-01-01T00:00:00+23:00") == -62135679600.0


def test_shared_sizes_are_one_object_per_size_up_to_a_bound(monkeypatch):
    from taskview.results import record as record_module

    big = 10**12 + 7  # not an int Python caches itself
    a, b = shared_size(int(str(big))), shared_size(int(str(big)))
    assert a == big and a is b
    monkeypatch.setattr(record_module, "_SIZES", {})
    monkeypatch.setattr(record_module, "_MAX_SIZES", 1)
    first = shared_size(int(str(big)))
    assert record_module._SIZES == {big: first}
    other = int(str(big + 1))
    assert shared_size(other) is other and record_module._SIZES == {big: first}  # full: not kept


def test_runtime_and_repr():
    record = TaskRecord("t", TASK_PREFIX, status="SUCCESS", date_done=110.0)
    assert record.runtime is None
    record.started = 100.0
    assert record.runtime == 10.0
    record.started = 120.0  # clocks of two hosts: never negative
    assert record.runtime == 0.0
    assert TaskRecord("t", TASK_PREFIX, started=1.0).runtime is None
    assert repr(record) == "<TaskRecord task t SUCCESS>"
    broken = TaskRecord("g", GROUP_PREFIX, error=Problem(ProblemKind.EMPTY, "empty"))
    assert repr(broken) == "<TaskRecord group g error='empty'>"


def test_pid_and_progress_share_one_field():
    record = TaskRecord("t", TASK_PREFIX)
    record.pid = 42
    assert record.pid == 42 and record.progress is None and record.running == 42
    record.progress = (1.0, 2.0)
    assert record.progress == (1.0, 2.0) and record.pid is None


# --- across a pipe (a big directory's first scan in a child process) ---------------------------------


def fields(record: TaskRecord) -> tuple:
    return (
        record.task_id,
        record.prefix,
        record.status,
        record.name,
        record.worker,
        record.args,
        record.date_done,
        record.mtime,
        record.size,
        record.error,
        record.running,
    )


def test_records_cross_a_pipe_as_columns_and_come_back_the_same():
    records = all_records()
    records.append(summary_of(b"", task_id="empty"))
    records.append(summary_of(b"[1]", task_id="list"))
    batch = orjson.loads(orjson.dumps(records_to_batch(records)))  # as the child sends it
    back = records_from_batch(batch)
    assert [fields(r) for r in back] == [fields(r) for r in records]
    started = next(r for r in back if r.status == "STARTED")
    assert type(started.running) is int
    progress = next(r for r in back if r.status == "PROGRESS")
    assert progress.progress == (3.0, 6.0) and type(progress.running) is tuple  # JSON made it a list
    assert all(r.error is None or r.error.kind in ProblemKind for r in back)
    # Each string once in the table, records pointing at it; one object per string on the way back.
    assert len(batch["strings"]) == len(set(batch["strings"]))
    assert sum(s == "sampletasks.add" for s in batch["strings"]) == 1
    adds = [r for r in back if r.name == "sampletasks.add"]
    assert len(adds) > 1 and all(r.name is adds[0].name and r.worker is adds[0].worker for r in adds)


def test_columns_are_the_row_fields_in_order():
    records = [summary_of(sample_file("sampletasks.add").read_bytes(), task_id="one")]
    batch = records_to_batch(records)
    task_id, prefix, status, name, worker, args, date_done, mtime, size, error, running = batch["columns"]
    strings = batch["strings"]
    assert task_id == ["one"] and args == [records[0].args] and error == [None] and running == [None]
    assert [strings[i] for i in (prefix[0], status[0], name[0], worker[0])] == [
        TASK_PREFIX,
        "SUCCESS",
        "sampletasks.add",
        records[0].worker,
    ]
    assert date_done == [records[0].date_done] and mtime == [1000.0] and size == [records[0].size]
    nothing = records_to_batch([TaskRecord("g", GROUP_PREFIX)])
    assert nothing["columns"][2:5] == [[-1], [-1], [-1]]  # no status, name or worker


def test_long_strings_cross_a_pipe_without_being_interned():
    long_name = "n" * 250
    record = summary_of(with_meta("sampletasks.add", name=long_name))
    (back,) = records_from_batch(orjson.loads(orjson.dumps(records_to_batch([record]))))
    assert back.name == long_name


def test_strings_crossing_in_two_batches_are_one_object():
    raw = sample_file("sampletasks.add").read_bytes()
    first, second = (
        records_from_batch(orjson.loads(orjson.dumps(records_to_batch([summary_of(raw, task_id=t)]))))[0]
        for t in ("a", "b")
    )
    assert first.name is second.name and first.worker is second.worker and first.status is second.status


def test_a_size_seen_first_on_the_way_back_is_kept():
    record = TaskRecord("t", TASK_PREFIX, status="SUCCESS", size=987_654_321_001)
    (back,) = records_from_batch(orjson.loads(orjson.dumps(records_to_batch([record]))))
    assert back.size == 987_654_321_001


def test_a_batch_without_links_or_with_columns_that_disagree():
    record = TaskRecord("t", TASK_PREFIX, status="SUCCESS", size=12)
    batch = orjson.loads(orjson.dumps(records_to_batch([record])))
    del batch["links"]  # no record had any: nothing to say
    (back,) = records_from_batch(batch)
    assert (back.task_id, back.status, back.size) == ("t", "SUCCESS", 12)
    batch["columns"][0].append("extra")  # one column longer than the others: a broken batch
    with pytest.raises(ValueError):
        records_from_batch(batch)
