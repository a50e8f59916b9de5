"""Run the real ``taskview`` command in a pseudo-terminal and keep every byte it sends to it.

What a test reads here is what a user's terminal would receive: escape sequences
included, so a test can check that none came from the files shown.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Sequence

#: Escape sequences, for turning the stream into the text a user reads.
_SEQUENCE = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class Terminal:
    """``taskview ARGS`` on a pty of ``columns`` x ``rows``; ``output`` holds all it wrote.

    ``command``: the program to run ARGS with, instead of this Python's ``-m taskview``
    (e.g. the ``taskview`` of another virtual environment).
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        columns: int = 140,
        rows: int = 35,
        command: Sequence[str] = (sys.executable, "-m", "taskview"),
    ) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows), **(env or {})}
        full_env.pop("TEXTUAL", None)
        self.proc = subprocess.Popen(
            [*command, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.output = b""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the program has exited
                    return
                if not chunk:
                    return
                self.output += chunk

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Read until ``condition()`` holds; a loaded machine gets time, a fast one never waits for it."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; screen text so far:\n{self.text()[-3000:]}"
            self.read(0.1)

    def press(self, *keys: str, pause: float = 0.3) -> None:
        for key in keys:
            os.write(self.master, key.encode())
            self.read(pause)

    def text(self) -> str:
        """What was written, without escape sequences (the text a user read, in drawing order)."""
        return _SEQUENCE.sub(b"", self.output).decode("utf-8", "replace")

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                os.write(self.master, b"q")
            except OSError:
                pass
            deadline = time.monotonic() + 5
            while self.proc.poll() is None and time.monotonic() < deadline:
                self.read(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(5)
        self.read(0.2)
        os.close(self.master)
        return code

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
