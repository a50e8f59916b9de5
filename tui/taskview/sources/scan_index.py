"""An on-disk index of a big directory's first scan, so that reopening it re-reads only what changed.

What the reader processes sent of every file (its name, mtime, size and summary)
is kept in the user's cache directory, one file per result directory, named from
the directory's device and inode and the format's version::

    $XDG_CACHE_HOME/taskview/scan-<st_dev hex>-<st_ino hex>.v4   (else ~/.cache/taskview/)

The next first scan of that directory hands it to its readers, which list and
``lstat`` their share and read again only the files whose name, mtime or size
differ from what the index says (or that it does not hold): the rest keep the
summary indexed. A reader on a filesystem whose directory times can be trusted
(``fsinfo``) does not list a directory whose mtime and ctime are those the index
kept of it (``dir_times``: no file created, removed or renamed in it since; git's
untracked cache does the same): it takes its share's names from the index. It
holds task names and argument previews: created with mode 0600, in a directory
of mode 0700, never through a symlink (a temporary file made with O_EXCL,
renamed over the index).

Never trusted blindly: an index that cannot be opened, is not a regular file of
the user's own with mode 0600, is cut short, corrupt (a CRC per chunk), of
another version of the format or of taskview, of another directory (device and
inode, as the reader sees its directory), or written with another ``max_bytes``
is ignored (a debug-log line says why) and the directory is read as without
one. Rows with an error are never taken from it, nor files whose mtime is less
than ``RACY_SECONDS`` before the scan that indexed them began: a rewrite within
one tick of the filesystem's clock could keep both mtime and size (git's
"racily clean" entries). Runs with ``--allow-pickle`` neither use nor write it.

The format: a header line (JSON), the reader's batch lines as they crossed the
pipe (``records_to_batch``, orjson; each a run of task ids in ascending order),
each followed by its key (``ChunkKey``: the rows' ids, mtimes and sizes, their
census, how many hold an error, the rows whose name is not Celery's own: what a
reopen checks and counts, about half a line's bytes), a table of the chunks (JSON:
first and last id, offset, length and CRC-32 of each line, then of its key; and
the directory's times, ``dir_times``, when kept) and a
trailer of 17 bytes, the table's offset in hex and a newline. The readers print
each key before its batch line and the tail writes both as they arrive, so it
costs the inspector no encoding of its own. A reopen's reader decodes the keys of
the chunks that overlap its share; a chunk's rows only when it forwards them (once
its census is sent) or when some of its files changed.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import msgspec

from ..results.files import TASK_PREFIX
from ..results.record import ROW_FIELDS, TaskRecord, batch_census, records_from_batch, select_rows

log = logging.getLogger(__name__)

#: Bumped whenever what a summary holds, or how this file is laid out, changes.
VERSION = 4
MAGIC = "taskview-scan-index"
#: A file changed less than this before the indexing scan began is not taken from the index.
RACY_SECONDS = 2.0
_TRAILER = 17  # 16 hex digits and a newline
_MAX_HEADER = 1 << 16


class IndexProblem(Exception):
    """Why an index is not used."""


def cache_dir(environ: dict[str, str] | None = None) -> str:
    """Where indexes live: ``$XDG_CACHE_HOME/taskview`` (an absolute path only, as the
    XDG spec says), else ``~/.cache/taskview``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "taskview")


def index_name(dev: int, ino: int) -> str:
    return f"scan-{dev:x}-{ino:x}.v{VERSION}"


@functools.cache
def _taskview_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskview")
    except PackageNotFoundError:  # run from a source tree
        return "unknown"


@dataclass
class Header:
    """What an index says of itself (its first line), and its table of chunks."""

    dev: int
    ino: int
    max_bytes: int
    racy_after: float  # files whose mtime is not below this are read again
    #: (first id, last id, offset, length, crc32, and (offset, length, crc32) of its key or None)
    chunks: list[tuple[str, str, int, int, int, tuple[int, int, int] | None]]
    #: The directory's (st_mtime_ns, st_ctime_ns) before the indexing scan listed it, when the
    #: index holds a row for every task file that listing found (``IndexWriter``), else None.
    dir_times: tuple[int, int] | None = None


