"""A query typed further filters the last one's rows, not every task (``query.narrows``,
``TableModel.set_filter(narrows=True)``): at a million rows, the keystrokes after the first few.

Which texts narrow is stated by hand, and checked against what the filters really match:
whenever ``narrows`` says yes, no task matches the longer query that the shorter one missed.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers.samples import sample_store
from taskview.query import compile_query, narrows
from taskview.results.record import Links, TaskRecord
from taskview.view.sorting import ordered
from taskview.view.table_model import TableModel

TASK = "celery-task-meta-"
RECORDS = [
    TaskRecord("3f2a9c", TASK, status="FAILURE", name="billing.charge", worker="w1@host", args="'acct-17', 42"),
    TaskRecord("a3f2bb", TASK, status="SUCCESS", name="email.send", worker="w2@host", args="'bob@example.com'"),
    TaskRecord("c0ffee", TASK, status="RETRY", name="billing.refund", worker="w1@host"),
    TaskRecord("d00d01", TASK, error="empty (being written?)", size=0),
    TaskRecord("eeee01", TASK, status="STARTED", name="send=email", worker="w3@other"),
    TaskRecord("f00ba4", TASK, status="SUCCESS", name="tasks.add", worker="w2@host", args="1, 2"),
    TaskRecord("ab12cd", TASK, status="SUCCESS", name="ΑΣΑ.report", worker="w2@host"),  # "ασα" lowercased
]
# A FAILURE with its exception line, in a group, with a parent: what exc:, group: and parent: look at.
RECORDS.append(
    TaskRecord(
        "ab1200",
        Links(TASK, "KeyError: 'user-7'", "abgroup", "abparent", None, ()),
        status="FAILURE",
        name="tasks.child",
        worker="w1@host",
    )
)
#: Stale to the filters below: a STARTED task whose worker is gone (no "stal" in any of its text).
STALE_IDS = frozenset({"eeee01"})
NOW = 1_800_000_000.0


def matched(text: str) -> set[str]:
    predicate = compile_query(text, stale=STALE_IDS, now=NOW)
    return {r.task_id for r in RECORDS if predicate is None or predicate(r)}


NARROWS = [
    ("f", "fa"),  # free text: contains
    ("bill", "billing"),
    ("billing", "billing "),  # a space: the same terms
    ("billing", "billing w1"),  # a term added (AND)
    ("bill", "billing w1"),  # the last made longer, and one added
    ("name:bill", "name:billing"),
    ("worker:w", "worker:w1"),
    ("exc:Key", "exc:KeyError"),
    ("args:ac", "args:acct"),
    ("id:3", "id:3f"),  # starts with
    ("group:a", "group:ab"),
    ("parent:a", "parent:ab"),
    ("name:", "name:b"),  # "name:" alone meant nothing yet
    ("status:", "status:FAILURE"),
    ("-status:SUCCESS", "-status:SUCCESS bill"),  # a negated term kept as it was, one added
    ("status:FAILURE", "status:FAILURE bill"),
    ("name:b", "name:b="),  # "contains b=": not the exact-name form
    ("w1", "w1X"),
    ("at:1", "at:10"),  # no field called "at": free text holding a colon
]
WIDENS_OR_UNSURE = [
    ("fa", "fa"),  # the same text
    ("fai", "fa"),  # a character taken back
    ("fa", "xfa"),  # typed before, not after
    ("-f", "-fa"),  # not containing "fa" is wider than not containing "f"
    ("-", "-f"),  # free text "-", then a negation
    ("stal", "stale"),  # the word that means unfinished tasks whose worker is gone
    ("stale", "stalex"),
    ("nam", "name:"),  # free text becomes a field that means nothing yet: every task
    ("status:FAIL", "status:FAILURE"),  # exact
    ("status:FAILURE", "status:FAILURE,RETRY"),  # a list: either
    ("kind:gr", "kind:group"),
    ("name:=", "name:=tasks.add"),  # contains "=", then exactly that name
    ("name:=tasks", "name:=tasks.add"),
    ("errgroup:K", "errgroup:KeyError"),
    ("since:1", "since:10"),  # 1 minute, then 10: wider
    ("since:10m", "since:10m bill"),  # the clock moves between the two keystrokes
    ("before:1h", "before:1h bill"),
    ("stale", "stale bill"),  # the workers' answers move it
    ("status:stale", "status:stale bill"),
    ("-stale", "-stale bill"),  # negated, it moves all the same
    ("-since:1h", "-since:1h bill"),
    ("since:2026-12-01T10:00", "since:2026-12-01T10:00 bill"),  # a time holding colons
    ("root:a", "root:ab"),  # follows other tasks' parents
    ("name:bill", 'name:bill "x'),  # quotes: shlex may cut every term anew
    ('name:"send', 'name:"send email"'),
    ("name:a\\", "name:a\\b"),
    ("", "f"),  # no filter before: nothing to narrow
    ("ΑΣ", "ΑΣΑ"),  # lowercased: "ας", then "ασα" (a final sigma): no longer its start
    ("name:ΑΣ", "name:ΑΣΑ"),
    ("id:ΑΣ", "id:ΑΣΑ"),
]


@pytest.mark.parametrize(("before", "after"), NARROWS)
def test_a_query_typed_further_narrows(before: str, after: str):
    assert narrows(before, after)
    assert matched(after) <= matched(before)


@pytest.mark.parametrize(("before", "after"), WIDENS_OR_UNSURE)
def test_a_query_that_may_match_more_or_other_tasks_does_not_narrow(before: str, after: str):
    assert not narrows(before, after)


def test_the_cases_that_do_not_narrow_include_real_widenings():
    """Not only caution: over RECORDS, several of those longer queries match a task the shorter
    one did not (what a narrowed filter would have left out)."""
    widened = {(b, a) for b, a in WIDENS_OR_UNSURE if not matched(a) <= matched(b)}
    assert {("-f", "-fa"), ("stal", "stale"), ("nam", "name:"), ("status:FAIL", "status:FAILURE")} <= widened
    assert {("name:=", "name:=tasks.add"), ("status:FAILURE", "status:FAILURE,RETRY")} <= widened
    assert {("ΑΣ", "ΑΣΑ"), ("name:ΑΣ", "name:ΑΣΑ")} <= widened


PIECES = [
    "f", "a", "i", "l", "b", "ill", "ing", "w1", "@", "sta", "le", "stale", "-", ":", ",", "=", " ",
    "name:", "status:", "worker:", "id:", "exc:", "kind:", "args:", "group:", "errgroup:", "since:",
    "failure", "success", "retry", "tasks.add", "send", "3f", "e", "1", "0m", "t", "ask",
    "Σ", "Α", "A", "F", "NAME:", "KEY", "ab", "parent:", "'",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=5), st.lists(st.sampled_from(PIECES), min_size=1, max_size=4))
@example(["-", "f"], ["a"])
@example(["sta", "l"], ["e"])
@example(["status:", "f", "a", "i", "l"], ["ure"])
@example(["name:", "="], ["tasks.add"])
@example(["Α", "Σ"], ["Α"])
def test_whenever_a_query_narrows_it_matches_no_task_the_shorter_one_missed(before: list[str], more: list[str]):
    text = "".join(before)
    longer = text + "".join(more)
    if narrows(text, longer):
        assert matched(longer) <= matched(text)


# --- the table model ------------------------------------------------------------------


def counting(text: str, calls: list[str]):  # type: ignore[no-untyped-def]
    """The filter of ``text``, noting each task it is asked about."""
    predicate = compile_query(text)
    assert predicate is not None

    def counted(record: TaskRecord) -> bool:
        calls.append(record.task_id)
        return predicate(record)

    return counted


def filtered(model: TableModel, text: str, *, narrows: bool) -> list[str]:
    """Filter ``model`` by ``text`` to the end: the tasks the filter was asked about."""
    calls: list[str] = []
    model.set_filter(counting(text, calls), narrows=narrows)
    while model.filtering:
        model.step_filter(0.0)
    return calls


def test_a_narrowing_filter_walks_the_last_ones_rows_and_ends_as_a_whole_filter():
    store = sample_store()
    model = TableModel(store, filter_slice=3, first_slice=2)
    model.sort("id", False)
    assert len(filtered(model, "-status:SUCCESS", narrows=False)) == len(store)
    before = model.rows[:]
    assert 2 < len(before) < len(store)
    asked = filtered(model, "-status:SUCCESS e6", narrows=True)
    assert asked == [r.task_id for r in before]  # those rows only, in their order
    narrower = compile_query("-status:SUCCESS e6")
    assert len(model.rows) == 1 and model.rows == ordered(store, "id", False, narrower)
    assert model.counts() == {s: n for s, n in store.counts(narrower).items() if n}


def test_a_task_that_changed_since_the_last_filter_is_in_the_narrowed_rows():
    """A live change put in place under the first filter (its rows as the store is now) is what
    the narrowed one walks: a task that came to match both is in the rows, one that left is not."""
    store = sample_store()
    model = TableModel(store)
    model.sort("last_change", True)
    filtered(model, "-status:SUCCESS", narrows=False)
    failure = next(r for r in model.rows if r.status == "FAILURE")
    success = next(r for r in store.records.values() if r.status == "SUCCESS")
    # The FAILURE now a SUCCESS, the SUCCESS a FAILURE (as the tail delivers a rewritten file): they swap sides.
    store.add(TaskRecord(failure.task_id, failure.prefix, status="SUCCESS", name=failure.name), live=True)
    store.add(TaskRecord(success.task_id, success.prefix, status="FAILURE", name=success.name), live=True)
    model.touch([failure.task_id, success.task_id])
    assert model.refresh()
    after_the_change = [r.task_id for r in model.rows]
    assert success.task_id in after_the_change and failure.task_id not in after_the_change
    asked = filtered(model, "-status:SUCCESS -status:STARTED", narrows=True)
    assert asked == after_the_change  # the rows as the change left them, and only those
    rows = [r.task_id for r in model.rows]
    assert success.task_id in rows and failure.task_id not in rows
    assert model.rows == ordered(store, "last_change", True, compile_query("-status:SUCCESS -status:STARTED"))


def test_a_new_filter_walks_every_task_unless_told_it_narrows():
    store = sample_store()
    model = TableModel(store)
    model.sort("id", False)
    run = filtered(model, "status:FAILURE", narrows=False)
    assert len(run) == len(store) and len(model.rows) == 2
    calls: list[str] = []
    model.set_filter(counting("status:SUCCESS", calls))  # another filter, not a narrower one
    while model.filtering:
        model.step_filter(0.0)
    assert len(calls) == len(store)
    assert model.rows == ordered(store, "id", False, compile_query("status:SUCCESS"))


@pytest.mark.parametrize("why", ["no filter before", "the last one still running", "a change waiting"])
def test_a_narrowing_filter_walks_every_task_when_the_last_rows_are_not_its_matches(why: str):
    store = sample_store()
    model = TableModel(store, filter_slice=2, first_slice=2)
    model.sort("id", False)
    if why != "no filter before":
        filtered(model, "-status:SUCCESS", narrows=False)
        assert len(model.rows) < len(store)
    if why == "the last one still running":
        model.set_filter(compile_query("-status:SUCCESS"))
        model.step_filter(0.0)
        assert model.filtering
    if why == "a change waiting":
        gone = model.rows[0].task_id
        store.remove(gone)
        model.touch([gone])  # not refreshed yet: the rows still hold it
    asked = filtered(model, "-status:SUCCESS e6", narrows=True)
    assert len(asked) == len(store)
    assert model.rows == ordered(store, "id", False, compile_query("-status:SUCCESS e6"))
