"""The store: what it keeps, what it remembers, how it sorts and filters."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.samples import SAMPLE_RESULTS, sample_store
from taskview.query import compile_query
from taskview.results.codec import decode
from taskview.results.problems import Problem, ProblemKind
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


# --- sorting: expected orders stated by hand, or by a model of the README's words -----------
#
# Neither uses the store's own sort keys (SORT_KEYS): what each column means comes from the
# README ("The inspector") and the store's docstrings. TIME is when the task finished
# (date_done) or, while it runs, when its file was first seen; RUNTIME is date_done minus when
# taskview saw it STARTED; CHANGED is when its (displayed) status last changed; SIZE the file's
# last size. Ties go by task id in the sort's direction; rows whose value is unknown come last
# in both directions, by task id (ascending: the store's behaviour since the first sort).

TASK, GROUP = "celery-task-meta-", "celery-taskset-meta-"


#: What a file caught mid-write reads as, and what a file that is no result reads as.
_PARTIAL = Problem(ProblemKind.EMPTY, "empty (being written?)")
_NOT_A_RESULT = Problem(ProblemKind.NOT_A_RESULT, "not a Celery result", ": json list, not a mapping")


def write(store: Store, task_id: str, when: float, **fields) -> None:
    """One write of a task's file at mtime ``when``, as a record read from it."""
    group = fields.pop("group", False)
    store.add(TaskRecord(task_id, GROUP if group else TASK, mtime=when, **fields))


def hand_store() -> Store:
    """Ten files, each written once or a few times; see the table in SORTED_BY_HAND."""
    store = Store()
    # a1: seen STARTED at 200, SUCCESS written at 260 (date_done 250): runtime 50.
    write(store, "a1", 200.0, status="STARTED", name="tasks.sleep", worker="w2", size=120, running=11)
    write(store, "a1", 260.0, status="SUCCESS", name="tasks.sleep", worker="w2", size=150, date_done=250.0)
    # b7: PROGRESS 1/4 at 100, rewritten at 400 as 3/4: the same status, so CHANGED stays 100,
    # and TIME is still when it was first seen (100), not the last write (400).
    write(store, "b7", 100.0, status="PROGRESS", name="tasks.import", worker="w1", size=300, running=(1.0, 4.0))
    write(store, "b7", 400.0, status="PROGRESS", name="tasks.import", worker="w1", size=300, running=(3.0, 4.0))
    # c3: finished before taskview looked (date_done 140, file seen at 150): no runtime.
    write(store, "c3", 150.0, status="FAILURE", name="tasks.add", worker="w1", size=900, date_done=140.0)
    # d4: an empty file, never good: unreadable, no name, no worker.
    write(store, "d4", 50.0, error=_PARTIAL, size=0)
    # e5: a group file: status GROUP, no name, no worker.
    write(store, "e5", 350.0, group=True, size=80)
    # f6: running since 650.
    write(store, "f6", 650.0, status="STARTED", name="tasks.add", worker="w3", size=150, running=12)
    # g0: like a1 (the same name, worker, date_done, runtime and size): ties everywhere.
    write(store, "g0", 200.0, status="STARTED", name="tasks.sleep", worker="w2", size=120, running=13)
    write(store, "g0", 260.0, status="SUCCESS", name="tasks.sleep", worker="w2", size=150, date_done=250.0)
    # h2: PROGRESS 6/8 = 3/4, like b7's.
    write(store, "h2", 120.0, status="PROGRESS", name="tasks.import", worker="w1", size=310, running=(6.0, 8.0))
    # i9: retried: STARTED at 100, RETRY at 110, STARTED again at 270, done at 290 (written at 300):
    # the runtime counts from the STARTED seen last (20), not from when its file was first seen.
    write(store, "i9", 100.0, status="STARTED", name="tasks.sleep", worker="w2", size=120, running=14)
    write(store, "i9", 110.0, status="RETRY", name="tasks.sleep", worker="w2", size=400)
    write(store, "i9", 270.0, status="STARTED", name="tasks.sleep", worker="w2", size=120, running=16)
    write(store, "i9", 300.0, status="SUCCESS", name="tasks.sleep", worker="w2", size=150, date_done=290.0)
    # j5: STARTED at 600, PROGRESS 4/16 at 700: TIME 600 (first seen), CHANGED 700, still running;
    # a quarter done (PROGRESS sorts by the fraction done, not by the step: 4 > b7's 3).
    write(store, "j5", 600.0, status="STARTED", name="tasks.import", worker="w3", size=120, running=15)
    write(store, "j5", 700.0, status="PROGRESS", name="tasks.import", worker="w3", size=200, running=(4.0, 16.0))
    return store


