"""A task file's record straight from its bytes, decoding only what a record holds.

A first scan summarizes every file of a directory: parsing the whole meta (its
traceback, its result) into dicts and strings and then picking a dozen fields
out of them was most of a reader's Python time. Here msgspec decodes the meta
into a struct of those fields, skipping the rest; the result stays raw, decoded
only when the record looks at it (any status but SUCCESS). The record is made by
``task_summary``, as ``summarize`` makes it from a decoded meta.

Only a file this way reads as the careful way would is taken: ASCII (msgspec does
not check the UTF-8 of what it skips; Celery's JSON is ASCII), an object, with a
non-empty string status, nested less than ``MOST_OPENINGS`` deep. Anything msgspec
refuses is left to the caller's careful way (None), which explains it. msgspec
refuses nothing orjson reads but for depth, and where each decoder stops (orjson
at 1024, msgspec and Python's json near the recursion limit, which a user's code
may raise and Python's versions count differently) is none of a shallow file's
business: a file with that many brackets goes the careful way. It accepts a
skipped number too big for a float, which the careful way reads (Python's json)
as the same record. msgspec reads an integer beyond 64 bits whole, as Python's
json does where the careful way meets one (orjson would make it a float): a file
holding one needs no care here (it was looked for in every file: 0.5 µs of ~11),
unless it has more digits than Python's json reads (``sys.get_int_max_str_digits``,
4,300 by default): the careful way says the file cannot be read, and msgspec would
skip it unread in a field it does not decode (only a file longer than that limit
is looked at).

A file with kombu's type tags (``{"__type__": "datetime", ...}``), which the
careful way restores, is taken only when it is a SUCCESS with every tag in its
result, and no ``\\u`` escape outside it (the careful way restores a tag whose key
is written ``"\\u005f_type__"`` too, once the file holds one tag): the record holds
nothing of a SUCCESS's result, so the two ways cannot differ. A task returning a
datetime or a Decimal is common: in the benchmarks' directories (copies of real
worker files) 7 % of the files, which the careful way
read in 19 µs each against 10 µs (a reader's summaries 8 % sooner).
"""

from __future__ import annotations

import sys
from typing import Any

import msgspec

from .codec import DIGITS_ONLY, TYPE_TAG
from .record import TaskRecord, interned_status, shared_size, task_summary

#: A file with this many ``[`` and ``{`` may be nested deeper than a decoder goes.
MOST_OPENINGS = 500


class _TaskFields(msgspec.Struct, gc=False):
    """The fields of a task's meta a record is made of: ``task_summary``'s arguments, which
    ``summarize`` takes from the decoded meta."""

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
_decode_value = msgspec.json.Decoder().decode


def task_record(
    task_id: str, prefix: str, data: bytes, size: int, mtime: float, *, plain: bool = True
) -> TaskRecord | None:
    """The record of a task file whose bytes are ``data``, or None when it must go the careful way.

    ``plain``: the caller checked that ``data`` holds no kombu type tag (``"__type__"``), which
    would be read here as it is, not restored as the careful way does. Otherwise the file is
    taken only if it is a SUCCESS whose result holds every one of them (``_all_in``)."""
    if data[:1] != b"{" or not data.isascii():
        return None
    if len(data) >= 2 * MOST_OPENINGS and data.count(b"[") + data.count(b"{") >= MOST_OPENINGS:
        return None
    if len(data) > _FEWEST_DIGITS_REFUSED and _too_long_a_number(data):
        return None
    try:
        fields = _decode_fields(data)
        status = fields.status
        if type(status) is not str or not status:
            return None  # no status: classify says what it is
        status = interned_status(status)
        if not plain and (status != "SUCCESS" or not _all_in(data, fields.result)):
            return None
        result = None if status == "SUCCESS" else _decode_value(memoryview(fields.result))
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


def _all_in(data: bytes, result: msgspec.Raw) -> bool:
    """Whether every type tag of ``data`` lies in ``result``, a value of it, and every ``\\u``
    escape (a key written ``"\\u005f_type__"`` is a tag to the careful way): a value's text is
    whole JSON tokens, so neither straddles its edge, and counting them in both says where they are."""
    inside = bytes(result)
    return data.count(TYPE_TAG) == inside.count(TYPE_TAG) and data.count(b"\\u") == inside.count(b"\\u")


#: The least ``sys.set_int_max_str_digits`` allows: a shorter file cannot hold a number Python's
#: json refuses.
_FEWEST_DIGITS_REFUSED = 640


def _too_long_a_number(data: bytes) -> bool:
    """Whether ``data`` holds a run of more digits than Python's json reads as an integer (its limit
    as it is now: a user's code may change it)."""
    get_limit = getattr(sys, "get_int_max_str_digits", None)
    limit = get_limit() if get_limit is not None else 0
    return bool(limit) and len(data) > limit and b"0" * (limit + 1) in data.translate(DIGITS_ONLY)
