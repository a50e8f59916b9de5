"""The lean first scan's record of a task file (lean_summary.task_record): the careful way's
record (decode, then summarize) for every file it takes, and the careful way for any other."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.samples import SAMPLE_RESULTS
from taskview.results.codec import TYPE_TAG, decode
from taskview.results.files import TASK_PREFIX
from taskview.results.lean_summary import task_record
from taskview.results.record import summarize

SIZE, MTIME = 321, 1_700_000_000.25


def careful(data: bytes) -> dict[str, Any]:
    return msgspec.to_builtins(summarize("t1", "task", TASK_PREFIX, decode(data), size=SIZE, mtime=MTIME))


def lean(data: bytes) -> dict[str, Any] | None:
    record = task_record("t1", TASK_PREFIX, data, SIZE, MTIME)
    return None if record is None else msgspec.to_builtins(record)


# Integers beyond 64 bits too: orjson makes them floats, msgspec and Python's json (the careful way's
# decoder for a file holding one) keep them whole.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**18), 10**18)
    | st.integers(10**18, 10**30)
    | st.integers(-(10**30), -(10**18))
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
ids = st.sampled_from(["t1", "t2", "", "g9"])
# A child as Celery's ``children`` holds it: [[id, parent], None] a task, [[gid, parent], [members]] a group.
children = st.lists(st.one_of(st.tuples(st.tuples(ids, ids), st.none()), values), max_size=3)
exception = st.fixed_dictionaries({"exc_type": st.sampled_from(["ValueError", "", 3]), "exc_message": values})
progress = st.fixed_dictionaries({"current": values, "total": st.integers(-2, 9), "pid": values, "hostname": values})
fields = {
    "status": st.sampled_from(["SUCCESS", "FAILURE", "STARTED", "RETRY", "REVOKED", "PROGRESS", "", "x" * 70]) | values,
    "result": values | exception | progress,
    "name": st.text(max_size=8) | values,
    "worker": st.sampled_from(["w1@h", None]) | values,
    "args": values,
    "kwargs": values,
    "date_done": st.sampled_from(["2026-11-24T21:32:27.685096+00:00", "2026-11-24T21:32:27", "2026-11-24Z", "soon"])
    | values,
    "group_id": ids | values,
    "parent_id": ids | values,
    "root_id": ids | values,
    "children": children,
    "traceback": values,
    "other": values,
}
metas = st.fixed_dictionaries({}, optional=fields)


@settings(max_examples=400, deadline=None)
@given(metas, st.booleans())
def test_a_file_the_lean_way_takes_gets_the_careful_way_s_record(meta: dict[str, Any], ascii_only: bool):
    try:
        data, strict = json.dumps(meta, ensure_ascii=ascii_only, allow_nan=False).encode(), True
    except ValueError:  # Python writes inf as Infinity, which JSON is not
        data, strict = json.dumps(meta, ensure_ascii=ascii_only).encode(), False
    made = lean(data)
    if made is not None:
        assert made == careful(data)
    elif strict and ascii_only and type(meta.get("status")) is str and meta["status"]:
        # Celery's own files (ASCII, with a status) are the lean way's to take, whatever else
        # they hold: it refuses only what msgspec or orjson refuse (neither refuses these).
        raise AssertionError(f"refused: {data!r}")


# kombu's type tags (known ones and a user's own), which the careful way restores.
tags = st.fixed_dictionaries(
    {
        "__type__": st.sampled_from(["datetime", "decimal", "uuid", "bytes", "base64", "mine", 3]),
        "__value__": st.sampled_from(["2026-01-01T00:00:00", "1.5", "aGk=", "x"]) | values,
    }
)
tagged_values = st.recursive(
    scalars | tags,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
tagged_metas = st.fixed_dictionaries(
    {"status": st.sampled_from(["SUCCESS", "SUCCESS", "FAILURE", "PROGRESS"]), "result": tagged_values},
    optional={
        **{field: strategy for field, strategy in fields.items() if field not in ("status", "result")},
        **{field: values | tagged_values for field in ("args", "kwargs", "date_done", "name", "traceback", "other")},
    },
)


def tagged_lean(data: bytes) -> dict[str, Any] | None:
    """The lean way's record of a file holding a type tag (its caller says so: ``plain=False``)."""
    record = task_record("t1", TASK_PREFIX, data, SIZE, MTIME, plain=False)
    return None if record is None else msgspec.to_builtins(record)


