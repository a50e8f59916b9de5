"""``--dump jsonl|csv`` and ``--stats``: the store without a screen.

Imports nothing of Textual, so ``taskview DIR --stats`` starts in milliseconds.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import IO, Any

import orjson

from .insights.grouping import exception_type, group_key
from .query import Predicate
from .results.codec import Decoded
from .results.json_output import encode_json, encode_line
from .results.parallel import map_forked, run_forked, split
from .results.problems import Problem
from .results.record import TaskRecord, display_status, epoch, exception_line, summarize_safely
from .results.scan import Listing, ResultDirectory, parsed_listing
from .store import Store
from .text import one_line
from .workflows import Node, settle

DUMP_FIELDS = (
    "task_id",
    "kind",
    "status",
    "result",
    "traceback",
    "children",
    "date_done",
    "name",
    "args",
    "kwargs",
    "worker",
    "retries",
    "queue",
    "parent_id",
    "group_id",
    "root_id",
    "file",
    "mtime",
    "size",
    "error",
)
_META_FIELDS = DUMP_FIELDS[2:16]
_JSON_ENCODED_CSV = frozenset({"result", "children", "args", "kwargs"})


class OutputError(Exception):
    """The output could not be written (a full disk, a closed pipe): ``error`` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class RootMarks:
    """``root_id`` in a dump, without reading any file twice: a row whose root only every file's links
    can tell (it names a parent or a group, or is a group file) gets a mark, ``root-<nonce>-<n>``, and
    its links are noted (``links``); so are the tasks that name children (``starters``: tasks that
    have a file). Once every share is written, ``roots_of`` works the roots out and ``patch`` puts
    them in place of the marks. The nonce is random: no file can hold a mark by chance or on purpose."""

    def __init__(self) -> None:
        import secrets

        self.nonce = secrets.token_hex(16)
        self.links: list[list[str | None]] = []  # [task_id, kind, parent_id, group_id] of each mark, in order
        self.starters: list[str] = []

    def mark(self, task_id: str, kind: str, parent: str | None, group: str | None) -> str:
        self.links.append([task_id, kind, parent, group])
        return f"root-{self.nonce}-{len(self.links) - 1}"

    def taken(self) -> list[Any]:
        """What this share noted (JSON, to cross a pipe), and forget it."""
        noted, self.links, self.starters = [self.links, self.starters], [], []
        return noted

    @staticmethod
    def roots_of(noted: Iterable[list[Any]]) -> list[list[str]]:
        """For each share's noted links: the root of each of its marks, in order (``workflows.settle``,
        as the inspector works roots out)."""
        shares = list(noted)
        links = [link for marked, _ in shares for link in marked]
        has_file = {link[0] for link in links}
        has_file.update(task_id for _, starters in shares for task_id in starters)
        ups = {
            task_id: (parent if parent is not None and (group is None or parent in has_file) else group)
            for task_id, kind, parent, group in links
            if kind == "task"
        }
        groups = {group: parent for _, _, parent, group in links if group and parent and parent in has_file}
        roots = settle(ups, groups)
        return [[roots.get(link[0], link[0]) for link in marked] for marked, _ in shares]

    def pieces(self, data: bytes, roots: list[str], csv: bool) -> list[bytes | memoryview]:
        """``data`` (a share's output) with each mark replaced by its root, as JSON or as a CSV cell:
        the stretches of ``data`` between marks (views, not copies) and each mark's root cell."""
        quote = b"" if csv else b'"'
        head = quote + b"root-" + self.nonce.encode() + b"-"
        number_at = _MARK_NUMBER.match
        view = memoryview(data)
        encoded: dict[str, bytes] = {}  # a workflow's tasks share their root: each encoded once
        pieces: list[bytes | memoryview] = []
        find, at = data.find, 0
        while (start := find(head, at)) >= 0:
            pieces.append(view[at:start])
            at = start + len(head)
            found = number_at(data, at)
            if found is None:  # not ours after all (cannot happen: the nonce is random)
                continue
            value = roots[int(found.group())]
            cell = encoded.get(value)
            if cell is None:
                cell = encoded[value] = _root_cell(value, csv)
            pieces.append(cell)
            at = found.end() + len(quote)
        pieces.append(view[at:])
        return pieces

    def patch(self, data: bytes, roots: list[str], csv: bool) -> bytes:
        """``pieces`` joined."""
        return b"".join(self.pieces(data, roots, csv))


