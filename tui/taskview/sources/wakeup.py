"""A flag one thread sets and another waits on together with file descriptors.

``threading.Event`` cannot be waited on beside a file descriptor; this is the
self-pipe: ``set`` writes a byte, so ``wait`` (a ``select``) returns for the
flag or for any of the descriptors it is given, whichever comes first.
"""

from __future__ import annotations

import os
import select
import weakref


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Wakeup:
    """Set, cleared and tested like a ``threading.Event``; ``wait`` also returns when a
    descriptor given to it is readable. Its pipe is closed with it, or by ``close`` once
    nothing waits on it (the tail leaves that to the garbage collector: a late ``set`` from
    another thread is then harmless)."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._set = False
        self._closer = weakref.finalize(self, _close, self._read, self._write)

    def set(self) -> None:
        if not self._set:
            self._set = True
            if not self._closer.alive:
                return  # closed: its descriptors' numbers may be another file's now
            try:
                os.write(self._write, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: bytes enough to wake

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        # The flag first: a set() from now on writes a byte again, and wait() tests the flag first.
        self._set = False
        if not self._closer.alive:
            return
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass

    def wait(self, timeout: float | None, *fds: int) -> bool:
        """Until set, a descriptor of ``fds`` is readable, or ``timeout`` s: True unless timed out."""
        if self._set:
            return True
        ready, _, _ = select.select([self._read, *fds], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        self._closer()