#   id  name          status      worker progress time runtime changed size
#   a1  tasks.sleep   SUCCESS     w2     -        250  50      260     150
#   b7  tasks.import  PROGRESS    w1     0.75     100  -       100     300
#   c3  tasks.add     FAILURE     w1     -        140  -       150     900
#   d4  -             unreadable  -      -        50   -       50      0
#   e5  -             GROUP       -      -        350  -       350     80
#   f6  tasks.add     STARTED     w3     -        650  -       650     150
#   g0  tasks.sleep   SUCCESS     w2     -        250  50      260     150
#   h2  tasks.import  PROGRESS    w1     0.75     120  -       120     310
#   i9  tasks.sleep   SUCCESS     w2     -        290  20      300     150
#   j5  tasks.import  PROGRESS    w3     0.25     600  -       700     200
SORTED_BY_HAND = {
    ("id", False): "a1 b7 c3 d4 e5 f6 g0 h2 i9 j5",
    ("id", True): "j5 i9 h2 g0 f6 e5 d4 c3 b7 a1",
    ("name", False): "c3 f6 b7 h2 j5 a1 g0 i9 d4 e5",
    ("name", True): "i9 g0 a1 j5 h2 b7 f6 c3 d4 e5",
    # Statuses as shown, compared as text: "unreadable" (lowercase) after every Celery state.
    ("status", False): "c3 e5 b7 h2 j5 f6 a1 g0 i9 d4",
    ("status", True): "d4 i9 g0 a1 f6 j5 h2 b7 e5 c3",
    ("worker", False): "b7 c3 h2 a1 g0 i9 f6 j5 d4 e5",
    ("worker", True): "j5 f6 i9 g0 a1 h2 c3 b7 d4 e5",
    ("progress", False): "j5 b7 h2 a1 c3 d4 e5 f6 g0 i9",
    ("progress", True): "h2 b7 j5 a1 c3 d4 e5 f6 g0 i9",
    ("time", False): "d4 b7 h2 c3 a1 g0 i9 e5 j5 f6",
    ("time", True): "f6 j5 e5 i9 g0 a1 c3 h2 b7 d4",
    ("runtime", False): "i9 a1 g0 b7 c3 d4 e5 f6 h2 j5",
    ("runtime", True): "g0 a1 i9 b7 c3 d4 e5 f6 h2 j5",
    ("last_change", False): "d4 b7 h2 c3 a1 g0 i9 e5 f6 j5",
    ("last_change", True): "j5 f6 e5 i9 g0 a1 c3 h2 b7 d4",
    ("size", False): "d4 e5 a1 f6 g0 i9 j5 b7 h2 c3",
    ("size", True): "c3 h2 b7 j5 i9 g0 f6 a1 e5 d4",
}
COLUMNS = ("id", "name", "status", "worker", "progress", "time", "runtime", "last_change", "size")


def test_every_column_is_covered_by_hand_both_ways():
    assert set(SORTED_BY_HAND) == {(key, reverse) for key in COLUMNS for reverse in (False, True)}


