"""``--dump jsonl|csv`` and ``--stats``: the store without a screen.

Imports nothing of Textual, so ``taskview DIR --stats`` starts in milliseconds.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import IO, Any

import orjson

from .query import Predicate
from .results.codec import Decoded
from .results.json_output import encode_json, encode_line
from .results.parallel import map_forked, run_forked, split
from .results.problems import Problem
from .results.record import TaskRecord, display_status, summarize_safely
from .results.scan import Listing, ResultDirectory, parsed_listing
from .text import one_line

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
    "file",
    "mtime",
    "size",
    "error",
)
_META_FIELDS = DUMP_FIELDS[2:15]
_JSON_ENCODED_CSV = frozenset({"result", "children", "args", "kwargs"})


class OutputError(Exception):
    """The output could not be written (a full disk, a closed pipe): ``error`` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


def dump_rows(
    results: ResultDirectory, names: Sequence[str] | None = None, predicate: Predicate | None = None
) -> Iterator[tuple[dict[str, Any], bool]]:
    """One (row, plain) per result file (of ``names``, entries of the directory; those whose
    summary ``predicate`` keeps); ``plain`` rows hold only JSON types already."""
    fields, no_meta = _META_FIELDS, _NO_META
    # Type tags become their repr as the files are parsed: what jsonable would make
    # of them, without a second walk over every tagged result.
    for (kind, task_id, prefix), path, mtime, size, meta, error, plain in results.read_metas(names, tags_as_repr=True):
        if predicate is not None and not predicate(_summary(task_id, kind, prefix, meta, mtime, size, error)):
            continue
        row: dict[str, Any] = {"task_id": task_id, "kind": kind}
        # One C-level pass over the fields: this runs for every file of a --dump.
        row.update(no_meta if meta is None else zip(fields, map(meta.get, fields), strict=False))
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
    return _write_split(results, out, jobs, partial(_jsonl_rows, predicate=predicate), "w+b")


def write_csv(results: ResultDirectory, out: IO[str], jobs: int = 1, predicate: Predicate | None = None) -> int:
    import csv

    try:
        csv.writer(out, lineterminator="\n").writerow(DUMP_FIELDS)
    except OSError as exc:
        raise OutputError(exc) from exc
    return _write_split(results, out, jobs, partial(_csv_rows, predicate=predicate), "w+")


def _jsonl_rows(
    results: ResultDirectory, names: Sequence[str], out: IO[bytes], predicate: Predicate | None = None
) -> int:
    count = 0
    write, dumps, newline = out.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # A line per write, into out's buffer: joining lines into bigger blocks
    # first made glibc give the heap back and fault it in again (~1 fault per file).
    for row, plain in dump_rows(results, names, predicate):
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


def _csv_rows(results: ResultDirectory, names: Sequence[str], out: IO[str], predicate: Predicate | None = None) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for row, _plain in dump_rows(results, names, predicate):
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
) -> int:
    """Rows of every file in directory order. With ``jobs`` > 1 the files are cut
    into shares that this process and forked children claim in turn, each written
    into its own spill; finished spills go to ``out`` in order, as soon as every
    share before them has."""
    shares = _shares(results, jobs)
    if len(shares) == 1:
        return write_rows(results, shares[0], out)
    spills = [_spill_file(mode) for _ in shares]
    counts: dict[int, int] = {}
    copied = 0
    try:
        try:
            out.flush()  # a child must not inherit (and lose) half-written output
        except OSError as exc:
            raise OutputError(exc) from exc

        def write_share(index: int) -> int:
            spill = spills[index]
            spill.seek(0)
            spill.truncate()  # a failed child's part is redone from the start
            count = write_rows(results, shares[index], spill)
            spill.flush()
            return count

        for index, count in run_forked(write_share, range(len(shares)), jobs):
            counts[index] = count
            while copied in counts:  # the next spill in order is whole: out it goes
                _copy_out(spills[copied], out)
                spills[copied].close()  # its memory back now, not at the end
                copied += 1
        return sum(counts.values())
    finally:
        for spill in spills:
            spill.close()


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
    results: ResultDirectory, jobs: int = 1, predicate: Predicate | None = None, query: str | None = None
) -> dict[str, Any]:
    """Counts per status of the files (those whose summary ``predicate`` keeps: the
    filter ``query``), and the unreadable ones."""
    shares = _shares(results, jobs)
    totals = _Counts()
    for part in map_forked(lambda share: _count(results, share, predicate), shares, jobs):
        totals.merge(part)
    return totals.stats(results.path, query)


