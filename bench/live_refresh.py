"""A refresh after one live change, among many rows: what each write costs the table model.

The store is filled from a real result directory (records scattered in memory as after a
first scan), sorted as the inspector sorts it (newest change first), with no filter and with
one that keeps most rows. Then, five times, one task changes (a batch of one, as the tail
delivers it) and the model puts it in place (``TableModel.refresh``); the median is beside a
full re-sort of the same store in the same run (``ordered``), which is what a refresh must
not cost.

    python bench/live_refresh.py DIR COUNT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common import Figure, median, size_label


def run(path: Path, count: int) -> list[Figure]:
    from taskview.query import compile_query
    from taskview.results.record import TaskRecord
    from taskview.results.scan import ResultDirectory
    from taskview.store import Store
    from taskview.view.sorting import ordered
    from taskview.view.table_model import TableModel

    store = Store()
    for batch in ResultDirectory(str(path)).scan():
        store.add_many(batch)
    ids = sorted(store.records)
    started = time.perf_counter()
    ordered(store, "last_change", True)
    full_sort = time.perf_counter() - started
    label = size_label(count)
    figures = []
    for query in (None, "-status:FAILURE"):
        model = TableModel(store)
        model.sort("last_change", True)
        model.set_filter(compile_query(query) if query else None)
        while model.filtering:
            model.step_filter(10.0)
        took = []
        for k in range(5):
            old = store.records[ids[(k * 7919) % len(ids)]]
            changed = TaskRecord(old.task_id, old.prefix, status="SUCCESS", name=old.name, mtime=time.time() + k)
            store.add_many([changed], live=True)
            model.touch([old.task_id])
            started = time.perf_counter()
            model.refresh()
            took.append(time.perf_counter() - started)
        value = median(took) * 1000
        figures.append(
            Figure(
                f"live refresh, one change, {label} rows" + (f" (filter {query})" if query else ""),
                value,
                "ms",
                full_sort * 1000,
                "full re-sort",
                "< 10 ms",
                value < 10,
            )
        )
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    for figure in run(Path(sys.argv[1]), int(sys.argv[2])):
        print(figure.row())
