"""The filter language typed after `/` (README "The inspector", taskview/query.py's docstring).

Every expected match is stated by hand over a few records built here (and a few real sample
files), never worked out by the filter code itself.
"""

from __future__ import annotations

import pytest

from helpers.samples import sample_store
from taskview.query import compile_query
from taskview.results.record import TaskRecord
from taskview.view.sorting import ordered_ids

TASK, GROUP = "celery-task-meta-", "celery-taskset-meta-"

RECORDS = [
    TaskRecord("3f2a9c", TASK, status="FAILURE", name="billing.charge", worker="w1@host", args="'acct-17', 42"),
    # Its id holds "3f2" in the middle: free text finds it, id:3f2 (a prefix) must not.
    TaskRecord("a3f2bb", TASK, status="SUCCESS", name="email.send", worker="w2@host", args="'bob@Example.com'"),
    TaskRecord("c0ffee", TASK, status="RETRY", name="Billing.Refund", worker="W1@HOST"),
    TaskRecord("d00d01", TASK, error="empty (being written?)", size=0),
    TaskRecord("9e9e9e", GROUP),
    TaskRecord(
        "b0b0b0",
        TASK,
        status="PROGRESS",
        name="report.build",
        worker="w3@other",
        args="month='2026-11', then='send email'",
    ),
    TaskRecord("eeee01", TASK, status="STARTED", name="send email", worker="w3@other"),
    TaskRecord("F00BA4", TASK, status="SUCCESS", name="tasks.add", worker="w2@host", args="1, 2"),
]
EVERYTHING = "3f2a9c a3f2bb c0ffee d00d01 9e9e9e b0b0b0 eeee01 F00BA4"


def matches(text: str) -> str:
    """The ids the filter ``text`` keeps, in RECORDS' order."""
    predicate = compile_query(text)
    return " ".join(r.task_id for r in RECORDS if predicate is None or predicate(r))