def _expected(dev: int, ino: int, max_bytes: int) -> dict[str, Any]:
    return {
        "format": MAGIC,
        "version": VERSION,
        "taskview": _taskview_version(),
        "fields": list(ROW_FIELDS),
        "dev": dev,
        "ino": ino,
        "max_bytes": max_bytes,
    }


def read_header(fd: int, dev: int, ino: int, max_bytes: int) -> Header:
    """The header and chunk table of the index open at ``fd``, checked against the
    directory (``dev``, ``ino``) and the reading's ``max_bytes``; raises IndexProblem."""
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, _MAX_HEADER, 0)
        end = head.find(b"\n")
        if end < 0:
            raise IndexProblem("no header line")
        header = json.loads(head[:end])
        if not isinstance(header, dict) or header.get("format") != MAGIC:
            raise IndexProblem("not a taskview scan index")
        expected = _expected(dev, ino, max_bytes)
        for key in ("version", "taskview", "fields"):
            if header.get(key) != expected[key]:
                raise IndexProblem(f"another {key}: {header.get(key)!r}, this is {expected[key]!r}")
        if header.get("dev") != dev or header.get("ino") != ino:
            raise IndexProblem("written for another directory (device and inode differ)")
        if header.get("max_bytes") != max_bytes:
            raise IndexProblem("written with another --max-bytes")
        racy_after = header.get("racy_after")
        if type(racy_after) is not float:
            raise IndexProblem("no racy_after in the header")
        if size < end + 1 + _TRAILER:
            raise IndexProblem("cut short")
        trailer = os.pread(fd, _TRAILER, size - _TRAILER)
        if len(trailer) != _TRAILER or trailer[-1:] != b"\n" or not _is_hex(trailer[:-1]):
            raise IndexProblem("cut short (no trailer)")
        table_at = int(trailer[:-1], 16)
        if not end + 1 <= table_at <= size - _TRAILER:
            raise IndexProblem("cut short (its table is out of the file)")
        table = json.loads(os.pread(fd, size - _TRAILER - table_at, table_at))
        chunks = [_table_entry(*entry) for entry in table["chunks"]]
        dir_times = table.get("dir_times")
        if dir_times is not None:
            mtime_ns, ctime_ns = dir_times
            if type(mtime_ns) is not int or type(ctime_ns) is not int:
                raise IndexProblem("corrupt: its directory's times are not two numbers")
            dir_times = (mtime_ns, ctime_ns)
    except IndexProblem:
        raise
    except OSError as exc:
        raise IndexProblem(f"cannot read it: {exc.strerror or exc}") from None
    except Exception as exc:  # JSON, unpacking, int(), nesting too deep...: whatever it holds, never the scan's end
        raise IndexProblem(f"corrupt: {type(exc).__name__}") from None
    for first, last, offset, length, _, key_at in chunks:
        places = [(offset, length)] if key_at is None else [(offset, length), (key_at[0], key_at[1])]
        if first > last or any(at < end + 1 or at + size > table_at for at, size in places):
            raise IndexProblem("corrupt: a chunk out of place")
    return Header(dev, ino, max_bytes, racy_after, chunks, dir_times)


def _table_entry(
    first: Any, last: Any, offset: Any, length: Any, crc: Any, *key: Any
) -> tuple[str, str, int, int, int, tuple[int, int, int] | None]:
    """One chunk's entry of the table: its line's place and CRC, then its key's (none in an index
    written without keys)."""
    if key and len(key) != 3:
        raise ValueError("a chunk's key is three numbers")
    key_at = (int(key[0]), int(key[1]), int(key[2])) if key else None
    return (str(first), str(last), int(offset), int(length), int(crc), key_at)