@pytest.mark.parametrize("key, reverse", list(SORTED_BY_HAND))
def test_sort_orders_stated_by_hand(key: str, reverse: bool):
    store = hand_store()
    assert " ".join(ordered_ids(store, key, reverse)) == SORTED_BY_HAND[key, reverse]
    # The same order with a filter that keeps every row, and with one that keeps a few.
    assert " ".join(ordered_ids(store, key, reverse, compile_query("-kind:nothing"))) == SORTED_BY_HAND[key, reverse]
    some = {"a1", "d4", "f6", "j5"}
    wanted = [i for i in SORTED_BY_HAND[key, reverse].split() if i in some]
    assert ordered_ids(store, key, reverse, lambda r: r.task_id in some) == wanted


def test_a_rewrite_that_keeps_the_status_changes_neither_time_nor_changed():
    """b7's 3/4 at 400 is its latest write: TIME (first seen) and CHANGED (status) stay at 100."""
    store = hand_store()
    b7 = store.get("b7")
    assert (b7.mtime, b7.first_seen, b7.last_change, b7.progress) == (400.0, 100.0, 100.0, (3.0, 4.0))
    assert ordered_ids(store, "time", False)[1] == "b7" and ordered_ids(store, "last_change", False)[1] == "b7"


# A brute-force model: a task's history of writes -> the value each column shows.


def shown_status(fields: dict) -> str:
    """The status column for one write's fields."""
    if fields.get("error"):
        return "unreadable"
    return "GROUP" if fields.get("group") else fields["status"]


def model_values(history: list[dict]) -> dict[str, object]:
    """What the table shows of a task after ``history``, from the README's definitions."""
    kept: list[dict] = []
    for w in history:
        if kept and w.get("error") == _PARTIAL and not kept[-1].get("error"):
            continue  # caught mid-write: the last good row stays
        kept.append(w)
    # Reads mid-write before the first whole one are not history: that one is the first sight.
    whole = next((i for i, w in enumerate(kept) if w.get("error") != _PARTIAL), 0)
    kept = kept[whole:]
    last = kept[-1]
    first = kept[0]
    # First seen finished: when it finished (date_done), not when its file was written.
    first_seen = first["date_done"] if first.get("date_done") is not None else first["mtime"]
    changed = started = None
    previous = None
    for w in kept:
        status = shown_status(w)
        if status != previous:
            changed = first_seen if w is first else w["mtime"]
            if status == "STARTED":
                started = w["mtime"]  # taskview saw it start
        previous = status
    date_done = last.get("date_done")
    progress = last.get("progress")
    # A write without a name (no result_extended fields) keeps the name the task had.
    names = [w["name"] for w in kept if w.get("name") is not None]
    return {
        "name": names[-1] if names else None,
        "status": shown_status(last),
        "worker": last.get("worker"),
        "progress": progress[0] / progress[1] if progress else None,
        "time": date_done if date_done is not None else first_seen,
        "runtime": max(0.0, date_done - started) if date_done is not None and started is not None else None,
        "last_change": changed,
        "size": last["size"],
    }


def model_order(values: dict[str, object], reverse: bool) -> list[str]:
    """Known values in order, ties by id the same way; unknown values last, by id."""
    known = sorted(((v, i) for i, v in values.items() if v is not None), reverse=reverse)
    return [i for _, i in known] + sorted(i for i, v in values.items() if v is None)


READY = ("SUCCESS", "FAILURE", "REVOKED")


