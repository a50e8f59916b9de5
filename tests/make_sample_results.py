"""Regenerate ``sample_results/`` with a REAL Celery worker.

    .venv/bin/python tests/make_sample_results.py [OUTDIR]

OUTDIR defaults to ``sample_results/`` at the repository root. Every file in
it is written by Celery itself (the worker, or Celery's client-side backend for
``GroupResult.save()``); nothing is written by hand. Configuration: json
serializer, ``result_extended=True``, ``task_track_started=True``, no
compression, kombu's filesystem broker (no server).

Task and group ids are fixed (uuid5 of a label), so the file names stay the
same from one regeneration to the next; the contents do not (date_done, the
STARTED pid, hostname, traceback paths). Existing ``celery-*`` result files in OUTDIR are deleted first; other files are
left alone. The worker is stopped with SIGKILL at the end, the way a crashed
host leaves tasks: the STARTED/PROGRESS/GOING_TO_SLEEP/RETRY files stay so.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from celery import group  # noqa: E402

from helpers.celery_harness import (  # noqa: E402
    GROUP_PREFIX,
    TASK_PREFIX,
    CeleryWorker,
    celery_backend,
)

REPO = HERE.parent
#: Task/group ids are derived from labels: regenerating gives the same file
#: names (contents still change: date_done, pid, hostname, paths).
NAMESPACE = uuid.UUID("5f0e6a52-8a53-4c1e-9a55-7a1d2c3b4e5f")


def sid(label):
    """A fixed id that looks like Celery's own (a version-4 UUID)."""
    return str(uuid.UUID(bytes=uuid.uuid5(NAMESPACE, label).bytes, version=4))


RESULT_PREFIXES = (TASK_PREFIX, GROUP_PREFIX, "chord-unlock-", ".fs-backend-")


def clean(outdir: Path):
    outdir.mkdir(parents=True, exist_ok=True)
    for p in outdir.iterdir():
        if p.is_file() and p.name.startswith(RESULT_PREFIXES):
            p.unlink()


def generate(outdir: Path):
    labels: dict[str, str] = {}  # file name -> what it is

    def label(task_id, text):
        labels[f"{TASK_PREFIX}{task_id}"] = text
        return task_id

    with CeleryWorker(
        outdir, serializer="json", compression="", extended=True, pool="prefork", concurrency=3, name="sample-worker"
    ) as w:
        app = w.app

        def send(key, text, task, *args, **kwargs):
            """Send with the fixed id sid(key); label its file with text."""
            r = w.send(task, *args, options={"task_id": sid(key)}, **kwargs)
            label(r.id, text)
            return r

        ready = {}

        # -- finished tasks ------------------------------------------------
        ready[send("add", "add(2, 3)", "add", 2, 3).id] = "SUCCESS"
        ready[send("fail_builtin", "raises ValueError (builtin)", "fail_builtin", "bad value: -1").id] = "FAILURE"
        ready[
            send(
                "fail_custom", "raises sampletasks.InventoryError (custom)", "fail_custom", "out of stock", "sku-42"
            ).id
        ] = "FAILURE"
        ready[send("unicode", "unicode result", "unicode_result").id] = "SUCCESS"
        ready[send("large", "large result (~200 KB)", "large_result", 200_000).id] = "SUCCESS"
        ready[send("typed", "datetime/date/time/Decimal/UUID/bytes (json __type__ tags)", "typed").id] = "SUCCESS"
        parent = send("parent", "parent: spawn_children(3)", "spawn_children", 3, True)
        ready[parent.id] = "SUCCESS"
        ready[send("retried", "retried twice, then SUCCESS (retries=2)", "retry_twice", countdown=0.2).id] = "SUCCESS"

        gid = sid("group")
        g = group(
            app.signature("sampletasks.add", args=(i, 10 * i)).set(task_id=sid(f"group-member-{i}")) for i in range(3)
        ).apply_async(task_id=gid)
        assert g.id == gid
        for child in g.results:
            ready[label(child.id, f"member of group {g.id[:8]}")] = "SUCCESS"

        metas = w.wait_all(ready, timeout=30)
        g.save()  # celery-taskset-meta-<gid>, written by Celery's backend
        labels[f"{GROUP_PREFIX}{g.id}"] = "GroupResult.save() of 3 adds"
        for child_id, _ in metas[parent.id]["children"]:
            cid = child_id[0]
            label(cid, f"child of {parent.id[:8]} (add.delay in a task)")
            w.wait_for(cid, "SUCCESS")

        # -- REVOKED: terminated while running ------------------------------
        r = send("terminated", "sleep(60) revoked with terminate=True", "sleep", 60)
        w.wait_for(r.id, "STARTED")
        w.revoke(r.id, terminate=True, signal="SIGTERM")
        w.wait_for(r.id, "REVOKED")

        # -- caught mid-way: RETRY, then 3 victims filling the 3 slots ------
        retry = send("retry", "caught in RETRY (countdown=3600, worker killed)", "retry_twice", countdown=3600)
        w.wait_for(retry.id, "RETRY")

        started = send("started", "sleep(120) still running when worker SIGKILLed", "sleep", 120)
        prog = send(
            "progress",
            "progress caught at 3/6 (worker SIGKILLed)",
            "progress",
            total=6,
            delay=0.05,
            stall_at=3,
            stall=120,
        )
        sleepy = send("going_to_sleep", "GOING_TO_SLEEP, meta None (worker SIGKILLed)", "going_to_sleep", 120)
        w.wait_all({started.id: "STARTED", sleepy.id: "GOING_TO_SLEEP"})
        deadline = time.monotonic() + 20
        while (w.read_meta(prog.id) or {}).get("result") != {"current": 3, "total": 6}:
            if time.monotonic() > deadline:
                raise TimeoutError("progress task never reached 3/6")
            time.sleep(0.05)

        # -- REVOKED while queued: all 3 pool slots are busy now ------------
        queued = send("revoked_queued", "add(40, 2) revoked while still queued", "add", 40, 2)
        time.sleep(0.5)
        assert w.read_raw(queued.id) is None, "queued task already ran?"
        w.revoke(queued.id)
        w.wait_for(queued.id, "REVOKED")

        # Let the worker finish writing, then kill it like a crashed host.
        time.sleep(0.3)
        w.kill()

    return labels


def main(argv):
    outdir = Path(argv[1] if len(argv) > 1 else REPO / "sample_results")
    outdir = outdir.resolve()
    t0 = time.monotonic()
    clean(outdir)
    labels = generate(outdir)
    for p in outdir.glob(".fs-backend-*"):  # normally deleted by Celery
        p.unlink()

    backend = celery_backend(None, "json", "", True)
    rows = []
    for p in sorted(outdir.iterdir()):
        if not p.name.startswith((TASK_PREFIX, GROUP_PREFIX)):
            continue
        raw = p.read_bytes()
        meta = backend.decode(raw) if raw else None
        status = (meta or {}).get("status", "(group)" if p.name.startswith(GROUP_PREFIX) else "?")
        rows.append((status, p.name, len(raw), labels.get(p.name, "")))
    width = max(len(r[1]) for r in rows)
    for status, name, size, text in sorted(rows, key=lambda r: (r[0], r[3])):
        print(f"{name:<{width}}  {status:<15} {size:>7} B  {text}")
    print(f"{len(rows)} files in {outdir} ({time.monotonic() - t0:.1f} s)")


if __name__ == "__main__":
    main(sys.argv)
