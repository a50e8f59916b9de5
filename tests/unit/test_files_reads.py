"""results/files.py's reads at their edges: the lean ``read_whole`` of the scans, and ``read_file``
on files whose size says less than they hold (/proc, /sys) or that fail when read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskview.results.files import NOT_A_FILE, FileRead, read_file, read_whole, too_large
from taskview.results.problems import Problem, ProblemKind

#: A /sys attribute: a regular file whose size says 4096 and that holds a few bytes ("0-1\n").
SYS_FILE = "/sys/devices/system/cpu/online"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    (tmp_path / "celery-task-meta-one").write_bytes(b"{}")
    (tmp_path / "celery-task-meta-a").write_bytes(b"x")
    (tmp_path / "celery-task-meta-empty").write_bytes(b"")
    (tmp_path / "celery-task-meta-dir").mkdir()
    os.mkfifo(tmp_path / "celery-task-meta-fifo")
    return tmp_path


def test_read_whole_reads_a_regular_file_up_to_its_bound(results: Path):
    path = str(results / "celery-task-meta-one")
    found = read_whole(path, None, 2)  # exactly at the bound
    assert found is not None
    data, st = found
    assert data == b"{}" and st.st_size == 2 and st.st_ino == os.stat(path).st_ino
    one = read_whole(str(results / "celery-task-meta-a"), None, 1)  # one byte is not empty
    assert one is not None and one[0] == b"x"
    assert read_whole(path, None, 1) is None  # over the bound: read_file says why


def test_read_whole_opens_a_bare_name_in_the_directory_it_is_given(results: Path):
    fd = os.open(results, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert Path.cwd() != results
        found = read_whole("celery-task-meta-one", fd, 100)
        assert found is not None and found[0] == b"{}"
        assert read_whole("celery-task-meta-missing", fd, 100) is None
    finally:
        os.close(fd)


def test_read_whole_leaves_everything_else_to_read_file(results: Path):
    for name in ("celery-task-meta-empty", "celery-task-meta-dir", "celery-task-meta-fifo", "celery-task-meta-gone"):
        assert read_whole(str(results / name), None, 100) is None, name
    assert read_whole("/proc/self/cmdline", None, 1 << 20) is None  # says size 0
    assert read_whole("/proc/self/mem", None, 1 << 20) is None  # says size 0, and its read fails
    # a size that does not match what the file holds (a file changed while read)
    assert os.stat(SYS_FILE).st_size == 4096 and len(Path(SYS_FILE).read_bytes()) < 4096
    assert read_whole(SYS_FILE, None, 1 << 20) is None


def test_a_file_that_holds_exactly_the_bound_after_its_size_said_less_is_read():
    expected = Path("/proc/self/cmdline").read_bytes()
    st = os.stat("/proc/self/cmdline")
    assert st.st_size == 0 and len(expected) > 2
    assert read_file("/proc/self/cmdline", len(expected)) == FileRead(expected, len(expected), st.st_mtime, None)
    # one byte over: refused, with the size read so far and the file's mtime
    over = read_file("/proc/self/cmdline", len(expected) - 1)
    assert over == FileRead(None, len(expected), st.st_mtime, too_large(f" (over {len(expected) - 1:,} bytes)"))


def test_a_first_read_that_reaches_the_bound_still_looks_for_more():
    # size 0: the first read asks for one byte, which is the whole bound; there is more
    expected = Path("/proc/self/cmdline").read_bytes()
    st = os.stat("/proc/self/cmdline")
    over = FileRead(None, len(expected), st.st_mtime, too_large(" (over 1 bytes)"))
    assert read_file("/proc/self/cmdline", 1) == over


def test_a_file_whose_read_fails_says_why():
    # /proc/self/mem opens as a regular file of size 0; reading at offset 0 fails (nothing mapped there)
    read = read_file("/proc/self/mem", 1 << 20)
    assert read == FileRead(None, 0, 0.0, Problem(ProblemKind.UNREADABLE, "unreadable", ": Input/output error"))


def test_a_file_whose_size_says_more_than_it_holds_is_read_as_it_is():
    data = Path(SYS_FILE).read_bytes()
    read = read_file(SYS_FILE, 1 << 20)
    assert read.data == data and read.size == len(data) and read.error is None
    assert read_file(SYS_FILE, 100).error == too_large(" (4,096 bytes)")  # its size is what is bounded
    assert read_file(str(Path(SYS_FILE).parent), 100).error == NOT_A_FILE
