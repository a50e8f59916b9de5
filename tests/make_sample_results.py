"""Regenerate ``sample_results/`` with a REAL Celery worker.

    .venv/bin/python tests/make_sample_results.py [OUTDIR] [--workflows]

``--workflows``: only ``OUTDIR/../sample_workflows`` (chains, a saved group, a chord, tasks starting tasks, a
retried task), leaving the other files as they are.

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

from celery import chain, chord, group  # noqa: E402

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


class Labels(dict):
    """File name -> what it is."""

    def label(self, task_id, text):
        self[f"{TASK_PREFIX}{task_id}"] = text
        return task_id


def generate(outdir: Path):
    labels = Labels()
    label = labels.label

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


#: Where the workflows go: a directory beside sample_results (taskview sample_workflows), so that
#: what reads sample_results (tests, the bench's templates) meets only its own files.
WORKFLOWS = "../sample_workflows"


def generate_workflows(outdir: Path) -> dict[str, str]:
    """Real worker output of each shape of workflow, into ``outdir`` (``sample_workflows``):
    a chain, a chain whose middle link fails, a group saved with GroupResult.save(), a chord, a task
    starting children, a task starting a group, a retried task. Returns file name -> what it is."""
    labels = Labels()
    label = labels.label

    with CeleryWorker(
        outdir, serializer="json", compression="", extended=True, pool="prefork", concurrency=2, name="sample-flows"
    ) as w:
        app = w.app

        def sig(name, *args, key):
            label(sid(key), f"{key}: {name}{args}")
            return app.signature(f"sampletasks.{name}", args=args).set(task_id=sid(key))

        ready = {}
        c = chain(sig("add", 1, 2, key="chain-1"), sig("add", 3, key="chain-2"), sig("add", 4, key="chain-3"))
        c.apply_async()
        ready.update({sid(f"chain-{i}"): "SUCCESS" for i in (1, 2, 3)})
        bad = chain(
            sig("add", 1, 1, key="badchain-1"), sig("fail_builtin", key="badchain-2"), sig("add", 5, key="badchain-3")
        )
        bad.apply_async()
        ready.update({sid("badchain-1"): "SUCCESS", sid("badchain-2"): "FAILURE"})
        gid = sid("saved-group")
        g = group(sig("add", i, 100, key=f"saved-group-{i}") for i in range(3)).apply_async(task_id=gid)
        ready.update({r.id: "SUCCESS" for r in g.results})
        header = group(sig("add", i, i, key=f"chord-header-{i}") for i in range(3))
        body = sig("tsum", key="chord-body")
        chord(header, body).apply_async(task_id=sid("chord-body"))
        ready[sid("chord-body")] = "SUCCESS"
        spawn = app.signature("sampletasks.spawn_children", args=(2, True)).set(task_id=sid("spawner"))
        label(sid("spawner"), "spawner: spawn_children(2)")
        spawn.apply_async()
        ready[sid("spawner")] = "SUCCESS"
        group_spawn = app.signature("sampletasks.spawn_group", args=(2,)).set(task_id=sid("group-spawner"))
        label(sid("group-spawner"), "group-spawner: spawn_group(2)")
        group_spawn.apply_async()
        ready[sid("group-spawner")] = "SUCCESS"
        retried = app.signature("sampletasks.retry_twice", kwargs={"countdown": 0.2}).set(
            task_id=sid("workflow-retried")
        )
        label(sid("workflow-retried"), "retried: retry_twice, SUCCESS after 2 retries")
        retried.apply_async()
        ready[sid("workflow-retried")] = "SUCCESS"
        metas = w.wait_all(ready, timeout=60)
        g.save()  # celery-taskset-meta-<gid>, written by Celery's backend
        labels[f"{GROUP_PREFIX}{gid}"] = "GroupResult.save() of 3 adds"
        for parent in (sid("spawner"), sid("group-spawner")):
            for child in _ids_in(metas[parent]["children"]):
                w.wait_for(child, "SUCCESS")
        time.sleep(0.5)
    return labels


def _ids_in(children):
    """Every task id in a meta's ``children`` (groups' members too)."""
    ids = []
    for (task_id, _parent), members in children or []:
        if members is None:
            ids.append(task_id)
        else:
            ids.extend(_ids_in(members))
    return ids


def main(argv):
    paths = [a for a in argv[1:] if not a.startswith("--")]
    outdir = Path(paths[0] if paths else REPO / "sample_results")
    outdir = outdir.resolve()
    t0 = time.monotonic()
    only_workflows = "--workflows" in argv
    if not only_workflows:
        clean(outdir)
        labels = generate(outdir)
    else:
        labels = {}
    clean(outdir / WORKFLOWS)
    labels.update(generate_workflows(outdir / WORKFLOWS))
    for p in [*outdir.glob(".fs-backend-*"), *outdir.glob(f"{WORKFLOWS}/.fs-backend-*")]:  # normally deleted by Celery
        p.unlink()

    backend = celery_backend(None, "json", "", True)
    rows = []
    for p in sorted([*outdir.iterdir(), *(outdir / WORKFLOWS).iterdir()]):
        if not p.is_file() or not p.name.startswith((TASK_PREFIX, GROUP_PREFIX)):
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
    main([a for a in sys.argv if a != "--workflows"] + (["--workflows"] if "--workflows" in sys.argv else []))
