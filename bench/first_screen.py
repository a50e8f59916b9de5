"""First screen: from launching ``taskview DIR`` in a real terminal (a pty) to its first rows painted.

The baseline is the same launch on an empty directory, to the first frame
(the column header): what Python and Textual cost before any file is read.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from pathlib import Path

from common import TASKVIEW, Figure, empty_dir, median, size_label

COLUMNS, ROWS = 100, 30


def time_to_output(argv: list[str], pattern: bytes, timeout: float = 60.0) -> float:
    """Seconds from fork to ``pattern`` appearing in what the program writes to its terminal."""
    started = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:  # the child: a terminal of a known size, then taskview
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.execvp(argv[0], argv)
    seen = b""
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen = seen[-len(pattern) :] + chunk
            if pattern in seen:
                return time.perf_counter() - started
        raise RuntimeError(f"{pattern!r} never appeared on the screen of {argv}")
    finally:
        os.kill(pid, signal.SIGTERM)
        # Keep draining so the app is not blocked writing while it exits.
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            done, _status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    pass
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def run(path: Path, count: int, repeats: int) -> list[Figure]:
    empty, rows = [], []
    for _ in range(repeats):
        empty.append(time_to_output(TASKVIEW + [str(empty_dir())], b"STATUS"))
        rows.append(time_to_output(TASKVIEW + [str(path)], b"SUCCESS"))
    baseline = median(empty)
    value = median(rows)
    return [
        Figure(
            f"first rows painted, {size_label(count)} files",
            value,
            "s",
            baseline,
            "empty dir",
            "< 0.5 s",
            value < 0.5,
        )
    ]
