"""Bulk actions: marking every row of a 1M-row filter, and sending 1,000 revokes, each beside its same-run baseline.

    .venv/bin/python bench/bulk.py             # needs redis-server on PATH (a private one is started)

- mark: ``Marks.mark_rows`` of 1M rows (the issue: < 300 ms) beside a bare ``set()`` of 1M ids.
- revoke: ``control.bulk.execute`` of 1,000 revokes (plan as the inspector makes it, one ping,
  broadcasts of 100 ids; the issue: < 5 s) on a private redis-server with one real worker
  answering, beside the broker's own round trip (1,000 bare publishes of one id each over one
  connection, what the same messages cost the broker and kombu) and Celery's own
  ``app.control.revoke`` of the 1,000 ids one by one.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import demo_workers, private_redis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def best(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_mark() -> None:
    from taskview.results.record import TaskRecord
    from taskview.view.marks import Marks

    rows = [TaskRecord(str(uuid.uuid4()), "celery-task-meta-", status="STARTED") for _ in range(1_000_000)]
    keys = {r.task_id: r for r in rows}  # the store's dict: every id's hash known, as in the inspector
    ids = list(keys)
    bare = best(lambda: set(ids))
    mark = best(lambda: Marks().mark_rows(rows))
    print(f"mark 1M rows: {mark * 1000:.0f} ms   (baseline: set() of 1M ids {bare * 1000:.0f} ms)   target < 300 ms")


def bench_revoke() -> None:
    from celery import Celery

    from taskview.control.controller import Controller

    if not shutil.which("redis-server"):
        print("revoke: redis-server is not on PATH: skipped")
        return
    work = Path(tempfile.mkdtemp(prefix="taskview-bench-bulk-"))
    try:
        with (
            private_redis(work) as url,
            demo_workers(url, work / "results", ["bench-bulk@%h"], "--without-heartbeat") as (worker,),
        ):
            app = Celery("bench-bulk", broker=url, set_as_current=False)
            controller = Controller(app)
            deadline = time.monotonic() + 30
            while not controller.ping(timeout=0.5):
                assert time.monotonic() < deadline and worker.poll() is None, "the worker did not answer"
            _revokes(app, controller)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _revokes(app, controller) -> None:  # type: ignore[no-untyped-def]
    """taskview's 1,000 revokes, the broker's own 1,000 publishes, Celery's revoke one by one."""
    from taskview.control.bulk import execute
    from taskview.control.bulk_plan import plan
    from taskview.results.record import TaskRecord

    records = [TaskRecord(str(uuid.uuid4()), "celery-task-meta-", status="STARTED", name="x") for _ in range(1000)]
    bulk = plan("revoke", records)

    def taskview_revokes() -> None:
        done = execute(bulk, controller=controller)
        assert all(d.ok for d in done), done[0]

    def broker_round_trip() -> None:
        with app.connection_for_write() as conn:
            producer = conn.Producer()
            for r in records:
                producer.publish({"revoke": r.task_id}, routing_key="taskview-bench-sink", retry=False)

    def celery_revokes() -> None:
        with app.connection_for_write() as conn:
            for r in records:
                app.control.revoke(r.task_id, connection=conn)

    ours = best(taskview_revokes)
    floor = best(broker_round_trip)
    celery = best(celery_revokes)
    print(
        f"1,000 revokes: {ours:.2f} s   (baseline: the broker's own 1,000 publishes {floor:.2f} s; "
        f"Celery's app.control.revoke one by one {celery:.2f} s)   target < 5 s"
    )


if __name__ == "__main__":
    print(f"load {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
    bench_mark()
    bench_revoke()
