"""Row order (view/sorting.py): what the functions do with their defaults and with nothing to do.

The orders themselves are stated by hand, and checked against a model, in test_store.py.
"""

from __future__ import annotations

from helpers.samples import SAMPLE_RESULTS, sample_store
from taskview.results.codec import decode
from taskview.results.record import summarize
from taskview.store import Store
from taskview.view.sorting import ordered, ordered_ids, update_order


def test_ordered_defaults_to_the_last_change_newest_first():
    raw = next(p.read_bytes() for p in sorted(SAMPLE_RESULTS.iterdir()) if b'"STARTED"' in p.read_bytes())
    store = Store()
    for task_id, mtime in (("old", 1000.0), ("new", 2000.0), ("mid", 1500.0)):
        store.add(summarize(task_id, "task", "celery-task-meta-", decode(raw), size=len(raw), mtime=mtime))
    assert ordered_ids(store) == ["new", "mid", "old"] == ordered_ids(store, "last_change", True)
    assert [r.task_id for r in ordered(store)] == ["new", "mid", "old"]


def test_update_order_with_nothing_touched_leaves_the_order_as_it_is():
    store = sample_store()
    order = ordered(store, "status", False)
    again = update_order(store.records, order, [], "status", False)
    assert again is order and again == ordered(store, "status", False)
