"""``--log FILE``: what a user attaches to a bug report. It records the session, and holds no secret."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.pilot import wait_until
from helpers.samples import sample_file
from helpers.terminal import Terminal
from taskview import debug_log
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp

PASSWORD = "Log5ecretPw"
BROKER = f"redis://:{PASSWORD}@127.0.0.1:1/0"  # nothing listens on port 1: every send fails


def test_the_log_records_a_session_without_its_password(samples: Path, tmp_path: Path):
    log_file = tmp_path / "taskview.log"
    with Terminal([str(samples), "-b", BROKER, "--log", str(log_file)]) as terminal:
        terminal.wait_for(lambda: "tasks" in terminal.text())
        terminal.press("n")
        terminal.press("a")
        terminal.wait_for(lambda: "unreachable" in terminal.text())
        shutil.copy(sample_file('"SUCCESS"'), samples / "celery-task-meta-arrived-later")
        terminal.wait_for(lambda: "batch: 1 records" in log_file.read_text())
    log = log_file.read_text()
    for expected in (
        f"taskview {samples} -b redis://:****@127.0.0.1:1/0 --log",  # the command line, masked
        "first scan of",  # the tail's scans
        "enqueue demo task 'a' via redis://:****@127.0.0.1:1/0",  # control actions
        "enqueue: ok=False broker unreachable",  # and their outcomes
        "notice: broker unreachable",  # what the status bar said
    ):
        assert expected in log, (expected, log)
    assert PASSWORD not in log and PASSWORD not in terminal.output.decode("utf-8", "replace")


def test_a_log_file_that_cannot_be_written_is_a_one_line_error(samples: Path, tmp_path: Path):
    for target in (tmp_path / "no-such-dir" / "x.log", tmp_path):  # missing directory; a directory
        proc = subprocess.run(
            [sys.executable, "-m", "taskview", str(samples), "--stats", "--log", str(target)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("taskview: error: cannot write the log file") and proc.stderr.count("\n") == 1
        assert proc.stdout == ""


UNCAUGHT = textwrap.dedent("""
    import sys, threading
    from taskview import debug_log
    debug_log.start(sys.argv[1], [sys.argv[2]])
    def worker():
        raise ConnectionError("thread lost " + sys.argv[2])
    thread = threading.Thread(target=worker, name="some-thread")
    thread.start(); thread.join()
    raise RuntimeError("cannot reach " + sys.argv[2])
""")


def test_uncaught_exceptions_are_logged_with_their_traceback_masked(tmp_path: Path):
    log_file = tmp_path / "taskview.log"
    proc = subprocess.run(
        [sys.executable, "-c", UNCAUGHT, str(log_file), BROKER], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "RuntimeError" in proc.stderr  # Python's own report still comes
    log = log_file.read_text()
    assert "uncaught exception in thread some-thread" in log and "ConnectionError: thread lost" in log
    assert "uncaught exception\nTraceback (most recent call last):" in log
    assert "RuntimeError: cannot reach redis://:****@127.0.0.1:1/0" in log
    assert PASSWORD not in log


async def test_a_failure_inside_the_inspector_is_logged(samples: Path, tmp_path: Path):
    log_file = tmp_path / "taskview.log"
    masking = debug_log.start(str(log_file), [BROKER])
    try:
        app = TaskviewApp(ResultDirectory(str(samples)))

        def broken() -> None:
            raise ValueError(f"a bug, near {BROKER}")

        with pytest.raises(ValueError):
            async with app.run_test(size=(120, 30)) as pilot:
                await wait_until(pilot, lambda: app.inspector.scan is None)
                app.call_later(broken)
                await wait_until(pilot, lambda: "the inspector failed" in log_file.read_text())
    finally:
        debug_log.stop(masking)
    log = log_file.read_text()
    assert "CRITICAL" in log and "the inspector failed" in log
    assert "ValueError: a bug, near redis://:****@127.0.0.1:1/0" in log and PASSWORD not in log
