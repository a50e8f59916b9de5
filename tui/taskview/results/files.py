"""Result file names and reading one file, with every OS failure as a reason."""

from __future__ import annotations

import os
import stat
import sys
from typing import NamedTuple

from .problems import Problem, ProblemKind, gone

TASK_PREFIX = "celery-task-meta-"
GROUP_PREFIX = "celery-taskset-meta-"
# Celery's global_keyprefix gets one of these appended when it lacks one.
_KEYPREFIX_SEPARATORS = ":_-."


class ResultName(NamedTuple):
    kind: str  # "task" | "group"
    task_id: str
    prefix: str  # everything before the id, interned: one string for a whole directory


_new_tuple = tuple.__new__
_TASK_PREFIX_LEN = len(TASK_PREFIX)


def parse_name(name: str) -> ResultName | None:
    """Classify a directory entry; None for probe files, dotfiles and strangers."""
    if name.startswith(TASK_PREFIX) and len(name) > _TASK_PREFIX_LEN:
        # Celery's own name, nearly every entry of a directory: no more checks, and
        # the tuple made directly (ResultName(...) costs a Python-level __new__).
        return _new_tuple(ResultName, ("task", name[_TASK_PREFIX_LEN:], TASK_PREFIX))
    if not name or name[0] == ".":
        return None  # .fs-backend-* probes, editor and rsync temporaries
    if name.startswith(TASK_PREFIX):
        at, kind, plen = 0, "task", len(TASK_PREFIX)
    elif name.startswith(GROUP_PREFIX):
        at, kind, plen = 0, "group", len(GROUP_PREFIX)
    else:
        at = name.find(TASK_PREFIX)
        kind, plen = "task", len(TASK_PREFIX)
        if at < 0:
            at = name.find(GROUP_PREFIX)
            kind, plen = "group", len(GROUP_PREFIX)
        if at <= 0 or name[at - 1] not in _KEYPREFIX_SEPARATORS:
            return None
    task_id = name[at + plen :]
    if not task_id:
        return None
    return ResultName(kind, task_id, sys.intern(name[: at + plen]))


def plain_task_ids(ids: list[str]) -> list[ResultName]:
    """``parse_name`` of Celery's own task names (``celery-task-meta-`` and an id: its fast
    path), made from their ids in one comprehension for a reader's share."""
    return [_new_tuple(ResultName, ("task", task_id, TASK_PREFIX)) for task_id in ids]


class FileRead(NamedTuple):
    data: bytes | None
    size: int
    mtime: float
    error: Problem | None


OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_file(path: str | bytes, max_bytes: int, dir_fd: int | None = None) -> FileRead:
    """Read a whole result file with one fstat and (usually) one read.

    O_NONBLOCK keeps a FIFO that happens to carry a result name from hanging us.
    With ``dir_fd`` (an open directory), ``path`` is a bare name: the kernel
    skips resolving the directory's path for every file of a scan.
    """
    try:
        fd = os.open(path, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return FileRead(None, 0, 0.0, os_reason(exc))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FileRead(None, 0, st.st_mtime, NOT_A_FILE)
        if st.st_size > max_bytes:
            return FileRead(None, st.st_size, st.st_mtime, too_large(f" ({st.st_size:,} bytes)"))
        # A short read of a regular file means end of file: st_size + 1 in one call.
        data = os.read(fd, st.st_size + 1)
        if len(data) > st.st_size:  # it grew while we read: take the rest too
            chunks = [data]
            total = len(data)
            while total <= max_bytes:
                more = os.read(fd, 1 << 20)
                if not more:
                    break
                chunks.append(more)
                total += len(more)
            data = b"".join(chunks)
            if total > max_bytes:
                return FileRead(None, total, st.st_mtime, too_large(f" (over {max_bytes:,} bytes)"))
        return FileRead(data, len(data), st.st_mtime, None)
    except OSError as exc:
        return FileRead(None, 0, 0.0, os_reason(exc))
    finally:
        os.close(fd)


def read_whole(name: str, dir_fd: int | None, max_bytes: int) -> tuple[bytes, os.stat_result] | None:
    """``read_file``'s common case, for the lean scans: a regular, non-empty file of at most
    ``max_bytes``, read whole in one read, with its fstat. None for anything else (it cannot
    be opened, is not a regular file, is empty or too big, or changed size while read): then
    ``read_file``'s careful way says what it is."""
    try:
        fd = os.open(name, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        size = st.st_size
        if not (stat.S_ISREG(st.st_mode) and 0 < size <= max_bytes):
            return None
        data = os.read(fd, size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return (data, st) if len(data) == size else None


#: A directory, FIFO or device that carries a result file's name.
NOT_A_FILE = Problem(ProblemKind.NOT_A_FILE, "not a regular file")


def too_large(detail: str) -> Problem:
    return Problem(ProblemKind.TOO_LARGE, "too large to read", detail)


def os_reason(exc: OSError) -> Problem:
    if isinstance(exc, FileNotFoundError):
        return gone()
    if isinstance(exc, PermissionError):
        return Problem(ProblemKind.UNREADABLE, "unreadable", ": permission denied")
    if isinstance(exc, IsADirectoryError):
        return NOT_A_FILE
    return Problem(ProblemKind.UNREADABLE, "unreadable", f": {exc.strerror or exc}")