def stats_of_records(
    place: str, records: Iterable[TaskRecord], predicate: Predicate | None = None, query: str | None = None
) -> dict[str, Any]:
    """``compute_stats`` of records held in memory (a journal played to its end)."""
    counts = _Counts()
    for record in records:
        if predicate is None or predicate(record):
            counts.add(record.kind, display_status(record), record.error, record.filename)
    return counts.stats(place, query)


class _Counts:
    """Counts of one share of the files, or of all of them."""

    def __init__(self) -> None:
        self.by_status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.unreadable: list[dict[str, str]] = []
        self.groups = self.total = 0

    def add(self, kind: str, status: str | None, error: Problem | None, path: str | None) -> None:
        """One file; ``path`` (needed only when ``error`` is set) says where it is."""
        self.total += 1
        if error is not None:
            self.reasons[error.reason] += 1
            self.unreadable.append({"file": path or "", "error": error.message})
        elif kind == "group":
            self.groups += 1
        else:
            self.by_status[status or ""] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "by_status": self.by_status,
            "reasons": self.reasons,
            "unreadable": self.unreadable,
            "groups": self.groups,
            "total": self.total,
        }

    def merge(self, part: dict[str, Any]) -> None:
        self.by_status.update(part["by_status"])
        self.reasons.update(part["reasons"])
        self.unreadable.extend(part["unreadable"])
        self.groups += part["groups"]
        self.total += part["total"]

    def stats(self, place: str, query: str | None) -> dict[str, Any]:
        stats: dict[str, Any] = {"directory": place}
        if query is not None:
            stats["filter"] = query
        stats.update(
            {
                "total": self.total,
                "by_status": dict(sorted(self.by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
                "groups": self.groups,
                "unreadable": len(self.unreadable),
                "unreadable_by_reason": dict(self.reasons.most_common()),
                "unreadable_files": sorted(self.unreadable, key=lambda u: u["file"]),
            }
        )
        return stats


def _shares(results: ResultDirectory, jobs: int) -> list[Sequence[str]]:
    """The directory's entries, unparsed, in shares for ``jobs`` processes to claim
    (one share when the source cannot be read by several). Each share parses its
    own names: in parallel, not in the parent before anyone starts."""
    return split(results.entry_names(), jobs if results.forkable else 1)


def _count(results: ResultDirectory, names: Sequence[str], predicate: Predicate | None = None) -> dict[str, Any]:
    """Counts of one share of the files, as JSON (it may come from a forked child)."""
    listing = parsed_listing(names)
    counts = _Counts()
    add, path = counts.add, results.file_path
    if predicate is None:
        for name, status, error in results.statuses(listing):
            add(name.kind, status, error, None if error is None else path(name.prefix + name.task_id))
    else:
        for record in _records(results, listing):
            if predicate(record):
                add(record.kind, record.status, record.error, None if record.error is None else path(record.filename))
    return counts.as_json()


def _records(results: ResultDirectory, listing: Listing) -> Iterator[TaskRecord]:
    """The summary of every file of ``listing``, as the inspector reads it."""
    with results.held_open():
        for filename, parsed in listing:
            record = results.read_record(filename, parsed)
            if record is not None:
                yield record


def matching_records(results: ResultDirectory, predicate: Predicate | None) -> list[TaskRecord]:
    """The summary of every file ``predicate`` keeps (of every file without one), as the inspector reads it."""
    return [r for r in _records(results, results.listing()) if predicate is None or predicate(r)]


def linked_records(results: ResultDirectory) -> dict[str, TaskRecord]:
    """The tasks that name a parent, group or root, by id: what ``root:`` follows in a filter."""
    return {r.task_id: r for r in _records(results, results.listing()) if r.links is not None}


def format_stats(stats: dict[str, Any], *, max_files: int = 20) -> str:
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
    files = stats["unreadable_files"]
    if files:
        lines.append("unreadable files:")
        for item in files[:max_files]:
            lines.append(f"  {one_line(item['file'])}: {one_line(item['error'])}")
        if len(files) > max_files:
            lines.append(f"  ... and {len(files) - max_files:,} more (--stats --json lists them all)")
    return "\n".join(lines)


def print_stats(
    results: ResultDirectory,
    as_json: bool,
    out: IO[str] = sys.stdout,
    jobs: int = 1,
    predicate: Predicate | None = None,
    query: str | None = None,
) -> None:
    write_stats(compute_stats(results, jobs, predicate, query), as_json, out)


def write_stats(stats: dict[str, Any], as_json: bool, out: IO[str] = sys.stdout) -> None:
    text = orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode("utf-8") if as_json else format_stats(stats)
    try:
        out.write(text + "\n")
    except OSError as exc:
        raise OutputError(exc) from exc
