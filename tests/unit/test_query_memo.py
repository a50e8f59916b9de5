"""query.py: the errgroup: and name:= terms, and what a filter remembers per distinct value.

The free-text matcher and the field terms test each distinct status, name, worker and
exception line once (a million rows hold few of them); args, unique per task, are tested
every time. Which values are tested is seen here through a string that counts how often
it is lowercased (every such test starts with ``lower()``).
"""

from __future__ import annotations

import pytest

from helpers.samples import sample_store
from taskview import query as query_module
from taskview.query import _memo, compile_query
from taskview.results.files import TASK_PREFIX
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import Links, TaskRecord

LOWERED: list[str] = []


class Counted(str):
    """A string that notes each time it is lowercased."""

    def lower(self) -> str:
        LOWERED.append(str(self))
        return str.lower(self)


@pytest.fixture(autouse=True)
def _no_lowering_yet():
    LOWERED.clear()


def kept(text: str, records: list[TaskRecord]) -> list[str]:
    predicate = compile_query(text)
    assert predicate is not None
    return [r.task_id for r in records if predicate(r)]


def test_an_error_group_term_keeps_the_failures_of_that_group_only():
    store = sample_store()
    records = list(store.records.values())
    ids = lambda text: sorted(i[:8] for i in kept(text, records))  # noqa: E731
    # the sample's two failures: "InventoryError: out of stock, sku-42", "ValueError: bad value: -1"
    assert ids('errgroup:"InventoryError: out of stock, sku-*"') == ["0ed8f19c"]
    assert ids('errgroup:"ValueError: bad value: *"') == ["3c37fbe2"]
    assert ids('-errgroup:"ValueError: bad value: *" status:FAILURE') == ["0ed8f19c"]
    assert ids('errgroup:"ValueError: bad value: -1"') == []  # the group's key, not the line
    assert ids('errgroup:"ConnectionError: upstream *"') == []  # a RETRY's line has no group
    failed_plain = TaskRecord("f", TASK_PREFIX, "FAILURE", "t")  # no exception line
    retried = TaskRecord("r", TASK_PREFIX, "RETRY", "t")
    assert kept('errgroup:"(no exception)"', [failed_plain, retried]) == ["f"]


def test_a_name_after_an_equals_sign_is_that_name_exactly():
    records = [
        TaskRecord("1", TASK_PREFIX, "SUCCESS", "a"),
        TaskRecord("2", TASK_PREFIX, "SUCCESS", "ab"),
        TaskRecord("3", TASK_PREFIX, "SUCCESS", "A"),
        TaskRecord("4", TASK_PREFIX, "SUCCESS", "x=a"),
        TaskRecord("5", TASK_PREFIX, "SUCCESS", "t.=b"),
    ]
    assert kept("name:=a", records) == ["1"]
    assert kept("name:=ab", records) == ["2"]
    assert kept("name:a", records) == ["1", "2", "3", "4"]  # contains, any case
    assert kept("name:==a", records) == []  # the name "=a"
    assert kept("name:=", records) == ["4", "5"]  # "=" alone: names that contain it
    assert kept("-name:=a", records) == ["2", "3", "4", "5"]


def _record(task_id: str, status: str, name: str, worker: str, exc: str, args: str) -> TaskRecord:
    return TaskRecord(task_id, Links(TASK_PREFIX, exc), Counted(status), Counted(name), Counted(worker), Counted(args))


def test_free_text_tests_each_distinct_value_once_and_args_every_time(monkeypatch: pytest.MonkeyPatch):
    statuses_shown: list[TaskRecord] = []
    real_display_status = query_module.display_status

    def display_status(record: TaskRecord) -> str:
        statuses_shown.append(record)
        return real_display_status(record)

    monkeypatch.setattr(query_module, "display_status", display_status)
    records = [_record(f"id{n}", "SUCCESS", "t.same", "w1", Counted("KeyError: k"), "(1,)") for n in range(3)]
    assert kept("nowhere", records) == []
    assert sorted(LOWERED) == sorted(["SUCCESS", "t.same", "w1", "KeyError: k"] + ["(1,)"] * 3)
    assert statuses_shown == []  # the status is read off the record: display_status only for rows without
    LOWERED.clear()
    assert kept("keyerror", records) == ["id0", "id1", "id2"]  # found in the exception line, remembered
    assert sorted(LOWERED) == sorted(["SUCCESS", "t.same", "w1", "KeyError: k"] + ["(1,)"] * 3)
    group = TaskRecord("g", "celery-taskset-meta-")
    assert kept("group", [group]) == ["g"] and statuses_shown == [group]


def test_free_text_remembers_up_to_its_limit(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(query_module, "MEMO_LIMIT", 2)
    records = [TaskRecord(f"id{n}", TASK_PREFIX, Counted("A"), Counted("B"), Counted("C")) for n in range(2)]
    assert kept("nowhere", records) == []
    assert LOWERED == ["A", "B", "C", "C"]  # A and B remembered, then the memo is full


def test_an_unreadable_row_is_found_as_unreadable_whatever_status_it_kept():
    broken = Problem(ProblemKind.TRUNCATED, "truncated JSON")
    records = [TaskRecord("kept", TASK_PREFIX, "SUCCESS", "t", error=broken), TaskRecord("ok", TASK_PREFIX, "SUCCESS")]
    assert kept("unreadable", records) == ["kept"]
    assert kept("success", records) == ["ok"]


def test_a_field_term_remembers_names_workers_and_exceptions_but_not_args():
    records = [_record(f"id{n}", "SUCCESS", "t.same", "w1", Counted("KeyError: k"), "(1,)") for n in range(3)]
    for text, lowered in [
        ("name:x", ["t.same"]),
        ("worker:x", ["w1"]),
        ("exc:x", ["KeyError: k"]),
        ("args:x", ["(1,)"] * 3),
    ]:
        LOWERED.clear()
        assert kept(text, records) == []
        assert LOWERED == lowered, text


def test_a_memo_remembers_true_and_false_answers_up_to_its_limit():
    tested: list[str] = []

    def test(value: str) -> bool:
        tested.append(value)
        return value == "a"

    remembered = _memo(test, limit=2)
    answers = [remembered(v) for v in ["a", "b", "a", "b", "c", "c", "a"]]
    assert answers == [True, False, True, False, False, False, True]
    assert tested == ["a", "b", "c", "c"]  # a and b remembered, c not: the memo was full