@dataclass(frozen=True)
class Trust:
    """Which indexed rows may be trusted if their file is unchanged: a task id in [low, high)
    (a reader's share), no error, and an mtime below ``racy_after``."""

    low: str | None
    high: str | None
    racy_after: float


class ChunkKey(msgspec.Struct, frozen=True):
    """What a reopen checks of a chunk's files, and what it counts, without decoding its rows:
    their task ids (joined by "/", which no file name holds), mtimes and sizes, the rows' census
    (``batch_census``), how many rows hold an error, and (row, prefix) of the rows whose file
    name is not Celery's own (``celery-task-meta-<id>``). A reader writes one before each batch
    line; the index keeps it beside the chunk."""

    ids: str
    mtimes: list[float]
    sizes: list[int]
    census: dict[str, int]
    errors: int
    odd: list[tuple[int, str]]


class _Keyed(msgspec.Struct):
    key: ChunkKey


#: How a key line begins (the reader's pipe carries it before its batch line).
KEY_LINE_START = b'{"key":'
_DECODE_KEY = msgspec.json.Decoder(_Keyed)
_ENCODE = msgspec.json.Encoder()


def key_of(batch: dict[str, Any]) -> ChunkKey:
    """The key of a batch (``records_to_batch``)."""
    columns, strings = batch["columns"], batch["strings"]
    prefixes, errors = columns[_PREFIX], columns[_ERROR]
    plain = {at for at, string in enumerate(strings) if string == TASK_PREFIX}
    if len(plain) == 1 and prefixes.count(next(iter(plain))) == len(prefixes):
        odd = []
    else:
        odd = [(row, strings[at]) for row, at in enumerate(prefixes) if at not in plain]
    return ChunkKey(
        "/".join(columns[0]),
        columns[_MTIME],
        columns[_SIZE],
        dict(batch_census(batch)),
        len(errors) - errors.count(None),
        odd,
    )


def key_line(batch: dict[str, Any]) -> bytes:
    """A batch's key as the line a reader writes before the batch's own."""
    keyed = _Keyed(key_of(batch))
    try:
        return _ENCODE.encode(keyed) + b"\n"
    except UnicodeEncodeError:  # a name that is not UTF-8 (surrogates): escaped, as child_scan._dumps does
        return json.dumps(msgspec.to_builtins(keyed)).encode("ascii") + b"\n"


def _decode_typed(data: bytes, decoder: msgspec.json.Decoder[Any], kind: Any) -> Any:
    """``data`` decoded as ``kind``, its types checked; raises msgspec.MsgspecError (or a JSON
    error) when it is none. A name that is not UTF-8 crossed the pipe escaped (child_scan._dumps,
    ``key_line``): msgspec refuses its lone surrogates, Python's json takes them."""
    try:
        return decoder.decode(data)
    except msgspec.DecodeError:
        return msgspec.convert(json.loads(data), kind)


def _decode_key(data: bytes, first: str, last: str) -> tuple[ChunkKey, list[str]] | None:
    """A key line and its ids, its types checked as it is decoded and its columns lined up with
    the table's first and last id; None when it is none."""
    try:
        key = cast(_Keyed, _decode_typed(data, _DECODE_KEY, _Keyed)).key
    except Exception:  # the CRC matched, yet it is no key (written by something else)
        return None
    ids = key.ids.split("/") if key.ids else []
    rows = len(ids)
    if not ids or ids[0] != first or ids[-1] != last or len(key.mtimes) != rows or len(key.sizes) != rows:
        return None
    if not 0 <= key.errors <= rows or min(key.census.values(), default=0) < 0:
        return None
    odd_rows = [row for row, _ in key.odd]
    if odd_rows and (odd_rows != sorted(set(odd_rows)) or odd_rows[0] < 0 or odd_rows[-1] >= rows):
        return None
    return key, ids


