"""``--dump jsonl|csv`` and ``--stats``: the store without a screen.

Imports nothing of Textual, so ``taskview DIR --stats`` starts in milliseconds.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from .results.parallel import map_forked, split
from .results.scan import FullRead, Listing, ResultDirectory
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
_ENVELOPE = ("task_id", "kind", "status", "file", "mtime", "size")
_JSON_ENCODED_CSV = frozenset({"result", "children", "args", "kwargs"})


def dump_rows(results: ResultDirectory, listing: Listing | None = None) -> Iterator[tuple[dict[str, Any], bool]]:
    """One (row, plain) per result file; ``plain`` rows hold only JSON types already."""
    for full in results.read_all(listing):
        yield dump_row(full)


def dump_row(full: FullRead) -> tuple[dict[str, Any], bool]:
    name, read, decoded = full.name, full.read, full.decoded
    meta = full.meta
    row: dict[str, Any] = {"task_id": name.task_id, "kind": name.kind}
    if meta is None:
        row.update(_NO_META)
    else:  # one C-level pass: this runs for every file of a --dump
        row.update(zip(_META_FIELDS, map(meta.get, _META_FIELDS)))
    row["file"] = full.path
    row["mtime"] = read.mtime or None
    row["size"] = read.size
    row["error"] = full.error
    return row, decoded is not None and decoded.plain


_NO_META = dict.fromkeys(_META_FIELDS)


def jsonable(value: Any) -> Any:
    """Values JSON cannot hold become their repr; tuples become lists."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else repr(k)): jsonable(v) for k, v in value.items()}
    return repr(value)


def encode_json(row: dict[str, Any], plain: bool) -> bytes:
    try:
        return orjson.dumps(row if plain else jsonable(row))
    except (TypeError, RecursionError):
        # An integer beyond 64 bits (Python's json writes it exactly), or nesting
        # deeper than orjson's 255 levels: Python's json goes as deep as the stack.
        import json

        try:
            return json.dumps(jsonable(row), ensure_ascii=False).encode("utf-8")
        except RecursionError:
            return orjson.dumps({**{k: row.get(k) for k in _ENVELOPE if k in row}, "error": "nested too deeply to dump"})


def write_jsonl(results: ResultDirectory, out: IO[bytes], jobs: int = 1) -> int:
    return _write_split(results, out, jobs, _jsonl_rows, "w+b")


def write_csv(results: ResultDirectory, out: IO[str], jobs: int = 1) -> int:
    import csv

    csv.writer(out, lineterminator="\n").writerow(DUMP_FIELDS)
    return _write_split(results, out, jobs, _csv_rows, "w+")


def _jsonl_rows(results: ResultDirectory, listing: Listing, out: IO[bytes]) -> int:
    count = 0
    buffer: list[bytes] = []
    for row, plain in dump_rows(results, listing):
        buffer.append(encode_json(row, plain))
        count += 1
        if len(buffer) >= 100:  # ~50 KB: below the size where each write would mmap
            buffer.append(b"")
            out.write(b"\n".join(buffer))
            buffer.clear()
    if buffer:
        buffer.append(b"")
        out.write(b"\n".join(buffer))
    return count


def _csv_rows(results: ResultDirectory, listing: Listing, out: IO[str]) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    count = 0
    for row, _plain in dump_rows(results, listing):
        writer.writerow(_csv_cell(field, row[field]) for field in DUMP_FIELDS)
        count += 1
    return count


def _write_split(
    results: ResultDirectory, out: IO[Any], jobs: int, write_rows: Callable[[ResultDirectory, Listing, IO[Any]], int], mode: str
) -> int:
    """Rows of every file in directory order; with ``jobs`` > 1 the later shares are
    written by forked children into spill files, copied to ``out`` in order."""
    shares = _shares(results, jobs)
    spills: list[IO[Any]] = [out]
    try:
        for _ in shares[1:]:
            spills.append(tempfile.TemporaryFile(mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})))
        out.flush()  # a child must not inherit (and lose) half-written output

        def write_share(index: int) -> int:
            target = spills[index]
            if index:
                target.seek(0)
                target.truncate()  # a failed child's part is redone from the start
            count = write_rows(results, shares[index], target)
            target.flush()
            return count

        counts = map_forked(write_share, range(len(shares)))
        for spill in spills[1:]:
            spill.seek(0)
            shutil.copyfileobj(spill, out, 1 << 20)
        return sum(counts)
    finally:
        for spill in spills[1:]:
            spill.close()


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
    for part in map_forked(lambda share: _count(results, share), shares):
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


def _shares(results: ResultDirectory, jobs: int) -> list[Listing]:
    """The files in one share per process (one share when the source cannot be read by several)."""
    return split(results.list(), jobs if results.forkable else 1)


def _count(results: ResultDirectory, listing: Listing) -> dict[str, Any]:
    """Counts of one share of the files, as JSON (it may come from a forked child)."""
    by_status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unreadable: list[dict[str, str]] = []
    groups = total = 0
    for name, status, error in results.statuses(listing):
        total += 1
        if error is not None:
            reasons[_reason_kind(error)] += 1
            unreadable.append({"file": results.file_path(name.prefix + name.task_id), "error": error})
        elif name.kind == "group":
            groups += 1
        else:
            by_status[status or ""] += 1
    return {"by_status": by_status, "reasons": reasons, "unreadable": unreadable, "groups": groups, "total": total}


def _reason_kind(error: str) -> str:
    """Group reasons without their byte offsets: 'truncated JSON at byte 8192' -> 'truncated JSON'."""
    return error.split(" at byte ")[0].split(":")[0]


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
