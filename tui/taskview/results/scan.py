"""One result directory: list it, read records in batches, read one file in full."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import orjson

from .codec import DEFAULT_MAX_BYTES, DIGITS_ONLY, NINETEEN_DIGITS, TYPE_TAG, Decoded, decode, loads_plain_json
from .files import FileRead, ResultName, parse_name, read_file, read_whole
from .lean_summary import task_record
from .problems import Problem
from .record import TaskRecord, classify, summarize_safely


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
    def error(self) -> Problem | None:
        if self.read.error is not None:
            return self.read.error
        return self.decoded.error if self.decoded is not None else None


#: One file for ``--dump``, what ``FullRead`` says, flat and cheap to make (a
#: plain tuple: a million of them go by): (name, path, mtime, size, meta, error,
#: plain). ``meta`` is None when the file could not be read or decoded; ``plain``:
#: it holds only JSON's own types (see ``Decoded.plain``).
MetaRead = tuple[ResultName, str, float, int, "dict[str, Any] | None", "Problem | None", bool]


def _flat(full: FullRead) -> MetaRead:
    plain = full.decoded is not None and full.decoded.plain
    return (full.name, full.path, full.read.mtime, full.read.size, full.meta, full.error, plain)


#: (filename, parsed name) pairs, as ``ResultDirectory.listing`` gives them.
Listing = Sequence[tuple[str, ResultName]]


def parsed_listing(names: Iterable[str]) -> Listing:
    """The result files among directory entry names, each with its parsed name."""
    return [(name, parsed) for name in names if (parsed := parse_name(name)) is not None]


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

    def listing(self) -> Listing:
        """Result files in directory order; raises OSError if the directory cannot be listed."""
        return [*self.iter_names()]

    def entry_names(self) -> list[str]:
        """Every entry's name, result file or not, unparsed: the cheapest listing,
        for readers that parse names as they go (``read_metas``)."""
        return os.listdir(self.path)

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
        return summarize_safely(
            full.name.task_id,
            full.name.kind,
            full.name.prefix,
            full.decoded,
            size=full.read.size,
            mtime=full.read.mtime,
            error=full.read.error,
        )

    def read_all(self, listing: Listing | None = None, *, exact: bool = True) -> Iterator[FullRead]:
        """Every result file (or those of ``listing``) read and decoded, in directory order."""
        with self.held_open():
            for filename, parsed in self.listing() if listing is None else listing:
                full = self.read_full(filename, parsed, exact=exact)
                if full is not None:
                    yield full

    def read_metas(self, names: Sequence[str] | None = None, *, tags_as_repr: bool = False) -> Iterator[MetaRead]:
        """Every result file among ``names`` (default: ``entry_names()``) as a flat
        ``MetaRead``: the lean read path behind ``--dump``.

        The common file (regular, plain JSON) is read and parsed inline, without
        the objects ``read_full`` builds for it; anything else takes ``read_full``'s
        way, which explains every failure. ``tags_as_repr``: see ``loads_plain_json``.
        """
        if names is None:
            names = self.entry_names()
        if type(self).read_full is not ResultDirectory.read_full:  # files that are not plain files here
            for full in self.read_all(parsed_listing(names)):
                yield _flat(full)
            return
        loads, max_bytes = loads_plain_json, self.max_bytes
        orjson_loads, digits, long_run, tag = orjson.loads, DIGITS_ONLY, NINETEEN_DIGITS, TYPE_TAG
        with self.held_open():
            dir_fd, prefix = self._dir_fd, self._prefix
            for filename in names:
                parsed = parse_name(filename)
                if parsed is None:
                    continue
                whole = read_whole(filename, dir_fd, max_bytes)
                if whole is not None:
                    data, st = whole
                    size = st.st_size
                    # loads_plain_json's checks, inline: a call costs a tenth of a file here
                    if data[0] != 0x7B:
                        meta = None
                    elif long_run in data.translate(digits) or tag in data:
                        meta = loads(data, tags_as_repr=tags_as_repr)
                    else:
                        try:
                            meta = orjson_loads(data)
                        except ValueError:
                            meta = None
                        if type(meta) is not dict:
                            meta = None
                    if meta is not None:
                        yield (parsed, prefix + filename, st.st_mtime, size, meta, None, True)
                    else:
                        read = FileRead(data, size, st.st_mtime, None)
                        decoded = decode(data, allow_pickle=self.allow_pickle, max_bytes=max_bytes)
                        yield _flat(FullRead(parsed, prefix + filename, read, decoded))
                    continue
                careful = self.read_full(filename, parsed)
                if careful is not None:
                    yield _flat(careful)

    def read_summaries(self, listing: Listing) -> Iterator[TaskRecord]:
        """The record of every file of ``listing``, as ``read_record`` makes it: the lean
        read path behind a big directory's first scan (``read_metas``' for summaries).

        The common file (regular, plain JSON an orjson parse keeps exact) is read with
        one open, fstat and read and summarized from its meta at once; any other goes
        ``read_record``'s careful way (decoded from the bytes read when it was read whole), so
        every file gets the same record either way.
        """
        if type(self).read_full is not ResultDirectory.read_full:
            with self.held_open():
                for filename, parsed in listing:
                    record = self.read_record(filename, parsed)
                    if record is not None:
                        yield record
            return
        max_bytes, orjson_loads = self.max_bytes, orjson.loads
        digits, long_run, tag = DIGITS_ONLY, NINETEEN_DIGITS, TYPE_TAG
        with self.held_open():
            dir_fd = self._dir_fd
            for filename, parsed in listing:
                whole = read_whole(filename, dir_fd, max_bytes)
                if whole is not None:
                    data, st = whole
                    meta = None
                    kind, task_id, prefix = parsed
                    # decode()'s hot path, inline: a task's record from its fields, when it holds
                    # no type tag (or all in a SUCCESS's result); else plain JSON without type tags
                    # or long numbers, orjson's meta summarized.
                    if data[0] == 0x7B:
                        untagged = tag not in data
                        if kind == "task":
                            record = task_record(task_id, prefix, data, st.st_size, st.st_mtime, plain=untagged)
                            if record is not None:
                                yield record
                                continue
                        if untagged and long_run not in data.translate(digits):
                            try:
                                meta = orjson_loads(data)
                            except ValueError:
                                meta = None
                    if type(meta) is dict:
                        decoded = Decoded(meta, "json", None, None, True)
                    else:  # decode()'s careful way, from the bytes read (not read again)
                        decoded = decode(data, allow_pickle=self.allow_pickle, max_bytes=max_bytes)
                    yield summarize_safely(task_id, kind, prefix, decoded, size=st.st_size, mtime=st.st_mtime)
                    continue
                record = self.read_record(filename, parsed)
                if record is not None:
                    yield record

    def statuses(self, listing: Listing | None = None) -> Iterator[tuple[ResultName, str | None, Problem | None]]:
        """(name, status, error) of every file: the lean pass behind ``--stats``."""
        for full in self.read_all(listing, exact=False):
            if full.read.error is not None or full.decoded is None:
                yield full.name, None, full.read.error
            else:
                yield (full.name, *classify(full.name.kind, full.decoded, full.read.size))

    def status_metas(
        self, listing: Listing | None = None
    ) -> Iterator[tuple[ResultName, str | None, Problem | None, dict[str, Any] | None]]:
        """(name, status, error, meta) of every file: ``statuses`` with the decoded meta
        (for ``--stats``' breakdowns per task name and error group)."""
        for full in self.read_all(listing, exact=False):
            if full.read.error is not None or full.decoded is None:
                yield full.name, None, full.read.error, None
            else:
                status, error = classify(full.name.kind, full.decoded, full.read.size)
                yield full.name, status, error, full.decoded.meta if error is None else None

    def scan(self, batch_size: int = 5000) -> Iterator[list[TaskRecord]]:
        """Every result file as records, in batches, so a UI can fill progressively."""
        batch: list[TaskRecord] = []
        with self.held_open():
            for filename, parsed in self.listing():
                record = self.read_record(filename, parsed)
                if record is not None:
                    batch.append(record)
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
        if batch:
            yield batch
