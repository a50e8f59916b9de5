"""taskview decodes what REAL Celery workers write, exactly as Celery does.

For every serializer x compression x result_extended (4 x 6 x 2 = 48) a real
``celery worker`` (solo pool, kombu filesystem broker) writes a set of results;
every file it leaves is then decoded by taskview and by Celery's own backend
(``backend.decode(raw)``), and the two must agree.

The 48 workers run in a session fixture, several at a time in threads (each
with its own results and broker folders), tasks sent before the worker is even
ready and all waited for together: about 20 s for the whole matrix on 2 cores.
``TASKVIEW_MATRIX_PARALLEL`` sets how many workers run at once (default 8).

Pickle: the worker's ``sampletasks.InventoryError`` cannot be imported here, so
Celery's decode of those files runs in a subprocess that can import it
(``celery_decode_with_app``); exceptions are compared as
(module, class name, args), the class module loosely for that custom class.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery import group

from helpers.celery_harness import (
    COMPRESSION_CONTENT_TYPES,
    COMPRESSIONS,
    GROUP_PREFIX,
    SERIALIZERS,
    TASK_PREFIX,
    CeleryWorker,
    ExcInfo,
    celery_backend,
    celery_decode_with_app,
    describe_exceptions,
)
from taskview.results.codec import decode
from taskview.results.problems import ProblemKind

pytestmark = pytest.mark.slow  # 48 real workers, one per serializer x compression x result_extended

CONFIGS = list(itertools.product(SERIALIZERS, COMPRESSIONS, (False, True)))
PARALLEL = int(os.environ.get("TASKVIEW_MATRIX_PARALLEL", "8"))

#: What each serializer can encode of sampletasks.typed_value() (kombu's
#: msgpack has no ext hooks; yaml.safe_dump has no Decimal/UUID/time).
TYPED_SUBSET = {
    "msgpack": ["bytes_utf8", "bytes_binary"],
    "yaml": ["datetime", "date", "bytes_utf8", "bytes_binary"],
}


def config_id(cfg):
    ser, comp, ext = cfg
    return f"{ser}-{comp or 'none'}-{'ext' if ext else 'noext'}"


@dataclass
class ConfigRun:
    cfg: tuple
    results_dir: Path | None = None
    files: dict = field(default_factory=dict)  # file name -> raw bytes
    labels: dict = field(default_factory=dict)  # file name -> label
    statuses: dict = field(default_factory=dict)  # label -> status (Celery)
    error: BaseException | None = None
    seconds: float = 0.0


def run_config(cfg, base: Path, index: int) -> ConfigRun:
    ser, comp, ext = cfg
    run = ConfigRun(cfg)
    t0 = time.monotonic()
    root = base / config_id(cfg)
    run.results_dir = root / "results"
    expected = {}  # task id -> status(es)

    def expect(result, label, status):
        run.labels[f"{TASK_PREFIX}{result.id}"] = label
        expected[result.id] = status
        return result

    try:
        with CeleryWorker(
            run.results_dir,
            serializer=ser,
            compression=comp,
            extended=ext,
            pool="solo",
            name=f"matrix{index}",
            broker_dir=root / "broker",
            wait_ready=False,
            ready_timeout=60,
        ) as w:
            # Sent before the worker is up: the messages wait in the folder.
            expect(w.send("add", 2, 3), "add", "SUCCESS")
            expect(w.send("typed"), "typed", "FAILURE" if ser in TYPED_SUBSET else "SUCCESS")
            if ser in TYPED_SUBSET:
                expect(w.send("typed", TYPED_SUBSET[ser]), "typed_subset", "SUCCESS")
            expect(w.send("fail_custom", "out of stock", "sku-42"), "fail_custom", "FAILURE")
            expect(w.send("fail_builtin", "bad value"), "fail_builtin", "FAILURE")
            expect(w.send("stays_started"), "started", "STARTED")
            expect(w.send("stays_progress", 3, 6), "progress", "PROGRESS")
            expect(w.send("stays_custom_state"), "going_to_sleep", "GOING_TO_SLEEP")
            expect(w.send("unicode_result"), "unicode", "SUCCESS")
            expect(w.send("large_result", 150_000), "large", "SUCCESS")
            parent = expect(w.send("spawn_children", 2), "parent", "SUCCESS")
            expect(w.send("retry_twice", countdown=3600), "retry", "RETRY")
            queued = w.send("add", 1, 1, options={"countdown": 3600})
            g = group(w.app.signature("sampletasks.add", args=(i, i)) for i in range(2)).apply_async()
            for i, member in enumerate(g.results):
                expect(member, f"group_member{i}", "SUCCESS")

            w.wait_ready()
            w.revoke(queued.id)  # still PENDING: marked REVOKED at once
            expect(queued, "revoked_queued", "REVOKED")
            metas = w.wait_all(expected, timeout=60)
            g.save()
            run.labels[f"{GROUP_PREFIX}{g.id}"] = "group"
            children = {c[0][0] for c in metas[parent.id]["children"]}
            w.wait_all({cid: "SUCCESS" for cid in children}, timeout=60)
            for cid in children:
                run.labels[f"{TASK_PREFIX}{cid}"] = "child"
        for p in sorted(run.results_dir.iterdir()):
            if not p.name.startswith("."):
                run.files[p.name] = p.read_bytes()
        backend = celery_backend(None, ser, comp, ext)
        for name, label in run.labels.items():
            if name.startswith(TASK_PREFIX) and ser != "pickle":
                run.statuses[label] = backend.decode(run.files[name])["status"]
    except BaseException as exc:  # reported by this config's test
        run.error = exc
    run.seconds = time.monotonic() - t0
    return run


@pytest.fixture(scope="session")
def matrix(tmp_path_factory):
    base = tmp_path_factory.mktemp("matrix")
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        runs = list(pool.map(lambda a: run_config(a[1], base, a[0]), enumerate(CONFIGS)))
    workers_s = time.monotonic() - t0

    # Celery's decode of the pickle files, where sampletasks IS importable.
    oracle = {}
    pickle_runs = [r for r in runs if r.cfg[0] == "pickle" and not r.error]
    paths = [r.results_dir / n for r in pickle_runs for n in r.files]
    answers = celery_decode_with_app(paths, "pickle")
    for path, answer in zip(paths, answers, strict=True):
        oracle[str(path)] = answer
    by_cfg = {r.cfg: r for r in runs}
    sys.stderr.write(
        f"\n[matrix] {len(runs)} real workers, {PARALLEL} at a time: "
        f"{workers_s:.1f} s (+ pickle decode {time.monotonic() - t0 - workers_s:.1f} s); "
        f"slowest config {max(r.seconds for r in runs):.1f} s\n"
    )
    return by_cfg, oracle


def test_sampletasks_is_not_importable_here():
    """A pickled InventoryError must name a module this process cannot load."""
    assert importlib.util.find_spec("sampletasks") is None


def _exc_compare_key(value, loose_module):
    """Normalise exceptions for ==: ExcInfo, module dropped if ``loose``."""
    value = describe_exceptions(value)

    def strip(v):
        if isinstance(v, ExcInfo):
            return ("<exception>", None if loose_module else v.module, v.name, strip(list(v.args)))
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, list):
            return [strip(x) for x in v]
        if isinstance(v, tuple):
            return tuple(strip(x) for x in v)
        return v

    return strip(value)


def assert_same(got, want, where, path="meta"):
    """Deep ==, also requiring the same types (1 vs 1.0, list vs tuple)."""
    assert type(got) is type(want), (where, path, got, want)
    if isinstance(want, dict):
        assert set(got) == set(want), (where, path, list(got), list(want))
        for k in want:
            assert_same(got[k], want[k], where, f"{path}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), (where, path, got, want)
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, where, f"{path}[{i}]")
    else:
        assert got == want, (where, path, got, want)


@pytest.mark.parametrize("cfg", CONFIGS, ids=[config_id(c) for c in CONFIGS])
def test_decode_matches_celery(matrix, cfg):
    by_cfg, oracle = matrix
    run = by_cfg[cfg]
    if run.error is not None:
        raise run.error
    ser, comp, ext = cfg
    backend = celery_backend(None, ser, comp, ext)
    want_ctype = COMPRESSION_CONTENT_TYPES[comp]

    # The harness produced what the test is about (checked with Celery).
    labels = set(run.labels.values())
    for label in (
        "add",
        "typed",
        "fail_custom",
        "fail_builtin",
        "started",
        "progress",
        "going_to_sleep",
        "unicode",
        "large",
        "parent",
        "child",
        "retry",
        "revoked_queued",
        "group",
    ):
        assert label in labels, label
    assert set(run.labels) <= set(run.files)
    if ser != "pickle":
        assert run.statuses["typed"] == ("FAILURE" if ser in TYPED_SUBSET else "SUCCESS")

    for name, raw in run.files.items():
        where = f"{config_id(cfg)} {run.labels.get(name, '?')} {name}"
        assert raw, f"empty file: {where}"

        if ser == "pickle":
            refused = decode(raw)
            assert refused.meta is None, where
            assert refused.error is not None and refused.error.kind is ProblemKind.PICKLE_REFUSED, (
                where,
                refused.error,
            )
            assert "--allow-pickle" in refused.error.message, (where, refused.error)
            got = decode(raw, allow_pickle=True)
        else:
            got = decode(raw)
        assert got.error is None, (where, got.error)
        assert got.serializer == ser, where
        assert got.compression == want_ctype, where

        if ser != "pickle":
            assert_same(got.meta, backend.decode(raw), where)
            continue

        status, want = oracle[str(run.results_dir / name)]
        assert status == "ok", (where, want)
        # In-process Celery agrees with the oracle wherever it can decode.
        try:
            local = describe_exceptions(backend.decode(raw))
        except Exception:
            local = None
        if local is not None:
            assert_same(local, want, where)
        custom = run.labels.get(name) == "fail_custom"
        assert_same(_exc_compare_key(got.meta, custom), _exc_compare_key(want, custom), where)
        if custom:
            exc = got.meta["result"]
            assert type(exc).__name__ == "InventoryError", (where, exc)
            assert tuple(exc.args) == ("out of stock", "sku-42"), where
