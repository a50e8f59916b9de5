"""Celery app + sample tasks run by a REAL worker subprocess in the tests.

This module lives in ``tests/worker_app`` on purpose: only the worker
subprocess has that directory on its ``PYTHONPATH``; the test process cannot
import it, so a pickled ``InventoryError`` names a class the reader cannot
import (as with any real project's custom exception).

Configured from the environment (set by ``tests/celery_harness.py``):

- ``TASKVIEW_TEST_RESULTS``      results directory (``file://`` backend)
- ``TASKVIEW_TEST_BROKER_DIR``   kombu filesystem-broker folder
- ``TASKVIEW_TEST_SERIALIZER``   json | msgpack | yaml | pickle (default json)
- ``TASKVIEW_TEST_COMPRESSION``  '' | gzip | bzip2 | lzma | brotli | zstd
- ``TASKVIEW_TEST_EXTENDED``     0 | 1 (result_extended)
- ``TASKVIEW_TEST_READY_FILE``   optional: touched when the worker is ready
- ``TASKVIEW_TEST_PARENT_PID``  optional: SIGKILL our process group when
  that process (the test run) is gone
- ``TASKVIEW_TEST_BROKER_TRANSPORT`` optional kombu transport class path
  (the harness uses ``taskview.control.atomic_fs:Transport``; default: kombu's own)

The configuration itself is ``worker_config.celery_config()``, shared with
the client side (``celery_harness``), which loads that module by path so that
this one stays unimportable for the test process.
"""

import datetime
import decimal
import os
import random
import signal
import threading
import time
import uuid

from celery import Celery, signals
from celery.exceptions import Ignore
from worker_config import celery_config


def _config_from_env():
    env = os.environ
    return celery_config(
        env["TASKVIEW_TEST_RESULTS"],
        env["TASKVIEW_TEST_BROKER_DIR"],
        serializer=env.get("TASKVIEW_TEST_SERIALIZER", "json") or "json",
        compression=env.get("TASKVIEW_TEST_COMPRESSION", ""),
        extended=env.get("TASKVIEW_TEST_EXTENDED", "0") == "1",
        broker_transport=env.get("TASKVIEW_TEST_BROKER_TRANSPORT") or None,
    )


app = Celery("sampletasks")
app.conf.update(_config_from_env())


@signals.worker_init.connect
def _die_with_parent(**_):
    """If the test process that started us dies (even by SIGKILL, so it
    cannot clean up), SIGKILL this worker's whole process group."""
    parent = os.environ.get("TASKVIEW_TEST_PARENT_PID")
    if not parent:
        return

    def watch():
        while os.getppid() == int(parent):
            time.sleep(0.5)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


@signals.worker_ready.connect
def _touch_ready_file(**_):
    path = os.environ.get("TASKVIEW_TEST_READY_FILE")
    if path:
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))


class InventoryError(Exception):
    """A project-specific exception (its module is not importable by readers)."""


UNICODE_TEXT = "héllo wörld ✓ 日本語 🎉"


@app.task
def add(x, y):
    return x + y


@app.task
def fail_builtin(message="bad value"):
    raise ValueError(message)


@app.task
def fail_custom(message="out of stock", sku="sku-42"):
    raise InventoryError(message, sku)


@app.task(bind=True, max_retries=5)
def retry_twice(self, countdown=0.1, times=2):
    """Fails ``times`` times with self.retry, then succeeds."""
    if self.request.retries < times:
        raise self.retry(exc=ConnectionError("upstream 503"), countdown=countdown)
    return f"ok after {self.request.retries} retries"


@app.task
def sleep(seconds=30.0):
    time.sleep(seconds)
    return seconds


@app.task(bind=True)
def progress(self, total=4, delay=0.2, stall_at=None, stall=60.0):
    """PROGRESS {current, total} after each step; sleeps ``delay`` between
    steps, or ``stall`` seconds after step ``stall_at`` (to be caught there)."""
    for current in range(1, total + 1):
        self.update_state(state="PROGRESS", meta={"current": current, "total": total})
        time.sleep(stall if current == stall_at else delay)
    return {"current": total, "total": total}


@app.task(bind=True)
def going_to_sleep(self, seconds=1.0):
    self.update_state(state="GOING_TO_SLEEP")  # meta=None
    time.sleep(seconds)
    return "awake"


@app.task
def stays_started():
    """Leaves its file STARTED for good: raising Ignore stores no final state."""
    raise Ignore()


@app.task(bind=True)
def stays_progress(self, current=3, total=6):
    """Leaves its file in PROGRESS {current, total} (then raises Ignore)."""
    self.update_state(state="PROGRESS", meta={"current": current, "total": total})
    raise Ignore()


@app.task(bind=True)
def stays_custom_state(self, state="GOING_TO_SLEEP"):
    """Leaves its file in a custom state with meta None (then Ignore)."""
    self.update_state(state=state)
    raise Ignore()


@app.task(bind=True)
def spawn_children(self, n=3, stable_ids=False):
    """Calls other tasks with .delay: the meta's ``children`` lists them.

    ``stable_ids``: the children's ids derive from our own id (for sample
    files whose names do not change when they are regenerated)."""
    if not stable_ids:
        return [add.delay(i, i).id for i in range(n)]
    own = uuid.UUID(self.request.id)
    ids = [uuid.UUID(bytes=uuid.uuid5(own, f"child-{i}").bytes, version=4) for i in range(n)]
    return [add.apply_async((i, i), task_id=str(ids[i])).id for i in range(n)]


@app.task
def unicode_result():
    return UNICODE_TEXT


@app.task
def large_result(size=200_000, seed=42):
    """A string payload of ``size`` chars that compresses poorly (>128 KiB)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
    return "".join(rng.choices(alphabet, k=size))


TYPED_KINDS = ("datetime", "date", "time", "decimal", "uuid", "bytes_utf8", "bytes_binary")


def typed_value(kinds=None):
    values = {
        "datetime": datetime.datetime(2024, 5, 17, 13, 45, 12, 345678, tzinfo=datetime.timezone.utc),
        "date": datetime.date(2024, 5, 17),
        "time": datetime.time(13, 45, 12),
        "decimal": decimal.Decimal("1234.5600"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "bytes_utf8": "héllo".encode(),
        "bytes_binary": b"\x00\xff\xfe binary",
    }
    kinds = TYPED_KINDS if kinds is None else kinds
    return {k: values[k] for k in kinds}


@app.task
def typed(kinds=None):
    """datetime/date/time/Decimal/UUID/bytes: kombu's json ``__type__`` tags.

    ``kinds`` selects a subset (msgpack/yaml cannot encode all of them).
    """
    return typed_value(kinds)


@app.task
def tsum(numbers):
    """A chord body: the sum of its header's results."""
    return sum(numbers)


@app.task(bind=True)
def spawn_group(self, n=2):
    """Starts a group of adds from inside a task (each member names us as its parent)."""
    from celery import group

    own = uuid.UUID(self.request.id)
    ids = [str(uuid.UUID(bytes=uuid.uuid5(own, f"member-{i}").bytes, version=4)) for i in range(n)]
    gid = str(uuid.UUID(bytes=uuid.uuid5(own, "group").bytes, version=4))
    return group(add.si(i, i).set(task_id=ids[i]) for i in range(n)).apply_async(task_id=gid).id


class PaymentDeclined(Exception):
    """A second project-specific exception, whose message varies with the card and the code."""


@app.task
def fail_payment(card=4242, code=402):
    raise PaymentDeclined(f"card {card} declined ({code})")
