"""A result directory kept as a .tar, .tar.gz/.tgz or .zip, read in place.

Nothing is extracted to disk: members are read into memory one at a time,
each bounded by ``max_bytes`` before it is read. Members may sit in
subfolders (``results/celery-task-meta-<id>``); names that are not result
files are skipped exactly as in a directory. A member that cannot be read
(bad CRC, cut stream, encrypted) is a row with a reason; an archive that
cannot be opened or listed raises ``ArchiveError`` with a one-line reason.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from .codec import DEFAULT_MAX_BYTES, decode
from .files import NOT_A_FILE, FileRead, ResultName, parse_name, too_large
from .problems import Problem, ProblemKind
from .scan import FullRead, ResultDirectory

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
#: What a damaged archive raises while it is read (zlib, bz2/lzma streams, tar and zip structure).
_BROKEN = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError, RuntimeError, OverflowError)


class ArchiveError(OSError):
    """The archive as a whole cannot be read; ``str()`` is a one-line reason."""


def looks_like_archive(path: str) -> bool:
    """By name, else by content (a .tar.bz2 or an archive without a suffix)."""
    if path.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    try:
        return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)
    except OSError:
        return False


class _Member(NamedTuple):
    name: str  # the full name inside the archive
    size: int
    mtime: float
    regular: bool
    handle: Any  # TarInfo or ZipInfo


class ResultArchive(ResultDirectory):
    """The same interface as ``ResultDirectory`` (list, read_full, read_record, scan), over an archive."""

    forkable = False  # one archive handle, one reader: --dump/--stats read it in one process

    def __init__(self, path: str, *, allow_pickle: bool = False, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(path, allow_pickle=allow_pickle, max_bytes=max_bytes)
        self._lock = threading.Lock()  # the detail pane reads from a thread
        self._members: dict[str, _Member] = {}  # result file name -> member (last one wins)
        self._order: list[tuple[str, ResultName]] = []
        try:
            if zipfile.is_zipfile(self.path):
                self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self.path)
                self._tar: tarfile.TarFile | None = None
                entries = [_zip_member(info) for info in self._zip.infolist()]
            else:
                self._zip = None
                self._tar = tarfile.open(self.path, "r:*")
                entries = [_tar_member(info) for info in self._tar]  # one pass over the headers
        except _BROKEN as exc:
            raise ArchiveError(f"cannot read archive {self.path}: {_reason(exc)}") from None
        for member in entries:
            if member.name.endswith("/"):
                continue  # a zip folder entry
            filename = posixpath.basename(member.name)
            parsed = parse_name(filename)
            if parsed is None:
                continue
            if filename not in self._members:
                self._order.append((filename, parsed))
            self._members[filename] = member

    def close(self) -> None:
        for handle in (self._zip, self._tar):
            if handle is not None:
                handle.close()

    def listing(self) -> list[tuple[str, ResultName]]:
        # Archive order: ``scan`` (inherited) then decompresses a tar.gz once, front to back.
        return list(self._order)

    def entry_names(self) -> list[str]:
        return [name for name, _parsed in self._order]

    def iter_names(self) -> Iterator[tuple[str, ResultName]]:
        return iter(self._order)

    def file_path(self, filename: str) -> str:
        member = self._members.get(filename)
        return f"{self.path}/{member.name if member else filename}"

    @contextmanager
    def held_open(self) -> Iterator[None]:
        yield  # members are read through the archive's own handle

    def read_full(self, filename: str, parsed: ResultName | None = None, *, exact: bool = True) -> FullRead | None:
        parsed = parsed or parse_name(filename)
        member = self._members.get(filename)
        if parsed is None or member is None:
            return None
        read = self._read_member(member)
        decoded = None
        if read.data is not None:
            decoded = decode(read.data, allow_pickle=self.allow_pickle, max_bytes=self.max_bytes, exact=exact)
        return FullRead(parsed, self.file_path(filename), read, decoded)

    def _read_member(self, member: _Member) -> FileRead:
        if not member.regular:
            return FileRead(None, 0, member.mtime, NOT_A_FILE)
        if member.size > self.max_bytes:
            return FileRead(None, member.size, member.mtime, too_large(f" ({member.size:,} bytes)"))
        try:
            with self._lock:
                if self._zip is not None:
                    with self._zip.open(member.handle) as stream:
                        data = stream.read(self.max_bytes + 1)
                else:
                    assert self._tar is not None  # a zip or a tar, opened in __init__
                    extracted = self._tar.extractfile(member.handle)
                    data = extracted.read(self.max_bytes + 1) if extracted is not None else b""
        except _BROKEN as exc:
            damaged = Problem(ProblemKind.UNREADABLE, "unreadable", f": damaged archive member ({_reason(exc)})")
            return FileRead(None, member.size, member.mtime, damaged)
        if len(data) > self.max_bytes:
            return FileRead(None, len(data), member.mtime, too_large(f" (over {self.max_bytes:,} bytes)"))
        return FileRead(data, len(data), member.mtime, None)


def _tar_member(info: tarfile.TarInfo) -> _Member:
    # tar's base-256 fields hold any integer: a time no calendar holds reads as 0.
    mtime = float(info.mtime) if 0 <= info.mtime < 1e11 else 0.0
    return _Member(info.name, info.size, mtime, info.isreg(), info)


def _zip_member(info: zipfile.ZipInfo) -> _Member:
    try:
        mtime = time.mktime((*info.date_time, 0, 0, -1))  # zip keeps local time, to 2 s
    except (OverflowError, ValueError):
        mtime = 0.0
    # A zip made on Unix keeps each entry's file type: a symbolic link's data is its
    # target's path, not a result; like tar's links, such entries are not regular files.
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    return _Member(info.filename, info.file_size, mtime, not info.is_dir() and kind in (0, stat.S_IFREG), info)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, tarfile.ReadError) and str(exc).startswith("file could not be opened"):
        return "not a tar, tar.gz or zip archive"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__
