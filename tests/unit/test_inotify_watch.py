"""The tail's own inotify watch (Linux) and the wake-up it waits on beside it: real watches on
temporary directories, real pipes; what each change a user or a worker can make says."""

from __future__ import annotations

import os
import select
import shutil
import threading
import time
from pathlib import Path

import pytest

from taskview.sources.inotify_watch import DirectoryWatch
from taskview.sources.wakeup import Wakeup

NAME = "celery-task-meta-0f4c"


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


@pytest.fixture
def watched(tmp_path: Path):
    directory = tmp_path / "results"
    directory.mkdir()
    watch = DirectoryWatch(str(directory))
    yield directory, watch
    watch.close()


def test_a_file_written_and_closed_is_one_change_and_its_descriptor_says_so(watched):
    directory, watch = watched
    assert not readable(watch.fileno()) and watch.read().names == set()
    with open(directory / NAME, "wb") as handle:
        handle.write(b"{")
        handle.flush()
        # Created: said at once (a file moved in from another filesystem raises only that).
        assert readable(watch.fileno())
        assert watch.read().names == {NAME}
        handle.write(b"}")
        handle.flush()
        assert watch.read().names == set()  # written, not closed: not whole yet
    assert watch.read().names == {NAME}  # closed after writing
    assert not readable(watch.fileno())  # every event read


def test_reads_moves_and_deletes(watched, tmp_path: Path):
    directory, watch = watched
    (directory / NAME).write_bytes(b"{}")
    watch.read()
    assert (directory / NAME).read_bytes() == b"{}"  # read only: closed without writing
    assert watch.read().names == set()
    (directory / NAME).rename(directory / "celery-task-meta-moved")
    assert watch.read().names == {NAME, "celery-task-meta-moved"}
    (directory / "celery-task-meta-moved").rename(tmp_path / "away")
    (tmp_path / "elsewhere").write_bytes(b"{}")
    (tmp_path / "elsewhere").rename(directory / "celery-task-meta-in")
    assert watch.read().names == {"celery-task-meta-moved", "celery-task-meta-in"}
    (directory / "celery-task-meta-in").unlink()
    changes = watch.read()
    assert changes.names == {"celery-task-meta-in"} and not changes.ended and not changes.overflowed


def test_subdirectories_are_not_the_directorys_results(watched):
    directory, watch = watched
    (directory / "sub").mkdir()
    (directory / "sub" / NAME).write_bytes(b"{}")  # not watched: recursive watches are not asked for
    (directory / "sub").rename(directory / "sub2")
    shutil.rmtree(directory / "sub2")
    assert watch.read().names == set()


@pytest.mark.parametrize("end", ["deleted", "moved away"])
def test_the_directorys_own_end_ends_the_watch(watched, tmp_path: Path, end: str):
    directory, watch = watched
    (directory / NAME).write_bytes(b"{}")
    if end == "deleted":
        shutil.rmtree(directory)
    else:
        directory.rename(tmp_path / "renamed")
    changes = watch.read()
    assert changes.ended and NAME in changes.names


def test_an_overflow_is_said(tmp_path: Path):
    """A real one: a kernel queue of one event (set while the instance is made, which takes it)."""
    limit_file = Path("/proc/sys/fs/inotify/max_queued_events")
    if os.geteuid() != 0:
        pytest.skip("needs root to shrink /proc/sys/fs/inotify/max_queued_events for one inotify instance")
    old = limit_file.read_text()
    limit_file.write_text("1\n")
    try:
        watch = DirectoryWatch(str(tmp_path))
    finally:
        limit_file.write_text(old)
    try:
        for n in range(3):
            (tmp_path / f"{NAME}{n}").write_bytes(b"{}")
        assert watch.read().overflowed
        assert not watch.read().overflowed  # said once
    finally:
        watch.close()


def test_what_cannot_be_watched_raises_and_leaves_nothing_open(tmp_path: Path):
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError):
        DirectoryWatch(str(tmp_path / "missing"))
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        DirectoryWatch(str(tmp_path / "file"))
    assert len(os.listdir("/proc/self/fd")) == before


def test_closing_closes_the_descriptor(tmp_path: Path):
    watch = DirectoryWatch(str(tmp_path))
    fd = watch.fileno()
    os.fstat(fd)
    watch.close()
    with pytest.raises(OSError):
        os.fstat(fd)


# --- Wakeup ----------------------------------------------------------------------------


def test_a_wakeup_is_set_cleared_and_waited_on_like_an_event():
    wake = Wakeup()
    assert not wake.is_set() and wake.wait(0.01) is False
    wake.set()
    wake.set()  # twice: one clear clears it
    assert wake.is_set() and wake.wait(0) is True
    wake.clear()
    assert not wake.is_set() and wake.wait(0.01) is False  # no byte left behind in its pipe
    wake.close()


def test_a_wakeup_returns_for_a_readable_descriptor_or_a_set_from_another_thread():
    wake = Wakeup()
    read, write = os.pipe()
    try:
        assert wake.wait(0.01, read) is False
        os.write(write, b"x")
        assert wake.wait(5, read) is True and not wake.is_set()
        os.read(read, 1)
        threading.Timer(0.05, wake.set).start()
        began = time.monotonic()
        assert wake.wait(5, read) is True
        assert time.monotonic() - began < 4  # woken by the set, not by the timeout
    finally:
        os.close(read)
        os.close(write)
        wake.close()


def test_a_wakeup_closes_its_pipe_when_closed_or_dropped():
    before = len(os.listdir("/proc/self/fd"))
    wake = Wakeup()
    assert len(os.listdir("/proc/self/fd")) == before + 2
    wake.close()
    assert len(os.listdir("/proc/self/fd")) == before
    wake.close()  # twice: nothing more
    dropped = Wakeup()
    del dropped
    assert len(os.listdir("/proc/self/fd")) == before
    late = Wakeup()
    late.close()
    late.set()  # after close: nothing raised (a stop racing the tail's end)