@settings(max_examples=400, deadline=None)
@given(tagged_metas)
def test_a_file_with_type_tags_is_taken_as_a_success_with_them_all_in_its_result(meta: dict[str, Any]):
    try:
        data = json.dumps(meta, allow_nan=False).encode()
    except ValueError:
        return  # not JSON (inf): the other test's
    if TYPE_TAG not in data:
        return  # the other test's
    made = tagged_lean(data)
    if made is not None:
        assert made == careful(data)
    elsewhere = json.dumps({key: value for key, value in meta.items() if key != "result"}).encode()
    if meta["status"] == "SUCCESS" and TYPE_TAG not in elsewhere and b"\\u" not in elsewhere:
        # all in the result, which a SUCCESS's record never looks at (and no escape elsewhere could
        # be a tag's key written otherwise)
        assert made is not None, data
    else:
        assert made is None, data


def test_type_tags_and_long_numbers_by_hand():
    taken = {
        "a datetime result": b'{"status": "SUCCESS", "result": {"__type__": "datetime", "__value__": "2026-01-01"}}',
        "a tag it does not know": b'{"status": "SUCCESS", "result": {"__type__": "mine", "__value__": 1}}',
    }
    for why, data in taken.items():
        assert tagged_lean(data) is not None and tagged_lean(data) == careful(data), why
    left = {
        "a failure's result is read": b'{"status": "FAILURE", "result": {"__type__": "decimal", "__value__": "1"}}',
        "a tag in its args": b'{"status": "SUCCESS", "args": [{"__type__": "uuid", "__value__": {"hex": "00"}}]}',
        "a tagged date_done": b'{"status": "SUCCESS", "date_done": {"__type__": "datetime", "__value__": "2026"}}',
        "two results, the first tagged": (
            b'{"status": "SUCCESS", "result": {"__type__": "date", "__value__": "2026-01-01"}, "result": 2}'
        ),
        # A key escaped to "__type__" is a tag to the careful way once the file holds one written plainly.
        "an escaped tag in its date_done": (
            b'{"status": "SUCCESS", "result": {"__type__": "uuid", "__value__": "x"},'
            b' "date_done": {"\\u005f_type__": "datetime", "__value__": "2026-01-01T00:00:00"}}'
        ),
    }
    for why, data in left.items():
        assert tagged_lean(data) is None, why
    escaped = left["an escaped tag in its date_done"]
    assert careful(escaped)["date_done"] == 1767225600.0  # what the lean way would have missed
    in_result = b'{"status": "SUCCESS", "result": {"__type__": "x", "__value__": "caf\\u00e9"}, "name": "t.x"}'
    assert tagged_lean(in_result) is not None and tagged_lean(in_result) == careful(in_result)
    # Numbers beyond 64 bits, whole either way (the careful way reads these files with Python's json).
    long_numbers = {
        "in a failure's message": (
            b'{"status": "FAILURE", "result": {"exc_type": "OverflowError", "exc_message": [123456789012345678901234]}}'
        ),
        "in its kwargs": b'{"status": "SUCCESS", "result": 1, "kwargs": {"n": -12345678901234567890}}',
        "in a progress": b'{"status": "PROGRESS", "result": {"current": 98765432109876543210, "total": 1}}',
        "an id of 19 digits": b'{"status": "SUCCESS", "result": 1, "group_id": "1234567890123456789"}',
    }
    for why, data in long_numbers.items():
        assert lean(data) is not None and lean(data) == careful(data), why
    # More digits than Python's json reads (sys.get_int_max_str_digits): the careful way says the file
    # cannot be read; msgspec would skip it unread in a SUCCESS's result.
    limit = sys.get_int_max_str_digits()
    huge = b'{"status": "SUCCESS", "name": "t.x", "result": 7' + b"7" * limit + b"}"
    assert lean(huge) is None and careful(huge)["status"] is None and careful(huge)["error"] is not None
    at_the_limit = b'{"status": "SUCCESS", "name": "t.x", "result": 7' + b"7" * (limit - 1) + b"}"
    assert lean(at_the_limit) is not None and lean(at_the_limit) == careful(at_the_limit)
    assert careful(long_numbers["in a failure's message"])["prefix_or_links"]["exc"] == (
        "OverflowError: 123456789012345678901234"
    )


