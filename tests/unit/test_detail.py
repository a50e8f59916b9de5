"""What the detail pane shows of a task, prepared without a screen: real files, cut when big."""

from __future__ import annotations

import json

from helpers.samples import SAMPLE_RESULTS, by_name, real_meta
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.view.detail import BODY_LIMIT, cut_at_line, exception_line, prepare


def prepared(task_name: str):
    results = ResultDirectory(str(SAMPLE_RESULTS))
    path = by_name(SAMPLE_RESULTS, task_name)
    record = results.read_record(path.name)
    store = Store()
    store.add(record)
    return prepare(record, store.history(record.task_id), results.read_full(path.name))


def test_a_failure_shows_its_exception_line_and_whole_meta():
    content = prepared("sampletasks.fail_custom")
    assert content.exception == "InventoryError: out of stock, sku-42"
    assert content.traceback is not None and content.traceback.rstrip().endswith("('out of stock', 'sku-42')")
    assert json.loads(content.body)["status"] == "FAILURE" and not content.cut and content.highlight


def test_only_failed_retried_or_revoked_tasks_have_an_exception_line():
    assert exception_line(real_meta("FAILURE")) is not None
    assert exception_line(real_meta("RETRY")) == "ConnectionError: upstream 503"
    assert exception_line(real_meta("REVOKED")).startswith("TaskRevokedError: ")
    assert exception_line(real_meta("SUCCESS")) is None
    # A result that merely looks like an exception is not one unless the task failed.
    assert exception_line({"status": "SUCCESS", "result": {"exc_type": "X", "exc_message": []}}) is None
    assert exception_line({"status": "FAILURE", "result": {"exc_type": "Boom", "exc_message": []}}) == "Boom"
    assert exception_line({"status": "FAILURE", "result": {"exc_type": "Evil\x1b[2J", "exc_message": "a\nb"}}) == (
        "Evil\\x1b[2J: a b"
    )  # inert, one line


def test_a_big_result_is_cut_with_its_whole_size_known():
    content = prepared("sampletasks.large_result")  # a real 200 KB result: one long string
    assert content.cut and len(content.body) == BODY_LIMIT and content.body_size > 190_000
    assert not content.highlight  # too big to highlight without stalling


def test_cuts_fall_at_a_line_end_when_one_is_near():
    text = "".join(f"line {n}\n" for n in range(100))
    cut = cut_at_line(text, 100)
    assert cut.endswith("line 12") and len(cut) <= 100
    assert cut_at_line("x" * 60 + "\n" + "y" * 500, 100) == "x" * 60  # a line end in the second half
    assert cut_at_line("x" * 40 + "\n" + "y" * 500, 100) == "x" * 40 + "\n" + "y" * 59  # none: inside the line
    assert cut_at_line("short", 100) == "short"
