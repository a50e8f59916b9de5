"""A task file's record straight from its bytes, decoding only what a record holds.

A first scan summarizes every file of a directory: parsing the whole meta (its
traceback, its result) into dicts and strings and then picking a dozen fields
out of them was most of a reader's Python time. Here msgspec decodes the meta
into a struct of those fields, skipping the rest; the result stays raw, decoded
only when the record looks at it (any status but SUCCESS). The record is made by
``task_summary``, as ``summarize`` makes it from a decoded meta.

Only a file this way reads as the careful way would is taken: ASCII (msgspec does
not check the UTF-8 of what it skips; Celery's JSON is ASCII), an object, with a
non-empty string status. Anything msgspec refuses, or a result orjson refuses,
is left to the caller's careful way (None), which explains it. msgspec refuses
nothing orjson reads here but for depth (it stops at Python's recursion limit,
orjson at 1024); it accepts a skipped number too big for a float, which the
careful way reads (Python's json) as the same record.
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import orjson

from .record import TaskRecord, shared_size, task_summary

_intern = sys.intern


class _TaskFields(msgspec.Struct, gc=False):
    """The fields of a task's meta a record is made of (``summarize`` reads the same)."""

    status: Any = None
    result: msgspec.Raw = msgspec.Raw(b"null")
    name: Any = None
    worker: Any = None
    args: Any = None
    kwargs: Any = None
    date_done: Any = None
    group_id: Any = None
    parent_id: Any = None
    root_id: Any = None
    children: Any = None


_decode_fields = msgspec.json.Decoder(_TaskFields).decode


def task_record(task_id: str, prefix: str, data: bytes, size: int, mtime: float) -> TaskRecord | None:
    """The record of a task file whose bytes are ``data`` (plain JSON: no kombu type tag, no
    number of 19 digits; the caller checked), or None when it must go the careful way."""
    if data[0] != 0x7B or not data.isascii():
        return None
    try:
        fields = _decode_fields(data)
        status = fields.status
        if type(status) is not str or not status:
            return None  # no status: classify says what it is
        status = _intern(status) if len(status) < 64 else status
        result = None if status == "SUCCESS" else orjson.loads(memoryview(fields.result))
        return task_summary(
            task_id,
            prefix,
            status,
            fields.name,
            result,
            fields.worker,
            fields.args,
            fields.kwargs,
            fields.date_done,
            fields.group_id,
            fields.parent_id,
            fields.root_id,
            fields.children,
            mtime,
            shared_size(size),
        )
    except Exception:  # refused here (or too deep for this way): the careful way says why
        return None
