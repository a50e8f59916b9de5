"""One result directory: list it, read records in batches, read one file in full."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from .codec import DEFAULT_MAX_BYTES, Decoded, decode
from .files import FileRead, ResultName, parse_name, read_file
from .record import TaskRecord, classify, summarize


class FullRead(NamedTuple):
    """A file read and decoded in full, for the detail pane and --dump."""

    name: ResultName
    path: str
    read: FileRead
    decoded: Decoded | None

    @property
    def meta(self) -> dict | None:
        """The decoded meta when the file was read and decoded whole, else None."""
        if self.error is None and self.decoded is not None and isinstance(self.decoded.meta, dict):
            return self.decoded.meta
        return None

    @property
    def error(self) -> str | None:
        if self.read.error is not None:
            return self.read.error
        return self.decoded.error if self.decoded is not None else None


#: (filename, parsed name) pairs, as ``ResultDirectory.list`` gives them.
Listing = Sequence[tuple[str, ResultName]]


class ResultDirectory:
    """A directory written by Celery's file backend (``file:///...``)."""

    #: Whether other processes may read its files for us: forked shares of
    #: --dump/--stats, a child process for a big first scan.
    forkable = True

    def __init__(self, path: str, *, allow_pickle: bool = False, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = os.path.abspath(path)
        self.allow_pickle = allow_pickle
        self.max_bytes = max_bytes
        self._dir_fd: int | None = None
        self._prefix = os.path.join(self.path, "")  # a concatenation is 10x a join

    @contextmanager
    def held_open(self) -> Iterator[None]:
        """Keep the directory open so reads go by name relative to it (a scan's hot path)."""
        if self._dir_fd is not None:
            yield
            return
        self._dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        try:
            yield
        finally:
            fd, self._dir_fd = self._dir_fd, None
            os.close(fd)

    def list(self) -> Listing:
        """Result files in directory order; raises OSError if the directory cannot be listed."""
        return [*self.iter_names()]

    def iter_names(self) -> Iterator[tuple[str, ResultName]]:
        """Result files as the directory listing streams them (the first long before the last)."""
        with os.scandir(self.path) as entries:
            for entry in entries:
                parsed = parse_name(entry.name)
                if parsed is not None:
                    yield entry.name, parsed

    def file_path(self, filename: str) -> str:
        return self._prefix + filename

    def read_full(self, filename: str, parsed: ResultName | None = None, *, exact: bool = True) -> FullRead | None:
        parsed = parsed or parse_name(filename)
        if parsed is None:
            return None
        path = self.file_path(filename)
        if self._dir_fd is None:
            read = read_file(path, self.max_bytes)
        else:
            read = read_file(filename, self.max_bytes, self._dir_fd)
        decoded = None
        if read.data is not None:
            decoded = decode(read.data, allow_pickle=self.allow_pickle, max_bytes=self.max_bytes, exact=exact)
        return FullRead(parsed, path, read, decoded)

    def read_record(self, filename: str, parsed: ResultName | None = None) -> TaskRecord | None:
        full = self.read_full(filename, parsed)
        if full is None:
            return None
        try:
            return summarize(
                full.name.task_id,
                full.name.kind,
                full.name.prefix,
                full.decoded,
                size=full.read.size,
                mtime=full.read.mtime,
                error=full.read.error,
            )
        except Exception as exc:  # content no summary should choke on; one file never stops a scan
            return TaskRecord(
                full.name.task_id,
                full.name.kind,
                full.name.prefix,
                size=full.read.size,
                mtime=full.read.mtime,
                error=f"cannot summarize: {type(exc).__name__}",
            )

    def read_all(self, listing: Listing | None = None, *, exact: bool = True) -> Iterator[FullRead]:
        """Every result file (or those of ``listing``) read and decoded, in directory order."""
        with self.held_open():
            for filename, parsed in self.list() if listing is None else listing:
                full = self.read_full(filename, parsed, exact=exact)
                if full is not None:
                    yield full

    def statuses(self, listing: Listing | None = None) -> Iterator[tuple[ResultName, str | None, str | None]]:
        """(name, status, error) of every file: the lean pass behind ``--stats``."""
        for full in self.read_all(listing, exact=False):
            if full.read.error is not None or full.decoded is None:
                yield full.name, None, full.read.error
            else:
                yield (full.name, *classify(full.name.kind, full.decoded, full.read.size))

    def scan(self, batch_size: int = 5000) -> Iterator[list[TaskRecord]]:
        """Every result file as records, in batches, so a UI can fill progressively."""
        batch: list[TaskRecord] = []
        with self.held_open():
            for filename, parsed in self.list():
                record = self.read_record(filename, parsed)
                if record is not None:
                    batch.append(record)
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch
