"""Result file names, reading one file (results/files.py), and the problems a file can have (results/problems.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_NAMES, SAMPLE_RESULTS
from taskview.results.files import (
    GROUP_PREFIX,
    NOT_A_FILE,
    TASK_PREFIX,
    FileRead,
    ResultName,
    os_reason,
    parse_name,
    plain_task_ids,
    read_file,
    too_large,
)
from taskview.results.problems import PARTIAL_KINDS, Problem, ProblemKind, cut_short, gone

# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("celery-task-meta-3f2a", ("task", "3f2a", TASK_PREFIX)),
        ("celery-taskset-meta-g1", ("group", "g1", GROUP_PREFIX)),
        # Celery's global_keyprefix, with the separator it adds when there is none.
        ("proj:celery-task-meta-3f2a", ("task", "3f2a", "proj:celery-task-meta-")),
        ("proj_celery-task-meta-3f2a", ("task", "3f2a", "proj_celery-task-meta-")),
        ("proj-celery-taskset-meta-g1", ("group", "g1", "proj-celery-taskset-meta-")),
        ("proj.celery-task-meta-3f2a", ("task", "3f2a", "proj.celery-task-meta-")),
        ("celery-task-meta-celery-task-meta-x", ("task", "celery-task-meta-x", TASK_PREFIX)),
        # after a keyprefix too: the keyprefix ends at the first prefix, the rest is the id
        ("proj:celery-task-meta-a:celery-task-meta-b", ("task", "a:celery-task-meta-b", "proj:celery-task-meta-")),
        (
            "p.celery-taskset-meta-a.celery-taskset-meta-b",
            ("group", "a.celery-taskset-meta-b", "p.celery-taskset-meta-"),
        ),
        ("_celery-task-meta-3f2a", ("task", "3f2a", "_celery-task-meta-")),  # a keyprefix of a separator alone
        ("celery-task-meta-", None),
        ("celery-taskset-meta-", None),
        ("proj:celery-task-meta-", None),
        ("projcelery-task-meta-3f2a", None),  # no separator: another name that happens to contain it
        (":celery-task-meta-", None),
        ("celery-task-met-3f2a", None),
        (".fs-backend-1234", None),
        (".celery-task-meta-3f2a.swp", None),
        ("", None),
        ("notes.txt", None),
    ],
)
def test_parse_name(name: str, expected):
    parsed = parse_name(name)
    assert parsed == expected
    if parsed is not None:
        assert isinstance(parsed, ResultName) and parsed.kind == expected[0] and parsed.task_id == expected[1]


def test_a_keyprefix_is_one_string_for_a_whole_directory():
    one, two = parse_name("proj:celery-task-meta-1"), parse_name("proj:celery-task-meta-2")
    assert one is not None and two is not None
    assert one.prefix is two.prefix


# --- reading one file ----------------------------------------------------------------------------


def test_a_file_is_read_whole_with_its_size_and_mtime(tmp_path: Path):
    source = SAMPLE_RESULTS / SAMPLE_NAMES[0]
    data = source.read_bytes()
    read = read_file(str(source), len(data))  # exactly at the bound: still read
    st = source.stat()
    assert read == FileRead(data, len(data), st.st_mtime, None)
    fd = os.open(SAMPLE_RESULTS, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert read_file(SAMPLE_NAMES[0], len(data), dir_fd=fd) == read
    finally:
        os.close(fd)


def test_a_file_over_the_bound_is_not_read(tmp_path: Path):
    source = SAMPLE_RESULTS / SAMPLE_NAMES[0]
    size = source.stat().st_size
    read = read_file(str(source), size - 1)
    assert read.data is None and read.size == size and read.mtime == source.stat().st_mtime
    assert read.error == too_large(f" ({size:,} bytes)")
    assert read.error.kind is ProblemKind.TOO_LARGE and read.error.message == f"too large to read ({size:,} bytes)"


def test_a_file_longer_than_its_size_said_is_read_to_its_end_within_the_bound():
    # /proc files say size 0 and hold more: what a reader sees of a file growing as it reads.
    expected = Path("/proc/self/cmdline").read_bytes()
    assert os.stat("/proc/self/cmdline").st_size == 0 and len(expected) > 10
    read = read_file("/proc/self/cmdline", 1 << 20)
    assert read.error is None and read.data == expected and read.size == len(expected)
    over = read_file("/proc/self/cmdline", 5)
    assert over.data is None and over.size == len(expected)
    assert over.error == too_large(" (over 5 bytes)")


def test_what_is_not_a_regular_file_is_never_read(tmp_path: Path):
    os.mkfifo(tmp_path / "fifo")  # O_NONBLOCK: opening it does not wait for a writer
    (tmp_path / "dir").mkdir()
    for name in ("fifo", "dir"):
        read = read_file(str(tmp_path / name), 1 << 20)
        assert read == FileRead(None, 0, (tmp_path / name).stat().st_mtime, NOT_A_FILE)
    assert NOT_A_FILE.kind is ProblemKind.NOT_A_FILE and NOT_A_FILE.message == "not a regular file"


def test_a_file_that_is_gone_says_so(tmp_path: Path):
    read = read_file(str(tmp_path / "celery-task-meta-x"), 1 << 20)
    assert read == FileRead(None, 0, 0.0, gone())


@pytest.mark.parametrize(
    "exc, kind, message",
    [
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory"),
            ProblemKind.GONE,
            "gone: deleted before it could be read",
        ),
        (PermissionError(errno.EACCES, "Permission denied"), ProblemKind.UNREADABLE, "unreadable: permission denied"),
        (IsADirectoryError(errno.EISDIR, "Is a directory"), ProblemKind.NOT_A_FILE, "not a regular file"),
        (OSError(errno.EIO, "Input/output error"), ProblemKind.UNREADABLE, "unreadable: Input/output error"),
        (OSError("no strerror here"), ProblemKind.UNREADABLE, "unreadable: no strerror here"),
    ],
)
def test_os_errors_become_a_kind_and_a_reason(exc: OSError, kind: ProblemKind, message: str):
    problem = os_reason(exc)
    assert problem.kind is kind and problem.message == message
    assert problem.reason == message.partition(":")[0]


# --- problems ------------------------------------------------------------------------------------


def test_a_problem_is_a_kind_a_reason_and_a_detail():
    problem = Problem(ProblemKind.TRUNCATED, "truncated JSON", " at byte 8192")
    assert problem.message == str(problem) == "truncated JSON at byte 8192"
    assert Problem(ProblemKind.EMPTY, "empty").message == "empty"
    assert problem.as_row() == ("truncated", "truncated JSON", " at byte 8192")
    for row in (problem.as_row(), list(problem.as_row())):  # a journal gives it back as a list
        again = Problem.from_row(row)
        assert again == problem and again.kind is ProblemKind.TRUNCATED


def test_only_a_write_in_progress_is_partial():
    assert PARTIAL_KINDS == {ProblemKind.EMPTY, ProblemKind.TRUNCATED}
    for kind in ProblemKind:
        assert Problem(kind, "x").partial is (kind in (ProblemKind.EMPTY, ProblemKind.TRUNCATED))


def test_gone_and_cut_short():
    assert gone() == Problem(ProblemKind.GONE, "gone", ": deleted before it could be read")
    assert gone().kind is ProblemKind.GONE
    truncated = Problem(ProblemKind.TRUNCATED, "truncated JSON", " at byte 8192")
    cut = cut_short(truncated, 3.0)
    assert cut.kind is ProblemKind.CUT_SHORT and not cut.partial
    assert cut.reason == "cut short"
    assert cut.message == "cut short, unchanged for 3 s: truncated JSON at byte 8192"
    assert cut_short(truncated, 2.5).message == "cut short, unchanged for 2.5 s: truncated JSON at byte 8192"


def test_plain_task_ids_are_what_parse_name_makes_of_their_names():
    ids = ["3f2a", "x", "9" * 36]
    assert plain_task_ids(ids) == [parse_name("celery-task-meta-" + task_id) for task_id in ids]
    assert plain_task_ids([]) == []