#: A mark's number, after its nonce.
_MARK_NUMBER = re.compile(rb"\d+")


def _root_cell(value: str, csv: bool) -> bytes:
    """A root id as a dump writes it: a JSON string, or a CSV cell (quoted when it must be)."""
    if not csv:
        return orjson.dumps(value)
    if any(c in value for c in ',"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value.encode("utf-8")


def dump_rows(
    results: ResultDirectory,
    names: Sequence[str] | None = None,
    predicate: Predicate | None = None,
    marks: RootMarks | None = None,
) -> Iterator[tuple[dict[str, Any], bool]]:
    """One (row, plain) per result file (of ``names``, entries of the directory; those whose
    summary ``predicate`` keeps); ``plain`` rows hold only JSON types already. ``root_id``: the
    file's own, else the task itself when it names no parent nor group, else a mark of ``marks``
    (without ``marks``: None) for the first task of its workflow to replace."""
    fields, no_meta = _META_FIELDS, _NO_META
    # Type tags become their repr as the files are parsed: what jsonable would make
    # of them, without a second walk over every tagged result.
    for (kind, task_id, prefix), path, mtime, size, meta, error, plain in results.read_metas(names, tags_as_repr=True):
        if predicate is not None and not predicate(_summary(task_id, kind, prefix, meta, mtime, size, error)):
            continue
        row: dict[str, Any] = {"task_id": task_id, "kind": kind}
        # One C-level pass over the fields: this runs for every file of a --dump.
        row.update(no_meta if meta is None else zip(fields, map(meta.get, fields), strict=False))
        if type(row["root_id"]) is not str or not row["root_id"]:
            parent, group = row["parent_id"], row["group_id"]
            parent = parent if type(parent) is str and parent and parent != task_id else None
            group = group if type(group) is str and group else None
            if parent is None and group is None and kind == "task":
                row["root_id"] = task_id
                if marks is not None and row["children"]:
                    marks.starters.append(task_id)  # a task that started others: it has a file
            else:
                row["root_id"] = marks.mark(task_id, kind, parent, group) if marks is not None else None
        row["file"] = path
        row["mtime"] = mtime or None
        row["size"] = size
        row["error"] = None if error is None else error.message
        yield row, plain


_NO_META = dict.fromkeys(_META_FIELDS)


def _summary(
    task_id: str, kind: str, prefix: str, meta: dict[str, Any] | None, mtime: float, size: int, error: Problem | None
) -> TaskRecord:
    """The record the inspector would hold for one file of a dump, for a filter to judge."""
    decoded = Decoded(meta, None, None, None) if meta is not None else None
    return summarize_safely(task_id, kind, prefix, decoded, size=size, mtime=mtime, error=error)


def write_jsonl(results: ResultDirectory, out: IO[bytes], jobs: int = 1, predicate: Predicate | None = None) -> int:
    marks = RootMarks()
    return _write_split(results, out, jobs, partial(_jsonl_rows, predicate=predicate, marks=marks), "w+b", marks)


def write_csv(results: ResultDirectory, out: IO[str], jobs: int = 1, predicate: Predicate | None = None) -> int:
    import csv

    try:
        csv.writer(out, lineterminator="\n").writerow(DUMP_FIELDS)
    except OSError as exc:
        raise OutputError(exc) from exc
    marks = RootMarks()
    return _write_split(results, out, jobs, partial(_csv_rows, predicate=predicate, marks=marks), "w+", marks)


def _jsonl_rows(
    results: ResultDirectory,
    names: Sequence[str],
    out: IO[bytes],
    predicate: Predicate | None = None,
    marks: RootMarks | None = None,
) -> int:
    count = 0
    write, dumps, newline = out.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # A line per write, into out's buffer: joining lines into bigger blocks
    # first made glibc give the heap back and fault it in again (~1 fault per file).
    for row, plain in dump_rows(results, names, predicate, marks):
        try:
            # Most rows are plain: orjson directly, without encode_line's call.
            line = dumps(row, option=newline) if plain else encode_line(row, False)
        except (TypeError, RecursionError):  # nested deeper than orjson goes: encode_line's way
            line = encode_line(row, False)
        try:
            write(line)
        except OSError as exc:
            raise OutputError(exc) from exc
        count += 1
    return count


def _csv_rows(
    results: ResultDirectory,
    names: Sequence[str],
    out: IO[str],
    predicate: Predicate | None = None,
    marks: RootMarks | None = None,
) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for row, _plain in dump_rows(results, names, predicate, marks):
        try:
            writer.writerow(_csv_cell(field, row[field]) for field in DUMP_FIELDS)
        except OSError as exc:
            raise OutputError(exc) from exc
        count += 1
    return count


def _write_split(
    results: ResultDirectory,
    out: IO[Any],
    jobs: int,
    write_rows: Callable[[ResultDirectory, Sequence[str], IO[Any]], int],
    mode: str,
    marks: RootMarks,
) -> int:
    """Rows of every file in directory order. The files are cut into shares that this process and
    (``jobs`` > 1) forked children claim in turn, each written into its own spill; finished spills go
    to ``out`` in order, as soon as every share before them has, until one holds rows whose root
    needs every file's links (``RootMarks``): from there on, once every share is written, with the
    roots in place."""
    shares = _shares(results, jobs)
    spills = [_spill_file(mode) for _ in shares]
    # What each share noted for its marks goes to a file of its own, not back through run_forked's
    # pipe: hundreds of KB a share, which a child would block on until this process, busy with
    # a share of its own, read it (the two cores then worked one at a time).
    notes = [_spill_file("w+b") for _ in shares]
    # Each share's note, read as soon as the share is written (between this process's own shares),
    # not all after the last one: half a million links at 1M, 0.6 s of one core after both had
    # finished.
    noted: list[list[Any]] = [[[], []] for _ in shares]
    done: dict[int, tuple[int, bool]] = {}
    copied = 0
    try:
        try:
            out.flush()  # a child must not inherit (and lose) half-written output
        except OSError as exc:
            raise OutputError(exc) from exc

        def write_share(index: int) -> list[Any]:
            spill, note = spills[index], notes[index]
            for file in (spill, note):
                file.seek(0)
                file.truncate()  # a failed child's part is redone from the start
            marks.taken()  # nothing of another share
            count = write_rows(results, shares[index], spill)
            spill.flush()
            noted = marks.taken()
            note.write(orjson.dumps(noted))
            note.flush()
            return [count, bool(noted[0])]

        waiting = False
        for index, (count, marked) in run_forked(write_share, range(len(shares)), jobs):
            done[index] = (count, marked)
            noted[index] = _read_note(notes[index])
            notes[index].close()
            waiting = waiting or marked
            while not waiting and copied in done:  # the next spill in order is whole: out it goes
                _copy_out(spills[copied], out)
                spills[copied].close()  # its memory back now, not at the end
                copied += 1
        if copied < len(shares):
            roots = RootMarks.roots_of(noted)
            # Gone now, not at the end: a collection while the spills go out walked their millions of
            # objects (0.1 s each, three of them in a 1M dump).
            noted.clear()
            for index in range(copied, len(shares)):
                _copy_patched(spills[index], out, marks, roots[index], csv="b" not in mode)
                spills[index].close()
        return sum(count for count, _ in done.values())
    finally:
        for spill in (*spills, *notes):
            spill.close()


def _read_note(note: IO[bytes]) -> list[Any]:
    """A share's noted links (``RootMarks.taken``), as its process wrote them."""
    noted: list[Any] = orjson.loads(_whole(note))
    return noted


def _whole(spill: IO[Any]) -> bytes:
    """Everything written to ``spill`` (by this process or a forked one: the file is shared)."""
    spill.flush()
    return os.pread(spill.fileno(), os.fstat(spill.fileno()).st_size, 0)


def _copy_patched(spill: IO[Any], out: IO[Any], marks: RootMarks, roots: list[str], *, csv: bool) -> None:
    """A spill to ``out`` with its marks replaced by their roots (as it was, when it has none)."""
    if not roots:
        _copy_out(spill, out)
        return
    pieces = marks.pieces(_whole(spill), roots, csv)
    try:
        _write_pieces(out, pieces, csv=csv)
    except OSError as exc:
        raise OutputError(exc) from exc


def _write_pieces(out: IO[Any], pieces: list[bytes | memoryview], *, csv: bool) -> None:
    """``pieces`` to ``out`` one after another: straight to its descriptor (``writev``, no copy of a
    share's tens of MB joined), else (a stream in memory) joined."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO/BytesIO in tests
        joined = b"".join(pieces)
        out.write(joined.decode("utf-8") if csv else joined)
        return
    out.flush()
    most = _IOV_MAX
    for start in range(0, len(pieces), most):
        batch = pieces[start : start + most]
        sent = os.writev(fd, batch)
        if sent < sum(map(len, batch)):  # a signal came, or the other end took less: the rest as it goes
            rest = memoryview(b"".join(batch))[sent:]
            while rest:
                rest = rest[os.write(fd, rest) :]


def _iov_max() -> int:
    """Buffers a writev takes at once (Linux: 1024)."""
    try:
        return max(16, os.sysconf("SC_IOV_MAX"))
    except (AttributeError, ValueError, OSError):
        return 16


_IOV_MAX = _iov_max()


def _spill_file(mode: str) -> IO[Any]:
    """A file in memory (memfd) where there is one: a deleted temporary file on
    ext4 took a tenth of a second per 60 MB to close."""
    encoding, newline = (None, None) if "b" in mode else ("utf-8", "")
    if hasattr(os, "memfd_create"):
        try:
            return open(os.memfd_create("taskview-spill", os.MFD_CLOEXEC), mode, encoding=encoding, newline=newline)
        except OSError:
            pass
    return tempfile.TemporaryFile(mode, encoding=encoding, newline=newline)


def _copy_out(spill: IO[Any], out: IO[Any]) -> None:
    """All of ``spill`` to ``out``: in the kernel (sendfile) when ``out`` has a descriptor."""
    try:
        _copy(spill, out)
    except OSError as exc:
        raise OutputError(exc) from exc


def _copy(spill: IO[Any], out: IO[Any]) -> None:
    out.flush()
    try:
        out_fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO/BytesIO in tests
        out_fd = None
    if out_fd is not None and hasattr(os, "sendfile"):
        in_fd, offset, size = spill.fileno(), 0, os.fstat(spill.fileno()).st_size
        try:
            while offset < size:
                sent = os.sendfile(out_fd, in_fd, offset, size - offset)
                if sent == 0:
                    break
                offset += sent
            return
        except OSError as exc:
            if offset or exc.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
            # sendfile cannot write to this kind of file (a socket in some modes): copy
    spill.seek(0)
    shutil.copyfileobj(spill, out, 1 << 20)


def _csv_cell(field: str, value: Any) -> Any:
    if value is None:
        return ""
    if field in _JSON_ENCODED_CSV or not isinstance(value, (str, int, float)):
        encoded = encode_json({"v": value}, False)
        if not encoded.startswith(b'{"v":'):
            return "nested too deeply to dump"
        return encoded[5:-1].decode("utf-8")
    return value


# --- stats -------------------------------------------------------------------


def compute_stats(
    results: ResultDirectory,
    jobs: int = 1,
    predicate: Predicate | None = None,
    query: str | None = None,
    checks: Sequence[Predicate] = (),
) -> dict[str, Any]:
    """Counts per status of the files (those whose summary ``predicate`` keeps: the
    filter ``query``), per task name and per error group, and the unreadable ones; with
    ``checks`` (``--fail-on``), how many tasks each keeps, as ``check_counts``."""
    shares = _shares(results, jobs)
    totals = _Counts(len(checks))
    for part in map_forked(lambda share: _count(results, share, predicate, checks), shares, jobs):
        totals.merge(part)
    return totals.stats(results.path, query)


def stats_of_records(
    place: str,
    records: Iterable[TaskRecord],
    predicate: Predicate | None = None,
    query: str | None = None,
    checks: Sequence[Predicate] = (),
) -> dict[str, Any]:
    """``compute_stats`` of records held in memory (a journal played to its end)."""
    counts = _Counts(len(checks))
    for record in records:
        counts.check(record, checks)
        if predicate is None or predicate(record):
            counts.add_record(record)
    return counts.stats(place, query)


class _Counts:
    """Counts of one share of the files, or of all of them."""

    def __init__(self, checks: int = 0) -> None:
        self.by_status: Counter[str] = Counter()
        self.name_status: Counter[tuple[str, str]] = Counter()  # (task name, status): rows
        self.newest_raw = ""  # the date_done string of newest_done, as the file wrote it
        # error group -> [count, first seen, last seen, example task id, {task name: count}]
        self.errors: dict[str, list[Any]] = {}
        self.reasons: Counter[str] = Counter()
        self.unreadable: list[dict[str, str]] = []
        self.groups = self.total = 0
        self.newest_done: float | None = None
        self.checks = [0] * checks

    def add(
        self,
        kind: str,
        status: str | None,
        error: Problem | None,
        path: str | None,
        name: str | None = None,
        date_done: float | None = None,
        exc: str | None = None,
        task_id: str = "",
        mtime: float = 0.0,
    ) -> None:
        """One file; ``path`` (needed only when ``error`` is set) says where it is."""
        self.total += 1
        if error is not None:
            self.reasons[error.reason] += 1
            self.unreadable.append({"file": path or "", "error": error.message})
            return
        if kind == "group":
            self.groups += 1
            return
        status = status or ""
        self.by_status[status] += 1
        name = name if name is not None else ""
        self.name_status[name, status] += 1
        if date_done is not None and (self.newest_done is None or date_done > self.newest_done):
            self.newest_done = date_done
        if status == "FAILURE":
            key = group_key(exc) if exc is not None else "(no exception)"
            when = date_done if date_done is not None else mtime
            group = self.errors.get(key)
            if group is None:
                self.errors[key] = [1, when, when, task_id, {name: 1}]
            else:
                group[0] += 1
                if when < group[1]:
                    group[1] = when
                if when > group[2] or (when == group[2] and task_id > group[3]):
                    group[2], group[3] = when, task_id
                group[4][name] = group[4].get(name, 0) + 1

    def add_meta(self, name: Any, status: str | None, error: Problem | None, path: str | None, meta: Any) -> None:
        """One file as ``ResultDirectory.status_metas`` reads it: the common case (a task that did
        not fail) counted here, in as few steps as may be (``--stats`` runs this for every file)."""
        if meta is None or error is not None or name.kind == "group" or status == "FAILURE" or not status:
            task_name, done = (meta.get("name"), meta.get("date_done")) if meta is not None else (None, None)
            exc = exception_line(meta.get("result")) if status == "FAILURE" and meta is not None else None
            task_name = task_name if type(task_name) is str else None
            done = epoch(done) if done is not None else None
            self.add(name.kind, status, error, path, task_name, done, exc, name.task_id)
            return
        self.total += 1
        self.by_status[status] += 1
        task_name = meta.get("name")
        self.name_status[task_name if type(task_name) is str else "", status] += 1
        done = meta.get("date_done")
        if done is not None and (type(done) is not str or done > self.newest_raw):
            self.newer(done)

    def newer(self, done: Any) -> None:
        """A date_done that may be the newest. ISO strings of one writer compare as their times
        do: only one greater than the newest so far as a string is parsed (``newest_raw``)."""
        when = epoch(done)
        if when is not None and (self.newest_done is None or when > self.newest_done):
            self.newest_done = when
            if type(done) is str:
                self.newest_raw = done

    def add_record(self, record: TaskRecord) -> None:
        self.add(
            record.kind,
            record.status,
            record.error,
            record.filename,
            record.name,
            record.date_done,
            record.exc,
            record.task_id,
            record.mtime,
        )

    def check(self, record: TaskRecord, checks: Sequence[Predicate]) -> None:
        for at, check in enumerate(checks):
            if check(record):
                self.checks[at] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "by_status": self.by_status,
            "name_status": [[name, status, count] for (name, status), count in self.name_status.items()],
            "errors": self.errors,
            "reasons": self.reasons,
            "unreadable": self.unreadable,
            "groups": self.groups,
            "total": self.total,
            "newest_done": self.newest_done,
            "checks": self.checks,
        }

    def merge(self, part: dict[str, Any]) -> None:
        self.by_status.update(part["by_status"])
        for name, status, count in part["name_status"]:
            self.name_status[name, status] += count
        for key, (count, first, last, example, names) in part["errors"].items():
            group = self.errors.get(key)
            if group is None:
                self.errors[key] = [count, first, last, example, dict(names)]
                continue
            group[0] += count
            group[1] = min(group[1], first)
            if last > group[2] or (last == group[2] and example > group[3]):
                group[2], group[3] = last, example
            for name, n in names.items():
                group[4][name] = group[4].get(name, 0) + n
        self.reasons.update(part["reasons"])
        self.unreadable.extend(part["unreadable"])
        self.groups += part["groups"]
        self.total += part["total"]
        newest = part["newest_done"]
        if newest is not None and (self.newest_done is None or newest > self.newest_done):
            self.newest_done = newest
        self.checks = [a + b for a, b in zip(self.checks, part["checks"], strict=True)]

    def stats(self, place: str, query: str | None) -> dict[str, Any]:
        stats: dict[str, Any] = {"directory": place}
        if query is not None:
            stats["filter"] = query
        stats.update(
            {
                "total": self.total,
                "by_status": _by_count(self.by_status),
                "groups": self.groups,
                "unreadable": len(self.unreadable),
                "unreadable_by_reason": dict(self.reasons.most_common()),
                "unreadable_files": sorted(self.unreadable, key=lambda u: u["file"]),
                "newest_date_done": self.newest_done,
                "by_name": _by_name(self.name_status),
                "errors": [
                    {
                        "group": key,
                        "exception": exception_type(key),
                        "count": count,
                        "first_seen": first,
                        "last_seen": last,
                        "example": example,
                        "names": _by_count(names),
                    }
                    for key, (count, first, last, example, names) in sorted(
                        self.errors.items(), key=lambda kv: (-kv[1][0], -kv[1][2], kv[0])
                    )
                ],
            }
        )
        if self.checks:
            stats["check_counts"] = list(self.checks)
        return stats


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _by_name(name_status: Counter[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    statuses: dict[str, Counter[str]] = {}
    for (name, status), count in name_status.items():
        statuses.setdefault(name, Counter())[status] = count
    return {name: _name_stats(statuses[name]) for name in sorted(statuses)}


def _name_stats(by_status: Counter[str]) -> dict[str, Any]:
    failures = by_status.get("FAILURE", 0)
    finished = failures + by_status.get("SUCCESS", 0) + by_status.get("REVOKED", 0)
    return {
        "total": sum(by_status.values()),
        "by_status": _by_count(by_status),
        "failure_rate": round(failures / finished, 4) if finished else None,
    }


def _shares(results: ResultDirectory, jobs: int) -> list[Sequence[str]]:
    """The directory's entries, unparsed, in shares for ``jobs`` processes to claim
    (one share when the source cannot be read by several). Each share parses its
    own names: in parallel, not in the parent before anyone starts."""
    return split(results.entry_names(), jobs if results.forkable else 1)


def _count(
    results: ResultDirectory, names: Sequence[str], predicate: Predicate | None = None, checks: Sequence[Predicate] = ()
) -> dict[str, Any]:
    """Counts of one share of the files, as JSON (it may come from a forked child)."""
    listing = parsed_listing(names)
    counts = _Counts(len(checks))
    path = results.file_path
    if predicate is None and not checks:
        # add_meta's common case inline: this loop runs for every file of a --stats.
        add, by_status, name_status = counts.add_meta, counts.by_status, counts.name_status
        total = 0
        for name, status, error, meta in results.status_metas(listing):
            if meta is None or status == "FAILURE" or not status or name.kind == "group":
                add(name, status, error, None if error is None else path(name.prefix + name.task_id), meta)
                continue
            total += 1
            by_status[status] += 1
            get = meta.get
            task_name = get("name")
            name_status[task_name if type(task_name) is str else "", status] += 1
            done = get("date_done")
            if done is not None and (type(done) is not str or done > counts.newest_raw):
                counts.newer(done)
        counts.total += total
    else:
        for record in _records(results, listing):
            counts.check(record, checks)
            if predicate is None or predicate(record):
                counts.add_record(record)
                if record.error is not None:
                    counts.unreadable[-1]["file"] = path(record.filename)
    return counts.as_json()


def _records(results: ResultDirectory, listing: Listing) -> Iterator[TaskRecord]:
    """The summary of every file of ``listing``, as the inspector reads it."""
    with results.held_open():
        for filename, parsed in listing:
            record = results.read_record(filename, parsed)
            if record is not None:
                yield record


# --- workflows ------------------------------------------------------------------


def workflow_store(results: ResultDirectory) -> Store:
    """Every file of the directory in a store (for --tree)."""
    from .store import first_sight

    store = Store()
    for batch in results.scan():
        first_sight(batch)
        store.add_scanned(batch)
    return store


def find_task(store: Store, wanted: str) -> str | None:
    """The task or group ``wanted`` names: its id, or a prefix only one id starts with."""
    if wanted in store.records or store.workflows.has_members(wanted):
        return wanted
    found = [task_id for task_id in store.records if task_id.startswith(wanted)]
    return found[0] if len(found) == 1 else None


def workflow_json(store: Store, task_id: str) -> dict[str, Any]:
    """The workflow holding ``task_id``, as one nested document: each node's id, kind, state, name and times."""
    index = store.workflows
    root = index.root_of(task_id)
    nodes: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] | None = None
    parents: list[dict[str, Any]] = []
    for node, depth in index.walk(root):
        record = index.record_of(node)
        item: dict[str, Any] = {
            "task_id": node.node_id,
            "kind": node.kind,
            "role": node.role or None,
            "status": display_status(record) if node.kind != "group" else None,
            "name": record.name,
            "worker": record.worker,
            "first_seen": _iso(record.first_seen) if node.kind == "task" else None,
            "date_done": _iso(record.date_done),
            "runtime": record.runtime,
            "children": [],
        }
        nodes[node.node_id] = item
        del parents[depth:]
        if parents:
            parents[-1]["children"].append(item)
        else:
            top = item
        parents.append(item)
    assert top is not None
    summary = index.summary(root)
    return {
        "task_id": task_id,
        "root_id": root,
        "summary": {
            "tasks": summary.tasks,
            "done": summary.done,
            "by_status": dict(summary.by_status),
            "state": summary.state,
            "first_start": _iso(summary.first_start),
            "last_finish": _iso(summary.last_finish),
            "slowest": summary.slowest.task_id if summary.slowest is not None else None,
        },
        "tree": top,
    }


def workflow_text(store: Store, task_id: str) -> str:
    """The workflow holding ``task_id`` as an indented tree: a line a node, its state, name, id and times."""
    index = store.workflows
    root = index.root_of(task_id)
    lines: list[str] = []
    seen = {root}

    def line(node: Node, guide: str) -> None:
        record = index.record_of(node)
        if node.kind == "group":
            what = f"group {node.node_id}"
        else:
            name = record.name or ("(no file yet)" if node.kind == "missing" else "?")
            if node.role == "body":
                name = f"chord body: {name}"
            what = f"{display_status(record)} {name} {node.node_id}"
            times = []
            if record.date_done is not None:
                times.append(f"done {_iso(record.date_done)}")
            if record.runtime is not None:
                times.append(f"ran {record.runtime:.3f} s")
            if times:
                what += "  " + ", ".join(times)
        lines.append(one_line(guide + what) + ("  ◀" if node.node_id == task_id else ""))

    # Depth first, without recursion (a chain may be thousands of links long).
    stack: list[tuple[Node, str, str]] = [(index.node(root), "", "")]
    while stack:
        node, guide, inner = stack.pop()
        line(node, guide)
        below = [child for child in index.children(node) if child.node_id not in seen]
        seen.update(child.node_id for child in below)
        for at in range(len(below) - 1, -1, -1):
            last = at == len(below) - 1
            stack.append((below[at], inner + ("└─ " if last else "├─ "), inner + ("   " if last else "│  ")))
    if len(lines) == 1:
        lines[0] = lines[0].removesuffix("  ◀")
    lines.append(index.summary(root).text())
    return "\n".join(lines)


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(when, timezone.utc).isoformat()


def matching_records(results: ResultDirectory, predicate: Predicate | None) -> list[TaskRecord]:
    """The summary of every file ``predicate`` keeps (of every file without one), as the inspector reads it."""
    return [r for r in _records(results, results.listing()) if predicate is None or predicate(r)]


def linked_records(results: ResultDirectory) -> dict[str, TaskRecord]:
    """The tasks that name a parent, group or root, by id: what ``root:`` follows in a filter."""
    return {r.task_id: r for r in _records(results, results.listing()) if r.links is not None}


def format_stats(stats: dict[str, Any], *, max_files: int = 20, max_rows: int = 20) -> str:
    rows = list(stats["by_status"].items())
    if stats["groups"]:
        rows.append(("groups", stats["groups"]))
    rows.append(("unreadable", stats["unreadable"]))
    rows.append(("total", stats["total"]))
    width = max(len(k) for k, _ in rows)
    lines = [one_line(stats["directory"])]
    if stats.get("filter") is not None:
        lines.append(f"filter: {one_line(stats['filter'])}")
    lines += [f"  {one_line(k):<{width}}  {v:>10,}" for k, v in rows]
    lines += _name_lines(stats.get("by_name") or {}, max_rows)
    lines += _error_lines(stats.get("errors") or [], max_rows)
    files = stats["unreadable_files"]
    if files:
        lines.append("unreadable files:")
        for item in files[:max_files]:
            lines.append(f"  {one_line(item['file'])}: {one_line(item['error'])}")
        if len(files) > max_files:
            lines.append(f"  ... and {len(files) - max_files:,} more (--stats --json lists them all)")
    return "\n".join(lines)


