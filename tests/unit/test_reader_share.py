"""A reader process's share of a directory (child_scan._share), and the whole-chunk checks a reopen
makes of an index chunk (scan_index.IndexChunk): each against the plain, file-by-file way it stands for."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from taskview.results.files import ResultName, parse_name
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import TaskRecord, records_to_batch
from taskview.results.scan import ResultDirectory
from taskview.sources.child_scan import _share
from taskview.sources.scan_index import IndexChunk, Trust, key_line, key_of

IDS = st.text(alphabet="abc-.0", min_size=1, max_size=3)
#: Every kind of name a result directory holds: Celery's own, group files, a global_keyprefix's,
#: the bare prefix (no id), dotfiles and strangers.
NAMES = st.one_of(
    IDS.map("celery-task-meta-".__add__),
    IDS.map("celery-taskset-meta-".__add__),
    IDS.map("prod:celery-task-meta-".__add__),
    st.just("celery-task-meta-"),
    IDS.map(".fs-backend-".__add__),
    IDS.map("notes-".__add__),
)


def expected_share(names: set[str], low: str | None, high: str | None) -> list[tuple[str, ResultName]]:
    """What a share is, file by file: every parsed name whose id is in [low, high); of two naming
    one task, the last by name; in id order."""
    by_id: dict[str, tuple[str, ResultName]] = {}
    for name in names:
        parsed = parse_name(name)
        if parsed is None or (low is not None and parsed[1] < low) or (high is not None and parsed[1] >= high):
            continue
        if parsed[1] not in by_id or name > by_id[parsed[1]][0]:
            by_id[parsed[1]] = (name, parsed)
    return [by_id[task_id] for task_id in sorted(by_id)]


@settings(max_examples=60, deadline=None)
@given(st.sets(NAMES, max_size=25), st.one_of(st.none(), IDS), st.one_of(st.none(), IDS))
def test_a_readers_share_is_every_task_of_its_range_once_in_id_order(names: set[str], low, high):
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            (Path(directory) / name).write_text("{}")
        share = _share(ResultDirectory(directory), low, high)
        expected = expected_share(names, low, high)
        assert share.listing() == expected
        assert (share.names, share.ids) == ([name for name, _ in expected], [parsed[1] for _, parsed in expected])
        for start in range(len(expected) + 1):
            for end in range(start, len(expected) + 1):
                assert share.listing(start, end) == expected[start:end]
                prefixes = [(at - start, parsed[2]) for at, (_, parsed) in enumerate(expected) if start <= at < end]
                odd = [(at, prefix) for at, prefix in prefixes if prefix != "celery-task-meta-"]
                assert share.odd_prefixes(start, end) == odd


def chunk_of(records: list[TaskRecord], trust: Trust) -> IndexChunk:
    batch = records_to_batch(records)
    return IndexChunk(key_of(batch), batch["columns"][0], trust, key_line(batch), lambda: b"", batch)


def row(task_id: str, *, prefix: str = "celery-task-meta-", mtime: float = 100.0, error: bool = False) -> TaskRecord:
    problem = Problem(ProblemKind.TRUNCATED, "truncated JSON", " at byte 3") if error else None
    return TaskRecord(task_id, prefix, None if error else "SUCCESS", "proj.add", "w1", "1", 50.0, mtime, 10, problem)


@given(
    st.lists(
        st.tuples(IDS, st.sampled_from([100.0, 998.0, 999.0, 1000.0]), st.booleans()),
        max_size=6,
    ),
    st.one_of(st.none(), IDS),
    st.one_of(st.none(), IDS),
)
def test_all_trusted_says_whether_rows_would_hold_every_row(rows, low, high):
    """Found from the chunk's key, as ``rows`` finds them row by row from its batch: no error,
    not racy, in the share, ids distinct (a chunk's ids ascend; when they do not, it is never
    all trusted)."""
    records = [row(task_id, mtime=mtime, error=error) for task_id, mtime, error in rows]
    trust = Trust(low, high, 999.0)
    every_row = len(chunk_of(records, trust).rows) == len(records)
    if [r.task_id for r in records] == sorted({r.task_id for r in records}):
        assert chunk_of(records, trust).all_trusted == every_row
    else:
        assert not chunk_of(records, trust).all_trusted


def test_same_prefixes_tells_celerys_names_from_the_others():
    chunk = chunk_of(
        [row("a1"), row("a2", prefix="celery-taskset-meta-"), row("a3"), row("a4", prefix="prod:celery-task-meta-")],
        Trust(None, None, 999.0),
    )
    assert chunk.same_prefixes([(1, "celery-taskset-meta-"), (3, "prod:celery-task-meta-")])
    assert not chunk.same_prefixes([(1, "celery-taskset-meta-")])  # the row at 3 is not Celery's own
    assert not chunk.same_prefixes([(1, "celery-taskset-meta-"), (3, "celery-taskset-meta-")])  # another prefix
    assert not chunk.same_prefixes([(1, "celery-taskset-meta-"), (2, "prod:celery-task-meta-")])  # another row
    named_plain = [(0, "celery-task-meta-"), (1, "celery-taskset-meta-"), (3, "prod:celery-task-meta-")]
    assert not chunk.same_prefixes(named_plain)  # Celery's own prefix is never an odd one
    assert chunk_of([row("a1"), row("a2")], Trust(None, None, 999.0)).same_prefixes([])
    assert not chunk_of([row("a1"), row("a2", prefix="celery-taskset-meta-")], Trust(None, None, 999.0)).same_prefixes(
        []
    )
