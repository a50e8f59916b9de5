"""The directory tail as the inspector runs it: its own thread, inotify's events (a real watch
on a temporary directory), and its end. Each wait is for a batch, with a deadline
(helpers.tail.collect): no fixed sleep. tests/integration/test_tail.py covers the rest
(faults, overflow, polling of network filesystems); these are the unit tests mutmut runs."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_NAMES, SAMPLE_RESULTS
from helpers.tail import collect, ids, run_tail
from taskview.results.files import parse_name
from taskview.sources import tail as tail_module

INOTIFY_LOG = "watchdog.observers.inotify_c"


def task_id(name: str) -> str:
    parsed = parse_name(name)
    assert parsed is not None
    return parsed.task_id


@pytest.mark.parametrize("native", [True, False], ids=["inotify-read-by-the-tail", "watchdog-observer"])
def test_the_tail_thread_follows_a_directory_by_inotify_and_stops(tmp_path: Path, monkeypatch, native: bool):
    """On Linux the tail's thread reads inotify itself; elsewhere watchdog's observer (made to run here)."""
    monkeypatch.setattr(tail_module, "NATIVE_INOTIFY", native)
    threads_before = set(threading.enumerate())
    directory = tmp_path / "results"
    directory.mkdir()
    first, second = SAMPLE_NAMES[0], SAMPLE_NAMES[1]
    shutil.copyfile(SAMPLE_RESULTS / first, directory / first)
    tail, batches = run_tail(directory, tick=0.01)
    try:
        seen = collect(batches, lambda seen: any(b.scan_done for b in seen), timeout=10)
        assert ids(seen) == {task_id(first)}
        thread = tail._thread
        assert thread is not None and thread.name == "taskview-tail" and thread.daemon and thread.is_alive()
        assert tail.mode == "inotify"
        if native:
            # No thread but the tail's: it waits on the watch's descriptor itself.
            assert tail._observer is None and tail._watch is not None
            assert set(threading.enumerate()) - threads_before == {thread}
            watch_fd = tail._watch.fileno()
        else:
            # The observer's thread a daemon too: a tail never stopped holds no exit up.
            assert tail._watch is None and tail._observer is not None and tail._observer.daemon
            assert tail._overflow_log in logging.getLogger(INOTIFY_LOG).handlers
        # A file written (closed after writing), one moved in, one deleted: each an event.
        shutil.copyfile(SAMPLE_RESULTS / second, directory / second)
        seen = collect(batches, lambda seen: task_id(second) in ids(seen), timeout=10)
        (directory / ("." + first)).write_bytes((SAMPLE_RESULTS / first).read_bytes())
        (directory / first).unlink()
        seen = collect(batches, lambda seen: any(task_id(first) in b.removed for b in seen), timeout=10)
        moved = "celery-task-meta-moved-in"
        (directory / ("." + first)).rename(directory / moved)
        seen = collect(batches, lambda seen: "moved-in" in ids(seen), timeout=10)
        assert all(b.notice is None for b in seen)
        # A directory made and deleted in it is none of the tail's business: the next file's
        # event (after it, in inotify's order) comes as an event, not with a rescan's notice.
        (directory / "sub").mkdir()
        (directory / "sub").rmdir()
        shutil.copyfile(SAMPLE_RESULTS / first, directory / first)
        seen = collect(batches, lambda seen: task_id(first) in ids(seen), timeout=10)
        assert all(b.notice is None for b in seen)
        # The directory itself deleted, then made again: said both ways, read again.
        shutil.rmtree(directory)
        gone = (
            f"{directory}: directory gone (deleted or renamed); showing the rows last read, waiting for it to come back"
        )
        collect(batches, lambda seen: any(b.notice == gone for b in seen), timeout=10)
        directory.mkdir()
        shutil.copyfile(SAMPLE_RESULTS / second, directory / second)
        back = f"{directory}: a directory is back at this path; rescanned"
        seen = collect(batches, lambda seen: any(b.notice == back for b in seen), timeout=10)
        assert ids([b for b in seen if b.notice == back]) == {task_id(second)}
    finally:
        observer = tail._observer
        tail.stop()
    assert not thread.is_alive()  # joined
    if native:
        assert observer is None and tail._watch is None
        with pytest.raises(OSError):
            os.fstat(watch_fd)  # closed (unless reused: nothing else opens files in this test's process now)
    else:
        assert observer is not None and observer.stopped_event.is_set()  # told to stop (not joined: a daemon)
    assert tail._overflow_log not in logging.getLogger(INOTIFY_LOG).handlers


def test_a_polling_tail_stops_without_an_observer(tmp_path: Path):
    directory = tmp_path / "results"
    directory.mkdir()
    tail, batches = run_tail(directory, poll_interval=0.01)
    collect(batches, lambda seen: any(b.scan_done for b in seen), timeout=10)
    assert tail._observer is None and tail.mode == "polling 0.01s"
    tail.stop()
    assert tail._thread is not None and not tail._thread.is_alive()