def _name_lines(by_name: dict[str, dict[str, Any]], max_rows: int) -> list[str]:
    """The tasks per name, the most first: total, failures, failure rate (of the finished)."""
    if not by_name:
        return []
    names = sorted(by_name.items(), key=lambda kv: (-kv[1]["total"], kv[0]))
    width = min(48, max(len("by name"), *(len(one_line(n or "(no name)")) for n, _ in names[:max_rows])))
    lines = [f"{'by name':<{width + 2}}  {'tasks':>10}  {'FAILURE':>10}  {'fail rate':>9}"]
    for name, figures in names[:max_rows]:
        label = _fit(one_line(name or "(no name)"), width)
        rate = figures["failure_rate"]
        failed = figures["by_status"].get("FAILURE", 0)
        lines.append(
            f"  {label:<{width}}  {figures['total']:>10,}  {failed:>10,}  {'' if rate is None else f'{rate:.1%}':>9}"
        )
    if len(names) > max_rows:
        lines.append(f"  ... and {len(names) - max_rows:,} more names (--stats --json lists them all)")
    return lines


def _error_lines(errors: list[dict[str, Any]], max_rows: int) -> list[str]:
    """Failures per error group, the most first, with when the group was first and last seen."""
    if not errors:
        return []
    lines = [f"{'errors':<8}  {'first seen (UTC)':<19}  {'last seen (UTC)':<19}  group"]
    for group in errors[:max_rows]:
        lines.append(
            f"  {group['count']:>6,}  {_utc(group['first_seen'])}  {_utc(group['last_seen'])}  "
            f"{_fit(one_line(group['group']), 100)}"
        )
    if len(errors) > max_rows:
        lines.append(f"  ... and {len(errors) - max_rows:,} more groups (--stats --json lists them all)")
    return lines


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _utc(when: float) -> str:
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{'?':<19}"


def print_stats(
    results: ResultDirectory,
    output: bool | str,
    out: IO[str] = sys.stdout,
    jobs: int = 1,
    predicate: Predicate | None = None,
    query: str | None = None,
    checks: Sequence[Predicate] = (),
) -> dict[str, Any]:
    """Compute and write the stats (``output``: "text", "json", "prometheus", or None for nothing)."""
    stats = compute_stats(results, jobs, predicate, query, checks)
    write_stats(stats, output, out)
    return stats


def write_stats(stats: dict[str, Any], output: bool | str | None, out: IO[str] = sys.stdout) -> None:
    """``output``: "text", "json" or "prometheus" (True: json, False: text); None writes nothing."""
    if output is None:
        return
    if output is True or output == "json":
        text = orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode("utf-8")
    elif output == "prometheus":
        from .insights.exposition import exposition

        text = exposition(stats).rstrip("\n")
    else:
        text = format_stats(stats)
    try:
        out.write(text + "\n")
    except OSError as exc:
        raise OutputError(exc) from exc