class IndexChunk:
    """One chunk of an index: its key (``ChunkKey``), which a reopen of unchanged files needs
    alone, and its rows (a reader's batch line of an earlier scan), decoded only when first
    asked (``batch``, None if corrupt), with the rows that may then be trusted if their file is
    unchanged (``rows``, by task id)."""

    __slots__ = (
        "key",
        "ids",
        "trust",
        "mtimes",
        "sizes",
        "key_data",
        "_load",
        "_found_corrupt",
        "_line",
        "_batch",
        "_rows",
        "_prefixes",
    )

    def __init__(
        self,
        key: ChunkKey,
        ids: list[str],
        trust: Trust,
        key_data: bytes,
        load: Callable[[], bytes | None],
        batch: dict[str, Any] | None = None,
        found_corrupt: Callable[[], None] = lambda: None,
    ) -> None:
        """``ids``: the key's, as a list; ``load``: the chunk's line, its CRC checked (None:
        unreadable or corrupt, said already); ``found_corrupt``: called if that line is not the
        batch the key says."""
        self.key = key
        self.ids = ids
        self.mtimes, self.sizes = key.mtimes, key.sizes
        self.trust = trust
        #: The key as it lies in the index (a key line, its newline included).
        self.key_data = key_data
        self._load = load
        self._found_corrupt = found_corrupt
        self._line: bytes | None = None
        self._batch = batch
        self._rows: dict[str, int] | None = None
        self._prefixes: list[str] | None = None

    @property
    def line(self) -> bytes | None:
        """The chunk as it lies in the index (a batch line, its newline included), its CRC
        right; None if it is not."""
        if self._line is None:
            self._line = self._load()
        return self._line

    @property
    def batch(self) -> dict[str, Any] | None:
        """The chunk's rows, decoded and checked to be a batch that lines up with its key;
        None if they are not."""
        if self._batch is None:
            line = self.line
            if line is not None:
                self._batch = _checked_batch(line, self.key, self.ids)
                if self._batch is None:
                    self._found_corrupt()
            if self._batch is None:
                self._batch = {}  # asked again: still none
        return self._batch or None

    @property
    def rows(self) -> dict[str, int]:
        """The rows that may be trusted if their file is unchanged, by task id."""
        if self._rows is None:
            batch = self.batch
            if batch is None:
                self._rows = {}
                return self._rows
            columns = batch["columns"]
            low, high, racy_after = self.trust.low, self.trust.high, self.trust.racy_after
            trusted = zip(columns[0], columns[_ERROR], columns[_MTIME], strict=True)
            self._rows = {
                task_id: row
                for row, (task_id, error, mtime) in enumerate(trusted)
                if error is None
                and mtime < racy_after
                and (low is None or task_id >= low)
                and (high is None or task_id < high)
            }
        return self._rows

    @property
    def prefixes(self) -> list[str]:
        """Each row's name prefix (what comes before the id in its file's name)."""
        if self._prefixes is None:
            batch = self.batch
            assert batch is not None, "a corrupt chunk has no rows to ask of"
            strings = batch["strings"]
            self._prefixes = [strings[at] for at in batch["columns"][_PREFIX]]
        return self._prefixes

    def same_prefixes(self, odd: list[tuple[int, str]]) -> bool:
        """Whether the rows' name prefixes are Celery's own (``celery-task-meta-``) but at the
        rows ``odd`` names, each with the (other) prefix it gives."""
        return odd == self.key.odd

    def batch_of(self, rows: list[int]) -> dict[str, Any]:
        """A batch line of these rows (ascending), as the reader would have made it."""
        batch = self.batch
        assert batch is not None, "a corrupt chunk has no rows to ask of"
        return select_rows(batch, rows)

    def whole(self, rows: list[int]) -> bool:
        """Whether these rows (ascending, distinct) are every row of the chunk: its ``line`` is
        then their batch line as it is (a reopen of an unchanged directory makes no batch again)."""
        return len(rows) == len(self.mtimes) and rows[-1] == len(rows) - 1

    def records(self, rows: list[int]) -> list[TaskRecord]:
        return records_from_batch(self.batch_of(rows))

    @property
    def all_trusted(self) -> bool:
        """Every row of the chunk may be trusted if its file is unchanged (as ``rows`` would hold
        every row), found from its key: ids distinct, none with an error, each in the share,
        none racy."""
        ids = self.ids
        if not ids:
            return True
        low, high = self.trust.low, self.trust.high
        return (
            self.key.errors == 0
            and max(self.mtimes) < self.trust.racy_after
            and (low is None or ids[0] >= low)
            and (high is None or ids[-1] < high)
            and all(map(str.__lt__, ids, ids[1:]))  # ascending: distinct
        )


