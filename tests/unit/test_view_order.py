"""The table's order over the store: filtering in slices gives exactly what a filtered sort gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.samples import sample_store
from taskview.query import compile_query
from taskview.store import SORT_KEYS, update_order
from taskview.view_order import ViewOrder

QUERIES = ["status:SUCCESS,FAILURE", "-status:SUCCESS", "add", "name:sleep", "e6", "sample-worker", "nothing-matches"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(SORT_KEYS)), st.booleans(), st.sampled_from(QUERIES), st.integers(1, 7), st.integers(1, 7))
def test_sliced_filter_equals_a_filtered_sort(sort_key, reverse, query, slice_size, first_slice):
    store = sample_store()
    view = ViewOrder(store)
    view.sort(sort_key, reverse)
    predicate = compile_query(query)
    steps = [list(step) for step in view.filter_steps(predicate, slice_size, first_slice)]
    assert steps, "at least one step, even for no rows"
    assert steps[-1] == store.ordered(sort_key, reverse, predicate)
    # The first step looked at the first rows only: a screenful can go up before the rest is read.
    first = min(first_slice, slice_size)
    assert steps[0] == [r for r in view.everything[:first] if predicate(r)]


def test_a_task_leaving_between_slices_is_walked_as_it_was_then_moved_out():
    store = sample_store()
    view = ViewOrder(store)
    view.sort("id", False)
    predicate = compile_query("-status:nothing")
    steps = view.filter_steps(predicate, 5)
    first = list(next(steps))
    gone = view.everything[-1]
    store.remove(gone.task_id)
    *_, final = steps
    assert final[: len(first)] == first and final[-1] is gone
    assert update_order(store, final, {gone.task_id}, "id", False, predicate) == store.ordered("id", False, predicate)


def test_changes_keep_everything_sorted():
    store = sample_store()
    view = ViewOrder(store)
    view.sort("status", True)
    victim = view.everything[3].task_id
    store.remove(victim)
    assert view.changed({victim}) == store.ordered("status", True)


async def test_the_inspector_filters_in_slices_and_keeps_live_changes(samples):
    """A filter over a store bigger than a slice: the first rows show before the rest,
    and a file that changes while the filter runs is in the final rows."""
    import json

    from helpers.pilot import loaded, summary_text, wait_until
    from helpers.samples import SAMPLE_COUNT
    from taskview.query import compile_query
    from taskview.results.scan import ResultDirectory
    from taskview.sources.tail import TailBatch
    from taskview.ui.app import RecordsArrived, TaskviewApp

    app = TaskviewApp(ResultDirectory(str(samples)))
    app.filter_slice = 2  # 21 files: 11 slices
    app.filter_step_seconds = 0.0  # one slice per timer tick
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app, SAMPLE_COUNT)
        app.predicate = compile_query("-status:success")
        app._show_filtered()
        assert app._filtering is not None and len(table.order) <= 2  # the first slice's rows, at once
        assert "filtering" in (app._update_summary() or summary_text(app))
        # A STARTED task becomes a FAILURE while the filter is running, as the tail would deliver it.
        started = next(p for p in samples.iterdir() if b'"STARTED"' in p.read_bytes())
        meta = json.loads(started.read_bytes())
        meta.update(status="FAILURE", result={"exc_type": "ValueError", "exc_message": ["late"], "exc_module": "builtins"})
        started.write_text(json.dumps(meta))
        app.on_records_arrived(RecordsArrived(TailBatch(records=[app.results.read_record(started.name)])))
        assert app._filtering is not None and app._filter_touched
        await wait_until(pilot, lambda: app._filtering is None, timeout=10)
        assert table.task_ids == app.store.view(table.sort_key, table.sort_reverse, app.predicate)
        assert app.store.get(started.name[-36:]).status == "FAILURE" and started.name[-36:] in table.task_ids
        assert "FAILURE 3" in summary_text(app) and "filtering" not in summary_text(app)


async def test_changes_waiting_for_a_refresh_survive_a_new_filter(samples):
    """Rows that changed between two refreshes (a first scan, a flood) reach the order even when
    the user types a filter or clears it before the refresh comes."""
    from helpers.pilot import loaded
    from helpers.samples import SAMPLE_COUNT
    from taskview.query import compile_query
    from taskview.results.scan import ResultDirectory
    from taskview.sources.tail import TailBatch
    from taskview.ui.app import RecordsArrived, TaskviewApp

    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app, SAMPLE_COUNT)
        gone, moved = table.task_ids[0], table.task_ids[5]
        app.on_records_arrived(RecordsArrived(TailBatch(removed=[gone], scanning=True)))  # waits for the refresh
        app.predicate = compile_query("-status:nothing")
        app._show_filtered()
        await pilot.pause()
        assert gone not in table.task_ids and app._filtering is None and gone not in [r.task_id for r in app.view.everything]
        app.store.add(app.results.read_record(app.store.get(moved).filename), live=True)
        app._touched.add(moved)
        app._refresh_view()  # moving a row by binary search over an order that still held `gone` raised KeyError
        assert table.task_ids == app.store.view(table.sort_key, table.sort_reverse, app.predicate)


async def test_a_file_read_again_with_the_same_row_leaves_no_old_record_in_the_order(samples):
    """A re-read (a re-attached directory reads every file again) gives the store new records
    with the same rows: the order takes them too, rather than keep a second copy of every task."""
    from helpers.pilot import loaded
    from helpers.samples import SAMPLE_COUNT
    from taskview.results.scan import ResultDirectory
    from taskview.sources.tail import TailBatch
    from taskview.ui.app import RecordsArrived, TaskviewApp

    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app, SAMPLE_COUNT)
        again = [app.results.read_record(r.filename) for r in list(app.store.records.values())]
        app.on_records_arrived(RecordsArrived(TailBatch(records=again)))
        app._refresh_view()
        assert all(r is app.store.get(r.task_id) for r in app.view.everything)
        assert all(r is app.store.get(r.task_id) for r in app.table.order)
