"""``--dump jsonl|csv`` and ``--stats``: the store without a screen.

Imports nothing of Textual, so ``taskview DIR --stats`` starts in milliseconds.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

import orjson

from .results.scan import FullRead, ResultDirectory
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


def dump_rows(results: ResultDirectory) -> Iterator[tuple[dict[str, Any], bool]]:
    """One (row, plain) per result file; ``plain`` rows hold only JSON types already."""
    for filename, parsed in results.list():
        full = results.read_full(filename, parsed)
        if full is not None:
            yield dump_row(full)


def dump_row(full: FullRead) -> tuple[dict[str, Any], bool]:
    row: dict[str, Any] = {"task_id": full.name.task_id, "kind": full.name.kind}
    get = (full.meta or {}).get
    for field in _META_FIELDS:
        row[field] = get(field)
    row["file"] = full.path
    row["mtime"] = full.read.mtime if full.read.mtime else None
    row["size"] = full.read.size
    row["error"] = full.error
    plain = full.decoded is not None and full.decoded.plain
    return row, plain


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


def write_jsonl(results: ResultDirectory, out: IO[bytes]) -> int:
    count = 0
    buffer: list[bytes] = []
    for row, plain in dump_rows(results):
        buffer.append(encode_json(row, plain))
        count += 1
        if len(buffer) >= 1000:
            out.write(b"\n".join(buffer) + b"\n")
            buffer.clear()
    if buffer:
        out.write(b"\n".join(buffer) + b"\n")
    return count


def write_csv(results: ResultDirectory, out: IO[str]) -> int:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DUMP_FIELDS)
    count = 0
    for row, _plain in dump_rows(results):
        writer.writerow(_csv_cell(field, row[field]) for field in DUMP_FIELDS)
        count += 1
    return count


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


def compute_stats(results: ResultDirectory) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unreadable: list[dict[str, str]] = []
    groups = total = 0
    for batch in results.scan():
        for record in batch:
            total += 1
            if record.error is not None:
                reasons[_reason_kind(record.error)] += 1
                unreadable.append({"file": results.file_path(record.filename), "error": record.error})
            elif record.kind == "group":
                groups += 1
            else:
                by_status[record.status or ""] += 1
    return {
        "directory": results.path,
        "total": total,
        "by_status": dict(sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
        "groups": groups,
        "unreadable": len(unreadable),
        "unreadable_by_reason": dict(reasons.most_common()),
        "unreadable_files": sorted(unreadable, key=lambda u: u["file"]),
    }


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


def print_stats(results: ResultDirectory, as_json: bool, out: IO[str] = sys.stdout) -> None:
    stats = compute_stats(results)
    if as_json:
        out.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n")
    else:
        out.write(format_stats(stats) + "\n")