#: A chunk as it must be, types checked as it is decoded (msgspec, in C: a reader forwards a
#: million rows without making a record of each). Columns in ROW_FIELDS order.
_Columns = tuple[
    list[str],  # task_id
    list[int],  # prefix (an index into the strings)
    list[int],  # status
    list[int],  # name
    list[int],  # worker
    list[str | None],  # args
    list[float | None],  # date_done
    list[float],  # mtime
    list[int],  # size
    list[list[Any] | None],  # error
    list[int | list[Any] | None],  # running
]


class _ChunkColumns(TypedDict):
    strings: list[str]
    columns: _Columns


class _Chunk(_ChunkColumns, total=False):
    links: list[list[Any]]
    linked: tuple[list[int], list[int]]


_DECODE_CHUNK = msgspec.json.Decoder(_Chunk)
_SHARED_COLUMNS = tuple(at for at, field in enumerate(ROW_FIELDS) if field in ("prefix", "status", "name", "worker"))
_PREFIX, _MTIME, _SIZE, _ERROR = (ROW_FIELDS.index(f) for f in ("prefix", "mtime", "size", "error"))


def _decode_chunk(data: bytes) -> dict[str, Any]:
    """A chunk's batch, its types checked; raises msgspec.MsgspecError when it is none."""
    return cast("dict[str, Any]", _decode_typed(data, _DECODE_CHUNK, _Chunk))


def _well_formed(batch: dict[str, Any], first: str, last: str) -> bool:
    """Whether a chunk's batch (its types checked: ``_decode_chunk``) lines up: columns of one
    length, ids in [first, last], every index pointing into its table."""
    columns, strings = batch["columns"], batch["strings"]
    if len(set(map(len, columns))) != 1:
        return False
    ids = columns[0]
    if ids and (min(ids) < first or max(ids) > last):
        return False
    for at in _SHARED_COLUMNS:
        column = columns[at]
        if column and (min(column) < -1 or max(column) >= len(strings)):
            return False
    if columns[_PREFIX] and min(columns[_PREFIX]) < 0:
        return False  # every row has a prefix
    links = batch.get("links", [])
    rows, which = batch.get("linked", ([], []))
    if len(rows) != len(which):
        return False
    if rows and (min(rows) < 0 or max(rows) >= len(ids) or min(which) < 0 or max(which) >= len(links)):
        return False
    return all(len(one) == 5 for one in links)


def _checked_batch(line: bytes, key: ChunkKey, ids: list[str]) -> dict[str, Any] | None:
    """A chunk's line decoded, if it is a well-formed batch of the rows its key (whose ids are
    ``ids``) says."""
    try:
        batch = _decode_chunk(line)
        if not ids or not _well_formed(batch, ids[0], ids[-1]):
            return None
    except Exception:  # the CRC matched, yet it is no batch (written by something else)
        return None
    columns = batch["columns"]
    if columns[0] != ids or columns[_MTIME] != key.mtimes or columns[_SIZE] != key.sizes:
        return None
    return batch