def test_every_sample_task_file_goes_the_lean_way_with_the_careful_record():
    asked = tagged = 0
    for path in sorted(SAMPLE_RESULTS.glob(f"{TASK_PREFIX}*")):
        data = path.read_bytes()
        if TYPE_TAG in data:
            # kombu's type tags (a task returning a datetime): taken when they are in a SUCCESS's result
            record = task_record("t1", TASK_PREFIX, data, SIZE, MTIME, plain=False)
            assert record is not None and msgspec.to_builtins(record) == careful(data), path.name
            tagged += 1
            continue
        asked += 1
        assert lean(data) == careful(data), path.name
    assert asked >= 19 and tagged >= 1


def test_what_the_lean_way_leaves_to_the_careful_one():
    deep = b'{"status": "SUCCESS", "args": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    # Objects and lists 500 deep in all (MOST_OPENINGS), which orjson reads.
    shallow_enough_for_orjson = (
        b'{"status": "SUCCESS", "traceback": ' + b'{"a": ' * 199 + b"[" * 300 + b"]" * 300 + b"}" * 199 + b"}"
    )
    refused = {
        # not ASCII: msgspec skips a field without checking its UTF-8
        "not UTF-8 in a skipped field": b'{"status": "SUCCESS", "traceback": "\xff"}',
        "UTF-8 text": '{"status": "SUCCESS", "name": "caf\u00e9"}'.encode(),
        "no status": b'{"result": 1}',
        "an empty status": b'{"status": ""}',
        "a status that is not text": b'{"status": 3}',
        "not an object": b"[1]",
        "bad JSON": b'{"status": "SUCCESS",, }',
        "a result orjson refuses": b'{"status": "FAILURE", "result": [1e400]}',
        "nested deeper than msgspec goes": deep,
        # Where msgspec and Python's json stop moves with the recursion limit (a user's code may
        # raise it) and Python's version: a file nested this deep, which orjson reads, is not the
        # lean way's to read, so that both ways cannot disagree on one deeper still.
        "nested 500 deep": shallow_enough_for_orjson,
        "empty": b"",
    }
    for why, data in refused.items():
        assert lean(data) is None, why
    assert careful(deep)["status"] is None  # orjson refuses it too: the careful way says why
    assert careful(shallow_enough_for_orjson)["status"] == "SUCCESS"
    wide = b'{"status": "SUCCESS", "name": "t.x", "args": [' + b",".join([b"[]"] * 400) + b"]}"
    assert lean(wide) == careful(wide)  # many lists side by side, none in another: read the lean way
    # A number too big for a float, where no record looks: Python's json reads it as inf, the
    # same record either way.
    skipped = b'{"status": "SUCCESS", "name": "t.x", "traceback": 1e400}'
    assert lean(skipped) == careful(skipped) and careful(skipped)["name"] == "t.x"


def test_a_success_s_result_is_never_decoded():
    # A SUCCESS record holds nothing of its result: the lean way leaves it raw, even when
    # orjson would refuse it (the careful way reads it with Python's json: the same record).
    data = b'{"status": "SUCCESS", "result": [1e400], "name": "t.ok"}'
    assert lean(data) == careful(data)
    failed = b'{"status": "FAILURE", "result": {"exc_type": "KeyError", "exc_message": ["k"]}}'
    assert lean(failed) == careful(failed) and careful(failed)["prefix_or_links"]["exc"] == "KeyError: k"


def test_a_status_is_shared_by_the_records_saying_it_unless_it_is_long():
    # A million rows say a handful of statuses: one string each (interned), as the careful way
    # does; a status of 64 characters or more is someone's data, not shared.
    def status_of(status: str) -> Any:
        data = json.dumps({"status": status}).encode()
        record = task_record("t1", TASK_PREFIX, data, SIZE, MTIME)
        assert record is not None
        return record.status

    short, long = "S" * 63, "L" * 64
    assert status_of(short) is status_of(short)
    assert status_of(long) == long and status_of(long) is not status_of(long)
