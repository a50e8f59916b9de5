"""Error groups, per-name figures and the monitoring outputs on failures real workers wrote.

Two real workers (one JSON, one pickle), each raising a builtin exception and two of the
project's own (``InventoryError``, ``PaymentDeclined``: classes the reader cannot import)
with messages that vary in numbers and ids.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.celery_harness import CeleryWorker
from helpers.cli import run
from taskview.insights.aggregates import error_key
from taskview.query import compile_query
from taskview.results.scan import ResultDirectory
from taskview.store import Store, first_sight

pytestmark = pytest.mark.integration

PAYMENT = "PaymentDeclined: card * declined (*)"
INVENTORY = "InventoryError: out of stock, sku-*"
VALUE = "ValueError: bad value: *"
#: What each worker is sent: (task, args), with how many of each group it makes.
SENT = (
    [("sampletasks.fail_payment", (card, code)) for card, code in ((4242, 402), (5555, 404), (1234, 402), (99, 500))]
    + [("sampletasks.fail_custom", ("out of stock", f"sku-{n}")) for n in (1, 22, 333)]
    + [("sampletasks.fail_builtin", (f"bad value: {n}",)) for n in (-1, 7, 1e6)]
    + [("sampletasks.add", (n, n)) for n in range(5)]
)
GROUPS = {PAYMENT: 4, INVENTORY: 3, VALUE: 3}


def _run_worker(results: Path, serializer: str) -> dict[str, str]:
    with CeleryWorker(results, serializer=serializer, extended=True, pool="solo", name=f"insights-{serializer}") as w:
        sent = {w.send(task, *args).id: task for task, args in SENT}
        w.wait_all({task_id: {"SUCCESS", "FAILURE"} for task_id in sent})
    return sent


@pytest.fixture(scope="module")
def worker_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    from concurrent.futures import ThreadPoolExecutor

    dirs = {s: tmp_path_factory.mktemp(f"insights-{s}") for s in ("json", "pickle")}
    with ThreadPoolExecutor(2) as pool:
        sent = dict(zip(dirs, pool.map(lambda s: _run_worker(dirs[s], s), dirs), strict=True))
    return {s: (dirs[s], sent[s]) for s in dirs}


def _taskview(*args: str) -> subprocess.CompletedProcess[str]:
    return run(*args, check=False)


def _store(path: Path, allow_pickle: bool) -> Store:
    store = Store()
    for batch in ResultDirectory(str(path), allow_pickle=allow_pickle).scan():
        first_sight(batch)
        store.add_scanned(batch)
    return store


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_real_failures_fall_into_their_groups(worker_dirs, serializer):
    path, sent = worker_dirs[serializer]
    store = _store(path, allow_pickle=serializer == "pickle")
    groups = {g.key: g for g in store.insights.groups()}
    assert {key: g.count for key, g in groups.items()} == GROUPS
    payment = groups[PAYMENT]
    assert payment.names == {"sampletasks.fail_payment": 4}
    assert payment.example in sent and payment.first <= payment.last
    # Enter on a group filters the table to exactly its tasks.
    keeps = compile_query(f"errgroup:{json.dumps(PAYMENT)}")
    assert keeps is not None
    assert {r.task_id for r in store.records.values() if keeps(r)} == {
        task_id for task_id, task in sent.items() if task == "sampletasks.fail_payment"
    }
    per_name = {f.name: f for f in store.insights.names()}
    assert per_name["sampletasks.add"].by_status == {"SUCCESS": 5}
    assert per_name["sampletasks.fail_custom"].failure_rate == 1.0


def test_pickled_failures_need_allow_pickle(worker_dirs):
    path, _ = worker_dirs["pickle"]
    refused = _store(path, allow_pickle=False)
    assert refused.insights.groups() == []
    assert all(error_key(r) is None for r in refused.records.values())


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_stats_json_and_prometheus_carry_the_same_numbers(worker_dirs, serializer):
    path, _ = worker_dirs[serializer]
    pickle = ["--allow-pickle"] if serializer == "pickle" else []
    stats = json.loads(_taskview(str(path), "--stats", "--json", *pickle).stdout)
    assert {g["group"]: g["count"] for g in stats["errors"]} == GROUPS
    assert stats["by_name"]["sampletasks.fail_payment"]["by_status"] == {"FAILURE": 4}
    assert stats["by_name"]["sampletasks.add"]["failure_rate"] == 0.0
    out = _taskview(str(path), "--stats", "--format", "prometheus", *pickle)
    assert out.returncode == 0, out.stderr
    families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
    failures = {s.labels["group"]: s.value for s in families["taskview_error_group_failures"].samples}
    assert failures == GROUPS
    tasks = {(s.labels["name"], s.labels["state"]): s.value for s in families["taskview_tasks"].samples}
    assert tasks[("sampletasks.add", "SUCCESS")] == 5 and tasks[("sampletasks.fail_builtin", "FAILURE")] == 3
    assert families["taskview_result_files"].samples[0].value == len(SENT)
    newest = families["taskview_newest_date_done_timestamp_seconds"].samples[0].value
    assert newest == max(g["last_seen"] for g in stats["errors"]) or newest == stats["newest_date_done"]


def test_fail_on_exit_codes(worker_dirs):
    path, _ = worker_dirs["json"]
    crossed = _taskview(str(path), "--fail-on", "status:FAILURE since:1h>9", "--fail-on", "name:add>5")
    assert crossed.returncode == 1
    assert "FAIL status:FAILURE since:1h: 10 (limit 9)" in crossed.stdout
    assert "ok   name:add: 5 (limit 5)" in crossed.stdout
    fine = _taskview(str(path), "--stats", "--json", "--fail-on", f"errgroup:{json.dumps(PAYMENT)}>4")
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["checks"] == [
        {"query": f"errgroup:{json.dumps(PAYMENT)}", "limit": 4, "count": 4, "crossed": False}
    ]
    for bad in ("status:FAILURE", "since:soon>3", "x>y"):
        wrong = _taskview(str(path), "--fail-on", bad)
        assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "--fail-on" in wrong.stderr