class ShareWalk:
    """The indexed rows of the task ids in [low, high) that may be trusted if their file is
    unchanged (no error, not racy), one chunk in memory at a time (every key of the share at
    once, after ``all_chunks``): ``locate`` is asked in ascending id order (a reader's share),
    and the chunks, whose id ranges never overlap (each id was one reader's, each reader's
    lines ascend), are decoded as the ids reach them. A chunk found corrupt is counted
    (``corrupt``) and its files are read; an index that cannot be read any more ends the walk
    (``problem``)."""

    def __init__(self, fd: int, header: Header, low: str | None, high: str | None) -> None:
        self._fd = fd
        self._trust = Trust(low, high, header.racy_after)
        chunks = [
            c for c in header.chunks if not ((low is not None and c[1] < low) or (high is not None and c[0] >= high))
        ]
        self._chunks = sorted(chunks)
        self._next = 0
        self.chunk: IndexChunk | None = None  # the one the ids asked have reached
        self._first = self._last = ""
        self._done = not chunks
        self.corrupt = 0
        self.problem: str | None = None
        #: The directory's entries are as when it was indexed (its times are ``Header.dir_times``).
        self.entries_unchanged = False
        self._replay: list[IndexChunk | None] | None = None  # the chunks, once ``all_chunks`` read them

    def all_chunks(self) -> list[IndexChunk] | None:
        """Every chunk of the share, its key decoded, at once (a reader that takes its file names
        from the index); the walk then goes over these keys, not decoded again, and lets each
        chunk go as it passes it (a chunk's line is still read when first asked). None if one
        is corrupt or cannot be read: the walk is spent then."""
        found: list[IndexChunk] = []
        while not self._done:
            self._load_next()
            if self.chunk is None:
                return None
            found.append(self.chunk)
        self._replay = list(found)
        self._next, self._done, self.chunk, self._first, self._last = 0, not found, None, "", ""
        return found

    def locate(self, task_id: str) -> int | None:
        """The row of ``task_id`` in ``self.chunk``, if the index holds it and it may be trusted."""
        self._advance(task_id)
        if (self._done and task_id > self._last) or task_id < self._first or self.chunk is None:
            return None
        return self.chunk.rows.get(task_id)

    def _advance(self, task_id: str) -> None:
        """Decode chunks until the one whose ids reach ``task_id`` (or the last)."""
        while not self._done and (self._next == 0 or task_id > self._last):
            self._load_next()

    def reach(self, task_id: str) -> tuple[IndexChunk | None, str | None]:
        """The chunk holding ``task_id`` and its last id; else None and the first id of the next
        chunk (None: no chunk after). Asked in ascending order, with ``locate``."""
        self._advance(task_id)
        if self.chunk is not None and self._first <= task_id <= self._last:
            return self.chunk, self._last
        if self._first > task_id:
            return None, self._first  # the chunk read ahead (or a corrupt one: its files read)
        return None, None if self._done else self._chunks[self._next][0]

    def get(self, task_id: str) -> TaskRecord | None:
        row = self.locate(task_id)
        if row is None or self.chunk is None:
            return None
        return self.chunk.records([row])[0]

    def records(self) -> list[TaskRecord]:
        """Every trusted record of the share, in id order (the whole walk)."""
        found: list[TaskRecord] = []
        while not self._done:
            self._load_next()
            if self.chunk is not None and self.chunk.rows:  # none: its line found corrupt
                found += self.chunk.records(list(self.chunk.rows.values()))
        return found

    def _load_next(self) -> None:
        first, last, offset, length, crc, key_at = self._chunks[self._next]
        self._next += 1
        self._done = self._next >= len(self._chunks)
        self._first, self._last, self.chunk = first, last, None
        if self._replay is not None:
            self.chunk, self._replay[self._next - 1] = self._replay[self._next - 1], None
            return
        if key_at is None:  # an index written without keys: the chunk's rows say it
            data = self._read(offset, length, crc)
            if data is None:
                return
            try:
                batch = _decode_chunk(data)
                well_formed = _well_formed(batch, first, last)
            except Exception:  # the CRC matched, yet it is no batch (written by something else)
                well_formed = False
            if not well_formed:
                self.corrupt += 1
                return
            ids = batch["columns"][0]
            self.chunk = IndexChunk(key_of(batch), ids, self._trust, key_line(batch), lambda: data, batch)
            return
        stored = self._read(*key_at)
        if stored is None:
            return
        decoded = _decode_key(stored, first, last)
        if decoded is None:
            self.corrupt += 1
            return
        key, ids = decoded
        self.chunk = IndexChunk(
            key,
            ids,
            self._trust,
            stored,
            lambda: self._read(offset, length, crc, ends_walk=False),
            found_corrupt=self._count_corrupt,
        )

    def _count_corrupt(self) -> None:
        self.corrupt += 1

    def _read(self, offset: int, length: int, crc: int, *, ends_walk: bool = True) -> bytes | None:
        """Bytes of the index whose CRC is ``crc``; None when they are not (counted corrupt), or
        cannot be read (said in ``problem``; ``ends_walk``: nothing more is taken from it, but a
        chunk's line read when a reopen first needs its rows, or forwards it, ends nothing)."""
        try:
            data = os.pread(self._fd, length, offset)
        except OSError as exc:
            self.problem = f"cannot read it: {exc.strerror or exc}"
            if ends_walk:
                self._done, self._last = True, ""  # nothing more from it: every file from here is read
            return None
        if len(data) != length or zlib.crc32(data) != crc:
            self.corrupt += 1
            return None
        return data


