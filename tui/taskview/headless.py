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

from .insights.grouping import exception_type, group_key
from .query import Predicate
from .results.codec import Decoded
from .results.json_output import encode_json, encode_line
from .results.parallel import map_forked, run_forked, split
from .results.problems import Problem
from .results.record import TaskRecord, epoch, exception_line, summarize_safely
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
