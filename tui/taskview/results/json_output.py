"""Rows as JSON lines: what --dump, --replay --dump and the --record journal write.

Result metas hold what JSON cannot (kombu's restored dates and decimals, bytes,
exceptions from pickle, integers beyond 64 bits, nesting deeper than orjson
goes): each is written as its repr rather than failing the whole row.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

#: The keys a row keeps when its content is nested too deeply to write at all.
ENVELOPE = ("task_id", "kind", "status", "file", "mtime", "size")


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
    return encode_line(row, plain)[:-1]


def encode_line(row: dict[str, Any], plain: bool) -> bytes:
    """``row`` as one line of JSON, newline included."""
    try:
        return orjson.dumps(row if plain else jsonable(row), option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, RecursionError):
        # An integer beyond 64 bits (Python's json writes it exactly), or nesting
        # deeper than orjson's 255 levels: Python's json goes as deep as the stack.
        import json

        try:
            return json.dumps(jsonable(row), ensure_ascii=False).encode("utf-8") + b"\n"
        except RecursionError:
            envelope = {k: row.get(k) for k in ENVELOPE if k in row}
            return orjson.dumps({**envelope, "error": "nested too deeply to dump"}, option=orjson.OPT_APPEND_NEWLINE)