def load_share(fd: int, header: Header, low: str | None, high: str | None) -> tuple[dict[str, TaskRecord], int]:
    """The trusted records of [low, high) by id (all at once: ``ShareWalk`` holds one chunk at
    a time), and how many chunks were corrupt."""
    walk = ShareWalk(fd, header, low, high)
    found = {record.task_id: record for record in walk.records()}
    if walk.problem is not None:
        raise IndexProblem(walk.problem)
    return found, walk.corrupt


def open_index(directory: str, cache: str, max_bytes: int) -> tuple[int, Header] | None:
    """The index of ``directory`` in ``cache``, open (O_NOFOLLOW) and checked, or None (and a
    debug-log line saying why, unless there is none yet). The caller closes the descriptor."""
    try:
        st = os.stat(directory)
    except OSError:
        return None
    path = os.path.join(cache, index_name(st.st_dev, st.st_ino))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.debug("scan index %s ignored: cannot open it: %s", path, exc.strerror or exc)
        return None
    try:
        own = os.fstat(fd)
        if not stat.S_ISREG(own.st_mode):
            raise IndexProblem("not a regular file")
        if own.st_uid != os.geteuid() or own.st_mode & 0o077:
            raise IndexProblem(f"not the user's own with mode 0600 (uid {own.st_uid}, mode {own.st_mode & 0o777:o})")
        header = read_header(fd, st.st_dev, st.st_ino, max_bytes)
    except IndexProblem as exc:
        log.debug("scan index %s ignored: %s", path, exc)
        os.close(fd)
        return None
    return fd, header


