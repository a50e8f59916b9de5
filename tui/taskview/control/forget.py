"""Forget: remove result files, safely (no Textual).

Only a file whose name is a result file's (``celery-task-meta-*``,
``celery-taskset-meta-*``, after any ``global_keyprefix``), directly inside the
directory (a bare name, looked up through the directory's own descriptor), a
regular file (never a symbolic link, so never anything outside it), and exactly
as it was listed (the same size and mtime, checked right before it is removed:
a task that changed since is kept). The rows leave the inspector the way any
deleted file does, through the tail.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator

from ..results.files import parse_name


def remove_files(directory: str, files: Iterable[tuple[str, int, float]]) -> Iterator[tuple[bool, str]]:
    """For each ``(name, size, mtime)`` as listed: ``(True, "")`` once removed, else ``(False, why)``.

    A generator: each file is checked and removed as it is asked for (a caller can stop between two).
    Raises OSError when the directory itself cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    dir_fd = os.open(directory, flags)
    try:
        for name, size, mtime in files:
            yield _remove_one(dir_fd, name, size, mtime)
    finally:
        os.close(dir_fd)


def _remove_one(dir_fd: int, name: str, size: int, mtime: float) -> tuple[bool, str]:
    if not name or "/" in name or "\0" in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        return False, "not a name inside the directory: kept"
    if parse_name(name) is None:
        return False, "not a result file's name: kept"
    try:
        st = os.lstat(name, dir_fd=dir_fd)  # the entry itself: a link is not followed
    except FileNotFoundError:
        return False, "gone already"
    except OSError as exc:
        return False, f"cannot check it: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return False, "not a regular file (a link?): kept"
    if st.st_size != size or st.st_mtime != mtime:
        return False, "changed since it was listed: kept"
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False, "gone already"
    except OSError as exc:
        return False, f"cannot remove it: {exc.strerror or exc}"
    return True, ""