CASES = [
    # Free text: id, name, status, worker or args contain it, whatever the case.
    ("3f2", "3f2a9c a3f2bb"),
    ("f00b", "F00BA4"),  # an id in capitals, found in lowercase
    ("billing", "3f2a9c c0ffee"),
    ("BILLING", "3f2a9c c0ffee"),
    ("retry", "c0ffee"),
    ("Success", "a3f2bb F00BA4"),
    ("w1@", "3f2a9c c0ffee"),
    ("other", "b0b0b0 eeee01"),
    ("acct-17", "3f2a9c"),  # in args
    ("bob@example", "a3f2bb"),  # args, case-insensitive
    ("unreadable", "d00d01"),  # the status as shown for a file that could not be read
    ("group", "9e9e9e"),  # and for a group file
    ("nothing-like-this", ""),
    # status: exact (case-insensitive), a comma for either.
    ("status:FAILURE", "3f2a9c"),
    ("status:failure", "3f2a9c"),
    ("status:FAIL", ""),  # exact, not contains
    ("status:FAILURE,RETRY", "3f2a9c c0ffee"),
    ("status:success,progress", "a3f2bb b0b0b0 F00BA4"),
    ("status:unreadable", "d00d01"),
    ("status:UNREADABLE", "d00d01"),
    # name: and worker: contain (case-insensitive); a row without one never matches.
    ("name:billing", "3f2a9c c0ffee"),
    ("name:charge", "3f2a9c"),
    ("name:send", "a3f2bb eeee01"),
    ("worker:w1", "3f2a9c c0ffee"),
    ("worker:HOST", "3f2a9c a3f2bb c0ffee F00BA4"),
    # id: a prefix, not a substring.
    ("id:3f2", "3f2a9c"),
    ("id:3f2a9c", "3f2a9c"),
    ("id:a9c", ""),
    ("id:f2", ""),
    # kind:
    ("kind:group", "9e9e9e"),
    ("kind:task", "3f2a9c a3f2bb c0ffee d00d01 b0b0b0 eeee01 F00BA4"),
    # A leading '-' negates a term: free text and field terms alike.
    ("-billing", "a3f2bb d00d01 9e9e9e b0b0b0 eeee01 F00BA4"),
    ("-3f2", "c0ffee d00d01 9e9e9e b0b0b0 eeee01 F00BA4"),
    ("-status:SUCCESS", "3f2a9c c0ffee d00d01 9e9e9e b0b0b0 eeee01"),
    ("-status:unreadable", "3f2a9c a3f2bb c0ffee 9e9e9e b0b0b0 eeee01 F00BA4"),
    ("-id:3f2", "a3f2bb c0ffee d00d01 9e9e9e b0b0b0 eeee01 F00BA4"),
    ("-name:billing", "a3f2bb d00d01 9e9e9e b0b0b0 eeee01 F00BA4"),
    ("-worker:w3", "3f2a9c a3f2bb c0ffee d00d01 9e9e9e F00BA4"),
    ("-kind:group", "3f2a9c a3f2bb c0ffee d00d01 b0b0b0 eeee01 F00BA4"),
    # Terms combine with AND.
    ("billing status:FAILURE", "3f2a9c"),
    ("name:billing -status:FAILURE", "c0ffee"),
    ("worker:w1 -billing", ""),
    ("host 3f2", "3f2a9c a3f2bb"),
    ("send email", "a3f2bb b0b0b0 eeee01"),  # two words, each anywhere: "email.send" too
    ("-status:SUCCESS -kind:group -unreadable", "3f2a9c c0ffee b0b0b0 eeee01"),
    # Quotes keep spaces.
    ('"send email"', "b0b0b0 eeee01"),
    ('name:"send email"', "eeee01"),
    ("name:'send email'", "eeee01"),
    ('-name:"send email"', "3f2a9c a3f2bb c0ffee d00d01 9e9e9e b0b0b0 F00BA4"),
    # An unclosed quote while typing: the words typed so far.
    ('"send em', "a3f2bb b0b0b0 eeee01"),
    ('billing "acct', "3f2a9c"),
    # An empty query, or one of spaces only, filters nothing out.
    ("", EVERYTHING),
    ("   ", EVERYTHING),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_filter_matches_stated_by_hand(text: str, expected: str):
    assert matches(text) == expected


def test_an_empty_query_is_no_filter_at_all():
    assert compile_query("") is None and compile_query("  ") is None


def test_an_unclosed_quote_in_a_field_term_while_typing_neither_fails_nor_loses_the_row():
    """name:"send em is on its way to name:"send email": whatever the words so far make of it,
    the row that the whole term will match is kept and a row matching none of them is not."""
    predicate = compile_query('name:"send em')
    assert predicate is not None
    kept = {r.task_id for r in RECORDS if predicate(r)}
    assert "eeee01" in kept
    assert not kept & {"3f2a9c", "c0ffee", "d00d01", "9e9e9e", "F00BA4"}


def test_filters_over_the_real_sample_files():
    """A few filters over real worker output, the matching files named by their id prefix."""
    store = sample_store()

    def ids(text: str) -> list[str]:
        return sorted(i[:8] for i in ordered_ids(store, "id", False, compile_query(text)))

    assert ids("status:FAILURE") == ["0ed8f19c", "3c37fbe2"]
    assert ids("name:retry") == ["de710576", "e4337ab4"]
    assert ids("fail_custom") == ["0ed8f19c"]
    assert ids("sku-42") == ["0ed8f19c"]  # its args
    assert ids("kind:group") == ["056abda1"]
    assert ids("id:de") == ["de6fc830", "de710576"]
    assert ids("id:e6") == ["e6a0babd"]  # not 'de6fc830', which holds e6 after its first letter
    still_going = ["85b97412", "a7a30b8b", "de6fc830", "de710576"]
    assert ids("-status:SUCCESS -kind:group -status:FAILURE,REVOKED") == still_going
    assert ids("name:sampletasks.add -status:success") == []


@pytest.mark.parametrize(
    "text, expected",
    [
        # args: contains, whatever the case; rows without args never match (and their negation does).
        ("args:acct", "3f2a9c"),
        ("args:bob@EXAMPLE", "a3f2bb"),
        ('args:"send email"', "b0b0b0"),
        ("-args:acct", "a3f2bb c0ffee d00d01 9e9e9e b0b0b0 eeee01 F00BA4"),
        # kind: exact, not contains.
        ("kind:grou", ""),
        ("kind:TASK", "3f2a9c a3f2bb c0ffee d00d01 b0b0b0 eeee01 F00BA4"),
        # A '-' alone is free text, not a negation of nothing; a '-' and one letter negate it.
        ("-", "3f2a9c b0b0b0"),
        ("-w", "d00d01 9e9e9e"),
        # An unclosed single quote while typing: the words so far.
        ("name:'billing", "3f2a9c c0ffee"),
    ],
)
def test_more_filter_matches_stated_by_hand(text: str, expected: str):
    assert matches(text) == expected


def test_a_term_is_a_field_up_to_its_first_colon_and_only_for_known_fields():
    records = [
        TaskRecord("x1", TASK, status="SUCCESS", name="proj:tasks.add"),
        TaskRecord("x2", TASK, status="SUCCESS", name="tasks.mul", args="'foo:bar'"),
    ]

    def kept(text: str) -> list[str]:
        predicate = compile_query(text)
        assert predicate is not None
        return [r.task_id for r in records if predicate(r)]

    assert kept("name:proj:tasks") == ["x1"]  # the value holds a colon
    assert kept("foo:bar") == ["x2"]  # not a field: free text
    assert kept("-foo:bar") == ["x1"]


def test_uses_field_finds_a_field_term_negated_or_not():
    from taskview.query import uses_field

    assert uses_field("since:10m", "since") and uses_field("-SINCE:1h failure", "since")
    assert uses_field('name:"a:b"', "name") and uses_field("name:a:b", "name")
    assert not uses_field("status:since", "since") and not uses_field("before:1h", "since")
    assert not uses_field("", "since")


def test_stale_without_the_live_inspector_is_an_error_only_when_strict():
    from taskview.query import QueryError

    with pytest.raises(QueryError, match=r"^'stale' needs the live inspector \(it pings the workers\)$"):
        compile_query("stale", strict=True)
    assert compile_query("stale") is not None  # typing: matches nothing
    assert not compile_query("stale")(RECORDS[0])


def test_a_tasks_time_is_when_it_finished_else_when_it_was_first_seen():
    from taskview.query import task_time

    assert task_time(TaskRecord("t", TASK, date_done=30.0, first_seen=20.0, mtime=10.0)) == 30.0
    assert task_time(TaskRecord("t", TASK, first_seen=20.0, mtime=10.0)) == 20.0
    assert task_time(TaskRecord("t", TASK, mtime=10.0)) == 10.0


def test_the_root_of_a_workflow_whose_parents_loop_is_the_last_one_reached():
    import json

    from helpers.samples import real_meta
    from taskview.query import root_of
    from taskview.results.codec import decode
    from taskview.results.record import summarize

    def linked(task_id: str, parent_id: str) -> TaskRecord:
        raw = json.dumps({**real_meta("SUCCESS"), "task_id": task_id, "parent_id": parent_id}).encode()
        return summarize(task_id, "task", TASK, decode(raw), size=len(raw), mtime=1.0)

    # a's parent is b, b's is c and c's is b again (files written by hand, or a bug elsewhere)
    records = {"a": linked("a", "b"), "b": linked("b", "c"), "c": linked("c", "b")}
    assert records["a"].parent_id == "b"
    assert root_of(records["a"], records) == "c"
    assert root_of(records["a"]) == "b"  # without the other records: its parent is as far as it goes