class IndexWriter:
    """A new index of one directory, written as the first scan's batches arrive; ``commit``
    puts it in place (a rename), ``discard`` drops it. Any failure to write is logged
    (debug) and ends the writing: the scan never depends on it."""

    def __init__(self, directory: str, cache: str, max_bytes: int, started: float) -> None:
        """Made before the readers list ``directory`` (``started``: the time now)."""
        self._fd: int | None = None
        self._temp: str | None = None
        self._chunks: list[list[str | int]] = []
        self.rows = 0  # rows written
        self._dir_times: tuple[int, int] | None = None
        try:
            st = os.stat(directory)
            # A later change to the directory's entries sets its mtime and ctime anew, unless
            # within one tick of the filesystem's clock of the last one: trusted only when that
            # was RACY_SECONDS before now (ctime: no program can set it back).
            if st.st_ctime_ns < (started - RACY_SECONDS) * 1e9:
                self._dir_times = (st.st_mtime_ns, st.st_ctime_ns)
            self.path = os.path.join(cache, index_name(st.st_dev, st.st_ino))
            _make_private_dir(cache)
            _tidy(cache)
            fd, self._temp = tempfile.mkstemp(prefix=".scan-", suffix=".tmp", dir=cache)  # O_EXCL, mode 0600
            self._fd = fd
            header = _expected(st.st_dev, st.st_ino, max_bytes)
            header.update(path=directory, racy_after=float(started - RACY_SECONDS))
            line = json.dumps(header).encode("ascii") + b"\n"
            os.write(fd, line)
            self._offset = len(line)
        except OSError as exc:
            self._fail(f"cannot write in {cache}: {exc.strerror or exc}")

    @property
    def writing(self) -> bool:
        return self._fd is not None

    @property
    def keeps_dir_times(self) -> bool:
        """The directory's last change came RACY_SECONDS before this writer was made: the index
        keeps its times if it holds a row for every file (``commit``)."""
        return self._dir_times is not None

    def add(self, line: bytes, records: Sequence[TaskRecord], key: bytes | None = None) -> None:
        """One batch line as a reader printed it (``records``: what it holds, in id order), and
        the key line it printed before it (``ChunkKey``), kept after it."""
        if self._fd is None or not records:
            return
        data = line if line.endswith(b"\n") else line + b"\n"
        entry: list[str | int] = [records[0].task_id, records[-1].task_id, self._offset, len(data), zlib.crc32(data)]
        if key is not None:
            key_data = key if key.endswith(b"\n") else key + b"\n"
            entry += [self._offset + len(data), len(key_data), zlib.crc32(key_data)]
            data += key_data
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self._fail(f"cannot write: {exc.strerror or exc}")
            return
        self._chunks.append(entry)
        self._offset += len(data)
        self.rows += len(records)

    def commit(self, listed: int | None = None) -> bool:
        """Put the index in place of the last one; True when it is. ``listed``: how many task
        files the readers listed in all; when the index holds a row for each, it keeps the
        directory's times from before they listed it (``Header.dir_times``). Each reader sends
        at most a row a file it listed (one file a task, its rows from its own listing): as many
        rows as files listed in all is a row for each."""
        fd = self._fd
        if fd is None or self._temp is None:
            return False
        table_of: dict[str, Any] = {"chunks": self._chunks}
        if self._dir_times is not None and listed == self.rows:
            table_of["dir_times"] = list(self._dir_times)
        try:
            table = json.dumps(table_of).encode("ascii") + b"\n"
            _write_all(fd, table + b"%016x\n" % self._offset)
            os.close(fd)
            self._fd = None
            os.replace(self._temp, self.path)  # replaces a symlink there, never follows it
        except OSError as exc:
            self._fail(f"cannot write: {exc.strerror or exc}")
            return False
        self._temp = None
        return True

    def discard(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        temp, self._temp = self._temp, None
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass

    def _fail(self, why: str) -> None:
        log.debug("scan index not written: %s", why)
        self.discard()


def _make_private_dir(path: str) -> None:
    """``path`` as a directory of the user's own that nobody else may write in (made 0700)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise OSError(0, f"{path} is not a private directory of the user's own")


#: A temporary file this old is a crashed writer's, not one being written.
STALE_TEMPORARY_SECONDS = 24 * 3600


def _tidy(cache: str) -> None:
    """Remove what no taskview will use: indexes of another format version, and temporary
    files a writer that crashed left behind. Only names this module makes; links themselves."""
    current = f".v{VERSION}"
    now = time.time()
    for name in os.listdir(cache):
        path = os.path.join(cache, name)
        try:
            if name.startswith("scan-") and not name.endswith(current):
                os.unlink(path)
            elif name.startswith(".scan-") and name.endswith(".tmp"):
                if now - os.lstat(path).st_mtime > STALE_TEMPORARY_SECONDS:
                    os.unlink(path)
        except OSError:
            pass


def _is_hex(digits: bytes) -> bool:
    return bool(digits) and not digits.strip(b"0123456789abcdef")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