def random_history(rng: random.Random, group: bool) -> list[dict]:
    """A task's writes, each as the fields of the record read from its file."""
    when = 1000.0 + rng.choice([0.0, 3.0, 40.0])
    history = []
    for _ in range(1 if group else rng.randint(1, 4)):
        when += rng.choice([0.0, 1.0, 5.0])  # 0: within one mtime tick
        size = rng.choice([0, 90, 120])
        unreadable = rng.choice([None, None, None, _PARTIAL, _NOT_A_RESULT])
        if group:
            history.append({"group": True, "status": None, "size": size, "mtime": when})
        elif unreadable:
            history.append({"error": unreadable, "status": None, "size": size, "mtime": when})
        else:
            status = rng.choice(["STARTED", "PROGRESS", "RETRY", "GOING_TO_SLEEP", *READY])
            history.append(
                {
                    "status": status,
                    "name": rng.choice([None, "tasks.add", "tasks.sleep"]),
                    "worker": rng.choice([None, "w1", "w2"]),
                    "size": size,
                    "mtime": when,
                    # date_done a moment before the write, or long before (before the STARTED seen: runtime 0)
                    "date_done": when - rng.choice([0.0, 0.5, 30.0]) if status in READY else None,
                    "progress": rng.choice([None, (1.0, 4.0), (2.0, 8.0), (3.0, 4.0)])
                    if status == "PROGRESS"
                    else None,
                }
            )
    return history


IDS = ["a", "b", "ab", "ba", "0", "a0", "b0", "0b", "aa", "bb", "00", "ab0"]


@pytest.mark.parametrize("seed", range(20))
def test_sorts_equal_a_brute_force_model_of_what_each_column_means(seed: int):
    """Random histories (rewrites, ties, unknown values, unreadable and cut files) of a few tasks."""
    rng = random.Random(seed)
    for _ in range(10):
        store = Store()
        values: dict[str, dict[str, object]] = {}
        for task_id in rng.sample(IDS, rng.randint(1, len(IDS))):
            history = random_history(rng, group=rng.random() < 0.1)
            for h in history:
                store.add(
                    TaskRecord(
                        task_id,
                        GROUP if h.get("group") else TASK,
                        status=h["status"],
                        name=h.get("name"),
                        worker=h.get("worker"),
                        date_done=h.get("date_done"),
                        mtime=h["mtime"],
                        size=h["size"],
                        error=h.get("error"),
                        running=h.get("progress"),
                    )
                )
            values[task_id] = {"id": task_id, **model_values(history)}
        for key in COLUMNS:
            for reverse in (False, True):
                expected = model_order({i: v[key] for i, v in values.items()}, reverse)
                assert ordered_ids(store, key, reverse) == expected, (
                    key,
                    reverse,
                    {i: v[key] for i, v in values.items()},
                )


def test_the_real_sample_files_sort_as_their_contents_say():
    """The sample directory, each column's value read from the JSON files themselves."""
    import json
    from datetime import datetime

    def date(text: str | None) -> float | None:
        return None if text is None else datetime.fromisoformat(text).timestamp()

    values: dict[str, dict[str, object]] = {}
    for path in SAMPLE_RESULTS.iterdir():
        meta = json.loads(path.read_bytes())
        stat = path.stat()
        if path.name.startswith("celery-taskset-meta-"):
            task_id, status, meta = path.name.removeprefix("celery-taskset-meta-"), "GROUP", {}
        else:
            task_id, status = meta["task_id"], meta["status"]
        result = meta.get("result") if isinstance(meta.get("result"), dict) else {}
        worker = meta.get("worker") or (result.get("hostname") if status == "STARTED" else None)
        progress = result["current"] / result["total"] if status == "PROGRESS" else None
        done = date(meta.get("date_done"))
        values[task_id] = {
            "id": task_id,
            "name": meta.get("name"),
            "status": status,
            "worker": worker,
            "progress": progress,
            "time": done if done is not None else stat.st_mtime,
            "runtime": None,
            "last_change": done if done is not None else stat.st_mtime,  # finished: when it did
            "size": stat.st_size,
        }
    assert sum(v["progress"] is not None for v in values.values()) == 1
    assert sum(v["name"] is None for v in values.values()) >= 2  # the group, a revoke without extended fields
    store = sample_store()
    for key in COLUMNS:
        for reverse in (False, True):
            expected = model_order({i: v[key] for i, v in values.items()}, reverse)
            assert ordered_ids(store, key, reverse) == expected, (key, reverse)


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
    expected = ordered(store, sort_key, reverse, predicate)
    assert update_order(store.records, order, touched, sort_key, reverse, predicate) == expected


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
