"""The table model: the rows the table shows, sorted, filtered in slices, kept up to date.

Driven directly, without Textual. Every expected order is a full sort of the
store computed afresh (``ordered``), which tests/unit/test_store.py checks
against orders stated by hand.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS, sample_store
from taskview.query import compile_query
from taskview.results.codec import decode
from taskview.results.record import TaskRecord, display_status, summarize
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.view import table_model
from taskview.view.sorting import SORT_KEYS, ordered, update_order
from taskview.view.table_model import INCREMENTAL_LIMIT, TableModel

QUERIES = ["status:SUCCESS,FAILURE", "-status:SUCCESS", "add", "name:sleep", "e6", "sample-worker", "nothing-matches"]


def run_filter(model: TableModel, query: str | None) -> None:
    """Set a filter and step it to the end."""
    model.set_filter(compile_query(query) if query else None)
    while model.filtering:
        model.step_filter(1.0)


def ids(records) -> list[str]:
    return [r.task_id for r in records]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(SORT_KEYS)), st.booleans(), st.sampled_from(QUERIES), st.integers(1, 7), st.integers(1, 7)
)
def test_a_filter_in_slices_ends_with_exactly_a_filtered_sort(sort_key, reverse, query, slice_size, first_slice):
    store = sample_store()
    model = TableModel(store, filter_slice=slice_size, first_slice=first_slice)
    model.sort(sort_key, reverse)
    predicate = compile_query(query)
    model.set_filter(predicate)
    assert model.filtering
    # The first step looks at the first rows only: a screenful goes up before the rest is read.
    assert model.step_filter(0.0, screenful=1)
    if model.filtering:
        first = min(first_slice, slice_size)
        assert model.rows == [r for r in model.everything[:first] if predicate(r)]
    while model.filtering:
        model.step_filter(0.0)
    assert model.rows == ordered(store, sort_key, reverse, predicate)
    assert model.counts() == {s: n for s, n in store.counts(predicate).items() if n}


def test_no_filter_shows_every_row_at_once_with_the_stores_counts():
    store = sample_store()
    model = TableModel(store)
    model.sort("id", False)
    assert not model.filtering
    assert ids(model.rows) == sorted(store.records)
    assert model.counts() == store.counts() and model.total == SAMPLE_COUNT
    run_filter(model, "status:FAILURE")
    assert len(model.rows) == 2 and model.counts() == {"FAILURE": 2} and model.total == SAMPLE_COUNT
    model.set_filter(None)  # clearing is immediate
    assert not model.filtering and ids(model.rows) == sorted(store.records)


def test_a_first_step_shows_a_screenful_before_the_rest_is_read():
    store = sample_store()
    model = TableModel(store, filter_slice=4, first_slice=4)
    model.sort("id", False)
    model.set_filter(compile_query("-status:nothing"))
    assert model.step_filter(10.0, screenful=3)  # 3 rows match in the first slice: shown at once
    assert ids(model.rows) == sorted(store.records)[:4] and model.filtering
    assert not model.step_filter(0.0)  # the next slices show nothing until the last
    while model.filtering:
        changed = model.step_filter(0.0)
    assert changed and ids(model.rows) == sorted(store.records)


def test_a_sparse_filter_shows_its_first_screenful_at_the_step_that_finds_it():
    """Matches far down the order: the first step shows none, the step that finds a screenful shows
    it (not only the last step), the steps after show nothing new until the end."""
    store = sample_store()
    model = TableModel(store, filter_slice=2, first_slice=2)
    model.sort("id", True)
    failures = sorted((r.task_id for r in store.records.values() if r.status == "FAILURE"), reverse=True)
    order = sorted(store.records, reverse=True)
    where = sorted(order.index(f) for f in failures)
    last_slice = (len(order) - 1) // 2 * 2
    assert len(failures) == 2 and where[0] >= 2 and where[1] < last_slice  # neither in the first nor last slice
    model.set_filter(compile_query("status:FAILURE"))
    assert model.step_filter(0.0, screenful=2) and model.rows == []  # one slice, nothing yet
    shown = []
    while model.filtering:
        if model.step_filter(0.0):
            shown.append((ids(model.rows), model.filtering))
    # shown at the step that found both, while the filter still runs, then at its end
    assert shown == [(failures, True), (failures, False)]


def test_a_task_that_changes_while_a_filter_runs_is_in_its_final_rows(tmp_path: Path):
    """The filter walks the order as it was; what changed meanwhile goes in when it ends."""
    target = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, target)
    results = ResultDirectory(str(target))
    store = Store()
    for batch in results.scan():
        store.add_many(batch)
    model = TableModel(store, filter_slice=2, first_slice=2)
    model.sort("last_change", True)
    predicate = compile_query("-status:success")
    model.set_filter(predicate)
    model.step_filter(0.0, screenful=50)
    assert model.filtering
    # A STARTED task becomes a FAILURE while the filter runs, as the tail would deliver it.
    started = next(p for p in target.iterdir() if b'"STARTED"' in p.read_bytes())
    meta = json.loads(started.read_bytes())
    meta.update(status="FAILURE", result={"exc_type": "ValueError", "exc_message": ["late"], "exc_module": "builtins"})
    started.write_text(json.dumps(meta))
    store.add(results.read_record(started.name), live=True)
    model.touch([meta["task_id"]])
    assert not model.refresh()  # held back: the filter in progress walks the old order
    while model.filtering:
        model.step_filter(0.0)
    assert model.rows == ordered(store, "last_change", True, predicate)
    assert meta["task_id"] in ids(model.rows) and model.counts()["FAILURE"] == 3


def test_changes_waiting_for_a_refresh_survive_a_new_filter():
    """Rows that changed between two refreshes (a first scan, a flood) reach the order even when
    the user types a filter or clears it before the refresh comes."""
    store = sample_store()
    model = TableModel(store)
    model.sort("last_change", True)
    gone, moved = model.rows[0].task_id, model.rows[5].task_id
    store.remove(gone)
    model.touch([gone])  # waits for the refresh
    run_filter(model, "-status:nothing")
    assert gone not in ids(model.rows) and gone not in ids(model.everything)
    store.add(ResultDirectory(str(SAMPLE_RESULTS)).read_record(store.get(moved).filename), live=True)
    model.touch([moved])
    assert model.refresh()  # moving a row by binary search over an order that still held `gone` raised KeyError
    assert model.rows == ordered(store, "last_change", True, compile_query("-status:nothing"))


def test_a_file_read_again_with_the_same_row_leaves_no_old_record_in_the_order():
    """A re-read (a re-attached directory reads every file again) gives the store new records
    with the same rows: the order takes them too, rather than keep a second copy of every task."""
    store = sample_store()
    model = TableModel(store)
    model.sort("status", False)
    results = ResultDirectory(str(SAMPLE_RESULTS))
    again = [results.read_record(r.filename) for r in list(store.records.values())]
    store.add_many(again)
    model.touch(r.task_id for r in again)
    assert model.refresh()
    assert all(r is store.get(r.task_id) for r in model.everything)
    assert all(r is store.get(r.task_id) for r in model.rows)


def test_a_flood_re_sorts_a_small_store_at_once_and_a_big_one_at_most_every_four_sorts(monkeypatch):
    store = sample_store()
    now = [100.0]
    model = TableModel(store, clock=lambda: now[0])
    model.sort("id", True)
    flood = [f"gone-{n}" for n in range(INCREMENTAL_LIMIT + 1)]  # more than are moved one by one
    victim = model.rows[0].task_id
    store.remove(victim)
    model.touch([*flood, victim])
    assert model.refresh() and victim not in ids(model.rows)  # small: re-sorted at once
    monkeypatch.setattr(table_model, "BIG_STORE", 5)  # now the store counts as big
    model.sort_seconds = 1.0  # as if the last full sort took a second
    victim = model.rows[0].task_id
    store.remove(victim)
    model.touch([*flood, victim])
    now[0] += 3.0  # less than 4 x sort_seconds since the last sort
    assert not model.refresh() and victim in ids(model.rows)
    now[0] += 1.5
    assert model.refresh() and victim not in ids(model.rows)
    assert model.rows == ordered(store, "id", True)


def test_a_store_of_exactly_big_store_tasks_is_big_and_re_sorted_only_after_more_than_half_a_second(monkeypatch):
    store = sample_store()
    now = [100.0]
    model = TableModel(store, clock=lambda: now[0])
    model.sort("id", True)
    victim = model.rows[0].task_id
    store.remove(victim)
    monkeypatch.setattr(table_model, "BIG_STORE", len(store))  # exactly that many tasks: big
    model.sort_seconds = 0.0  # a quick last sort: the floor of half a second applies
    model.touch([*(f"gone-{n}" for n in range(INCREMENTAL_LIMIT + 1)), victim])
    now[0] = 100.5  # exactly half a second after the last sort: not more
    assert not model.refresh() and victim in ids(model.rows)
    now[0] = 100.75
    assert model.refresh() and victim not in ids(model.rows)


def test_exactly_incremental_limit_changes_are_moved_one_by_one_even_in_a_big_store(monkeypatch):
    store = sample_store()
    model = TableModel(store, clock=lambda: 100.0)
    model.sort("id", True)
    monkeypatch.setattr(table_model, "BIG_STORE", 5)  # big: a full sort would wait
    model.sort_seconds = 1.0
    victim = model.rows[0].task_id
    store.remove(victim)
    model.touch([*(f"gone-{n}" for n in range(INCREMENTAL_LIMIT - 1)), victim])  # INCREMENTAL_LIMIT in all
    assert model.refresh() and victim not in ids(model.rows)
    assert model.rows == ordered(store, "id", True)


def test_a_new_sort_keeps_the_filter():
    store = sample_store()
    model = TableModel(store)
    run_filter(model, "-status:SUCCESS")
    model.sort("name", False)
    assert model.filtering
    while model.filtering:
        model.step_filter(1.0)
    assert model.rows == ordered(store, "name", False, compile_query("-status:SUCCESS"))


def test_a_live_change_moves_its_row_within_the_filter():
    store = sample_store()
    model = TableModel(store)
    model.sort("id", False)
    run_filter(model, "status:FAILURE")
    failure = model.rows[0].task_id
    store.remove(failure)
    model.touch([failure])
    assert model.refresh()
    assert ids(model.rows) == [t for t in sorted(store.records) if store.get(t).status == "FAILURE"]
    assert model.counts() == {"FAILURE": 1}


@pytest.mark.parametrize("query", QUERIES)
def test_stepping_a_finished_filter_does_nothing(query):
    model = TableModel(sample_store())
    run_filter(model, query)
    rows = model.rows
    assert not model.step_filter(1.0) and model.rows is rows


def test_a_filter_with_time_to_spare_ends_in_one_step():
    store = sample_store()
    model = TableModel(store, filter_slice=2, first_slice=2)
    model.sort("id", False)
    model.set_filter(compile_query("-status:SUCCESS"))
    assert model.step_filter(60.0) and not model.filtering
    assert model.rows == ordered(store, "id", False, compile_query("-status:SUCCESS"))


def test_a_filter_out_of_time_reads_one_slice_a_step_and_ends_the_step_after_the_last():
    store = sample_store()
    slices = -(-SAMPLE_COUNT // 3)
    model = TableModel(store, filter_slice=3, first_slice=3)
    model.sort("id", False)
    model.set_filter(compile_query("-status:nothing"))
    steps = [model.step_filter(-1.0) for _ in range(slices + 1)]
    assert steps == [False] * slices + [True] and not model.filtering
    assert ids(model.rows) == sorted(store.records)
    empty = TableModel(Store())
    empty.set_filter(compile_query("anything"))
    assert [empty.step_filter(-1.0), empty.step_filter(-1.0)] == [False, True] and empty.rows == []


def test_a_screenful_is_shown_as_soon_as_it_is_reached_exactly():
    store = sample_store()
    model = TableModel(store, filter_slice=1, first_slice=1)
    model.sort("id", False)
    model.set_filter(compile_query("-status:nothing"))  # every row matches: one a slice
    assert model.step_filter(60.0, screenful=2)
    assert ids(model.rows) == sorted(store.records)[:2] and model.filtering


@pytest.mark.parametrize("reverse", [False, True])
def test_a_task_that_leaves_the_filter_while_it_runs_is_not_in_its_final_rows(reverse: bool):
    store = sample_store()
    model = TableModel(store, filter_slice=2, first_slice=2)
    model.sort("id", reverse)
    predicate = compile_query("status:FAILURE,STARTED")
    model.set_filter(predicate)
    model.step_filter(-1.0)
    assert model.filtering
    started = next(r for r in store.records.values() if r.status == "STARTED")
    success = next(p.read_bytes() for p in sorted(SAMPLE_RESULTS.iterdir()) if b'"SUCCESS"' in p.read_bytes())
    # Its next write: the task finished (a real SUCCESS file's content, under its id).
    done = summarize(
        started.task_id, "task", started.prefix, decode(success), size=len(success), mtime=started.mtime + 1
    )
    store.add(done, live=True)
    model.touch([started.task_id])
    assert not model.refresh()
    while model.filtering:
        model.step_filter(-1.0)
    assert started.task_id not in ids(model.rows)
    assert model.rows == ordered(store, "id", reverse, predicate) and len(model.rows) == 2


def test_a_flood_waiting_for_a_refresh_is_sorted_in_when_the_filter_is_cleared(monkeypatch):
    monkeypatch.setattr(table_model, "INCREMENTAL_LIMIT", 2)
    store = sample_store()
    model = TableModel(store)
    model.sort("id", False)
    victims = [r.task_id for r in model.rows[:3]]  # more than are moved one by one
    for task_id in victims:
        store.remove(task_id)
    model.touch(victims)
    model.set_filter(None)  # before the refresh comes
    assert model.rows == ordered(store, "id", False) and model.everything == model.rows
    model.touch(victims)
    run_filter(model, "-status:nothing")
    assert model.everything == ordered(store, "id", False)


def test_the_time_a_full_sort_took_is_measured():
    model = TableModel(sample_store())
    model.sort_seconds = -1.0
    model.sort("name", False)
    assert 0.0 <= model.sort_seconds < 10.0


def test_a_filter_over_an_empty_directory_shows_no_rows_and_no_counts():
    model = TableModel(Store())
    model.sort("last_change", True)
    run_filter(model, "status:FAILURE")
    assert model.rows == [] and not model.filtering
    assert model.counts() == {}
    run_filter(model, None)
    assert model.rows == [] and model.counts() == {}


def hand_store(*tasks: tuple[str, float, str]) -> Store:
    """Tasks by hand: (id, the time its file was written, status)."""
    store = Store()
    for task_id, when, status in tasks:
        write(store, task_id, when, status)
    return store


def write(store: Store, task_id: str, when: float, status: str) -> None:
    store.add(TaskRecord(task_id, "celery-task-meta-", status=status, mtime=when))


def test_a_new_model_shows_nothing_until_its_first_sort_then_the_newest_change_first():
    store = hand_store(("a", 10.0, "SUCCESS"), ("b", 30.0, "SUCCESS"), ("c", 20.0, "FAILURE"))
    model = TableModel(store)
    assert model.rows == [] and not model.filtering and not model.refresh()
    assert model.counts() == {"SUCCESS": 2, "FAILURE": 1}
    model.resort()
    assert ids(model.rows) == ["b", "c", "a"]
    # A change moves its row into place, newest first still.
    write(store, "a", 60.0, "FAILURE")
    model.touch(["a"])
    assert model.refresh() and ids(model.rows) == ["a", "b", "c"]


def test_a_big_store_flooded_before_its_first_sort_is_sorted_at_once(monkeypatch):
    monkeypatch.setattr(table_model, "BIG_STORE", 2)
    now = [100.0]
    store = hand_store(("a", 10.0, "SUCCESS"), ("b", 30.0, "SUCCESS"), ("c", 20.0, "SUCCESS"))
    model = TableModel(store, clock=lambda: now[0])
    flood = [f"gone-{n}" for n in range(INCREMENTAL_LIMIT + 1)]
    model.touch(flood)
    assert model.refresh() and ids(model.rows) == ["b", "c", "a"]
    # A second flood a second later: the last sort (of three rows) took far less than that.
    write(store, "d", 40.0, "SUCCESS")
    model.touch([*flood, "d"])
    now[0] += 1.0
    assert model.refresh() and ids(model.rows) == ["d", "b", "c", "a"]


def test_a_live_change_leaves_or_joins_the_filter_in_its_place_oldest_first():
    store = hand_store(("a", 10.0, "FAILURE"), ("b", 30.0, "FAILURE"), ("c", 20.0, "SUCCESS"), ("d", 5.0, "SUCCESS"))
    model = TableModel(store)
    model.sort("last_change", False)
    run_filter(model, "status:FAILURE")
    assert ids(model.rows) == ["a", "b"]
    write(store, "a", 60.0, "SUCCESS")  # leaves the filter
    write(store, "c", 50.0, "FAILURE")  # joins it, after b
    model.touch(["a", "c"])
    assert model.refresh()
    assert ids(model.rows) == ["b", "c"]
    assert model.counts() == {"FAILURE": 2}


def test_the_counts_a_filter_gave_stay_as_they_were_when_a_live_change_moves_them():
    """The summary bar keeps the Counter it was given and compares the next one with it (Counter
    equality takes a missing status for 0): a refresh that changed the given one in place left
    the bar showing "RESERVED 0" for the status a task had just left (seen on a real project)."""
    store = hand_store(("a", 10.0, "FAILURE"), ("b", 30.0, "RETRY"), ("c", 20.0, "SUCCESS"))
    model = TableModel(store)
    model.sort("last_change", False)
    run_filter(model, "-status:SUCCESS")
    given = model.counts()
    assert given == {"FAILURE": 1, "RETRY": 1}
    write(store, "b", 60.0, "SUCCESS")  # leaves the filter: no RETRY left in it
    model.touch(["b"])
    assert model.refresh()
    assert dict(given) == {"FAILURE": 1, "RETRY": 1}  # what the bar was given: as it was
    assert dict(model.counts()) == {"FAILURE": 1}  # no RETRY 0


def test_a_filter_not_stepped_yet_counts_no_row():
    store = hand_store(("a", 10.0, "SUCCESS"), ("b", 30.0, "SUCCESS"), ("c", 20.0, "FAILURE"))
    model = TableModel(store)
    model.resort()
    model.set_filter(compile_query("status:SUCCESS"))
    assert model.filtering and model.counts() == {}  # nothing matched so far
    while model.filtering:
        model.step_filter(1.0)
    assert model.counts() == {"SUCCESS": 2}


_IDS = ["a", "b", "c", "d", "e", "f"]
_OPS = st.one_of(
    st.tuples(
        st.just("write"),
        st.sampled_from(_IDS),
        st.integers(1, 6).map(float),  # ties: the id breaks them
        st.sampled_from(["SUCCESS", "FAILURE", "STARTED"]),
        st.sampled_from([None, "app.x", "app.y"]),
    ),
    st.tuples(st.just("write by hand"), st.sampled_from(_IDS), st.integers(1, 6).map(float)),
    st.tuples(st.just("remove"), st.sampled_from(_IDS)),
    st.tuples(st.just("touch"), st.sampled_from(_IDS)),  # no change in the store (a stale judgement)
    st.just(("refresh",)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SORT_KEYS)),
    st.booleans(),
    st.sampled_from([None, "status:FAILURE", "-status:SUCCESS", "name:app.x"]),
    st.lists(_OPS, max_size=30),
)
def test_live_changes_put_in_place_leave_exactly_a_full_sort(sort_key, reverse, query, ops):
    """Whatever the changes between refreshes (a batch, a removal, a record added by other means,
    a task touched with no change), each refresh leaves the rows a full sort would give: each
    task once, in place. Most are found where they sort (``Store.track_replaced``); the rest by a
    walk of the order."""
    store = hand_store(("a", 3.0, "SUCCESS"), ("b", 2.0, "FAILURE"), ("c", 2.0, "STARTED"))
    model = TableModel(store)
    model.sort(sort_key, reverse)
    run_filter(model, query)
    predicate = model.predicate
    for op in ops:
        if op[0] == "write":
            _, task_id, when, status, name = op
            store.add_many([TaskRecord(task_id, "celery-task-meta-", status=status, name=name, mtime=when)], live=True)
        elif op[0] == "write by hand":
            store.add(TaskRecord(op[1], "celery-task-meta-", status="RETRY", mtime=op[2]), live=True)
        elif op[0] == "remove":
            store.remove(op[1])
        if op[0] == "refresh":
            model.refresh()
            assert ids(model.everything) == ids(ordered(store, sort_key, reverse))
            assert ids(model.rows) == ids(ordered(store, sort_key, reverse, predicate))
            assert model.counts() == +Counter(map(display_status, model.rows))
        else:
            model.touch([op[1]])
    model.refresh()
    assert ids(model.rows) == ids(ordered(store, sort_key, reverse, predicate))


def test_a_live_change_is_put_in_place_without_a_walk_of_the_order():
    """The tasks a batch changed are found where their old records sort: a million rows are not
    walked at each refresh (0.2-0.5 s a walk)."""

    class Unwalkable(list):
        def __iter__(self):
            raise AssertionError("the order was walked")

    store = hand_store(*((f"t{n:03}", float(n), "SUCCESS") for n in range(200)))
    model = TableModel(store)
    model.sort("last_change", True)
    model.everything = model.rows = Unwalkable(model.everything)
    store.add_many([TaskRecord("t050", "celery-task-meta-", status="FAILURE", mtime=500.0)], live=True)
    store.add_many([TaskRecord("new", "celery-task-meta-", status="STARTED", mtime=400.0)], live=True)
    store.remove("t100")
    model.touch(["t050", "new", "t100", "t007"])  # t007: touched with no change (a stale judgement)
    assert model.refresh()
    assert model.rows is model.everything  # changed in place
    assert ids(list.__iter__(model.rows))[:3] == ["t050", "new", "t199"]
    assert "t100" not in ids(list.__iter__(model.rows)) and len(model.rows) == 200
    assert ids(list.__iter__(model.rows)) == ids(ordered(store, "last_change", True))


def test_a_live_change_within_a_filter_is_put_in_place_without_a_walk_of_its_rows():
    store = hand_store(*((f"t{n:03}", float(n), "SUCCESS" if n % 2 else "FAILURE") for n in range(200)))
    model = TableModel(store)
    model.sort("last_change", True)
    run_filter(model, "status:FAILURE")

    class Unwalkable(list):
        def __iter__(self):
            raise AssertionError("the filter's rows were walked")

    model.rows = Unwalkable(model.rows)
    store.add_many([TaskRecord("t050", "celery-task-meta-", status="FAILURE", mtime=500.0)], live=True)
    model.touch(["t050"])
    assert model.refresh()
    assert ids(list.__iter__(model.rows)) == ids(ordered(store, "last_change", True, model.predicate))
    assert model.counts() == {"FAILURE": 100}


def test_a_task_gone_from_the_store_leaves_an_order_that_does_not_say_what_it_was():
    """``update_order`` given no record of what a task was, for a task the store no longer holds:
    it is looked for by a walk (it may be anywhere), and taken out."""
    store = hand_store(("a", 1.0, "SUCCESS"), ("b", 2.0, "SUCCESS"), ("c", 3.0, "SUCCESS"))
    order = ordered(store, "last_change", True)
    store.remove("b")
    assert ids(update_order(store.records, order, ["b"], "last_change", True, was={})) == ["c", "a"]


def test_the_rows_changed_since_the_last_take_are_the_tasks_moved_or_none_when_the_rows_were_made_anew():
    store = hand_store(("a", 10.0, "SUCCESS"), ("b", 30.0, "SUCCESS"), ("c", 20.0, "FAILURE"))
    model = TableModel(store)
    model.resort()
    assert model.take_row_changes() is None  # sorted anew: a view over the rows starts again
    assert model.take_row_changes() == set()
    write(store, "a", 60.0, "FAILURE")
    model.touch(["a"])
    assert model.take_row_changes() is None  # "a" is still to come into the rows
    model.refresh()
    assert model.take_row_changes() == {"a"} and model.take_row_changes() == set()
    for query in ("status:FAILURE", None):
        run_filter(model, query)
        assert model.take_row_changes() is None
    model.filter_slice = model.first_slice = 1
    model.set_filter(compile_query("status:SUCCESS"))
    assert model.take_row_changes() is None  # taken while it runs
    model.step_filter(0.0, screenful=1)  # the first screenful shown: rows made anew
    assert model.take_row_changes() is None
    while model.filtering:
        model.step_filter(0.0)
        last = model.take_row_changes()
    assert last is None  # and at its end
    model.sort("status", False)
    assert model.take_row_changes() is None
    many = [f"gone-{n}" for n in range(INCREMENTAL_LIMIT + 1)]
    for batch in (many[:10], many[10:]):
        model.touch(batch)
        model.refresh()
    assert model.take_row_changes() is None  # as many as a flood: the rows are walked again


def test_a_task_pending_when_a_filter_ends_is_in_its_rows_once():
    """The filter's end puts a task touched meanwhile in its rows; the refresh that brings it into the
    sorted store finds it there, rather than where it was (nowhere: a second row)."""
    store = Store()
    for number in range(4):
        write(store, f"t{number}", float(number), "SUCCESS")
    model = TableModel(store, filter_slice=1, first_slice=1)
    model.resort()
    model.set_filter(compile_query("status:SUCCESS"))
    model.step_filter(0.0, screenful=1)
    store.add_many([TaskRecord("new", "celery-task-meta-", status="SUCCESS", mtime=9.0)], live=True)
    model.touch(["new"])
    while model.filtering:
        model.step_filter(0.0)
    model.refresh()
    assert ids(model.rows) == ids(ordered(store, model.sort_key, model.reverse, model.predicate))
