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
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import orjson

from .results.json_output import encode_json, encode_line
from .results.parallel import map_forked, run_forked, split
from .results.scan import ResultDirectory, parsed_listing
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


def dump_rows(results: ResultDirectory, names: Sequence[str] | None = None) -> Iterator[tuple[dict[str, Any], bool]]:
    """One (row, plain) per result file (of ``names``, entries of the directory);
    ``plain`` rows hold only JSON types already."""
    fields, no_meta = _META_FIELDS, _NO_META
    # Type tags become their repr as the files are parsed: what jsonable would make
    # of them, without a second walk over every tagged result.
    for (kind, task_id, _prefix), path, mtime, size, meta, error, plain in results.read_metas(names, tags_as_repr=True):
        row: dict[str, Any] = {"task_id": task_id, "kind": kind}
        # One C-level pass over the fields: this runs for every file of a --dump.
        row.update(no_meta if meta is None else zip(fields, map(meta.get, fields), strict=False))
        row["file"] = path
        row["mtime"] = mtime or None
        row["size"] = size
        row["error"] = None if error is None else error.message
        yield row, plain


_NO_META = dict.fromkeys(_META_FIELDS)


def write_jsonl(results: ResultDirectory, out: IO[bytes], jobs: int = 1) -> int:
    return _write_split(results, out, jobs, _jsonl_rows, "w+b")


def write_csv(results: ResultDirectory, out: IO[str], jobs: int = 1) -> int:
    import csv

    csv.writer(out, lineterminator="\n").writerow(DUMP_FIELDS)
    return _write_split(results, out, jobs, _csv_rows, "w+")


def _jsonl_rows(results: ResultDirectory, names: Sequence[str], out: IO[bytes]) -> int:
    count = 0
    write, dumps, newline = out.write, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # A line per write, into out's buffer: joining lines into bigger blocks
    # first made glibc give the heap back and fault it in again (~1 fault per file).
    for row, plain in dump_rows(results, names):
        try:
            # Most rows are plain: orjson directly, without encode_line's call.
            line = dumps(row, option=newline) if plain else encode_line(row, False)
        except (TypeError, RecursionError):  # nested deeper than orjson goes: encode_line's way
            line = encode_line(row, False)
        write(line)
        count += 1
    return count


def _csv_rows(results: ResultDirectory, names: Sequence[str], out: IO[str]) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for row, _plain in dump_rows(results, names):
        writer.writerow(_csv_cell(field, row[field]) for field in DUMP_FIELDS)
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
        out.flush()  # a child must not inherit (and lose) half-written output

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


def compute_stats(results: ResultDirectory, jobs: int = 1) -> dict[str, Any]:
    shares = _shares(results, jobs)
    by_status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unreadable: list[dict[str, str]] = []
    groups = total = 0
    for part in map_forked(lambda share: _count(results, share), shares, jobs):
        by_status.update(part["by_status"])
        reasons.update(part["reasons"])
        unreadable.extend(part["unreadable"])
        groups += part["groups"]
        total += part["total"]
    return {
        "directory": results.path,
        "total": total,
        "by_status": dict(sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
        "groups": groups,
        "unreadable": len(unreadable),
        "unreadable_by_reason": dict(reasons.most_common()),
        "unreadable_files": sorted(unreadable, key=lambda u: u["file"]),
    }


def _shares(results: ResultDirectory, jobs: int) -> list[Sequence[str]]:
    """The directory's entries, unparsed, in shares for ``jobs`` processes to claim
    (one share when the source cannot be read by several). Each share parses its
    own names: in parallel, not in the parent before anyone starts."""
    return split(results.entry_names(), jobs if results.forkable else 1)


def _count(results: ResultDirectory, names: Sequence[str]) -> dict[str, Any]:
    """Counts of one share of the files, as JSON (it may come from a forked child)."""
    listing = parsed_listing(names)
    by_status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unreadable: list[dict[str, str]] = []
    groups = total = 0
    for name, status, error in results.statuses(listing):
        total += 1
        if error is not None:
            reasons[error.reason] += 1
            unreadable.append({"file": results.file_path(name.prefix + name.task_id), "error": error.message})
        elif name.kind == "group":
            groups += 1
        else:
            by_status[status or ""] += 1
    return {"by_status": by_status, "reasons": reasons, "unreadable": unreadable, "groups": groups, "total": total}


def format_stats(stats: dict[str, Any], *, max_files: int = 20) -> str:
    rows = list(stats["by_status"].items())
    if stats["groups"]:
        rows.append(("groups", stats["groups"]))
    rows.append(("unreadable", stats["unreadable"]))
    rows.append(("total", stats["total"]))
    width = max(len(k) for k, _ in rows)
    lines = [one_line(stats["directory"])]
    lines += [f"  {one_line(k):<{width}}  {v:>10,}" for k, v in rows]
    files = stats["unreadable_files"]
    if files:
        lines.append("unreadable files:")
        for item in files[:max_files]:
            lines.append(f"  {one_line(item['file'])}: {one_line(item['error'])}")
        if len(files) > max_files:
            lines.append(f"  ... and {len(files) - max_files:,} more (--stats --json lists them all)")
    return "\n".join(lines)


def print_stats(results: ResultDirectory, as_json: bool, out: IO[str] = sys.stdout, jobs: int = 1) -> None:
    stats = compute_stats(results, jobs)
    if as_json:
        out.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n")
    else:
        out.write(format_stats(stats) + "\n")
