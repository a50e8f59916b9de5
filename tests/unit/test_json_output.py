"""Rows as JSON lines (results/json_output.py): what JSON cannot hold becomes its repr, never a lost row."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import orjson
import pytest

from taskview.results.json_output import encode_json, encode_line, jsonable


def test_jsonable_keeps_json_scalars_as_they_are():
    assert jsonable(None) is None
    assert jsonable("text") == "text"
    assert jsonable(True) is True
    assert jsonable(False) is False
    assert jsonable(0) == 0
    assert jsonable(2**70) == 2**70  # exact: Python's json writes it
    assert jsonable(1.5) == 1.5
    assert jsonable(-0.25) == -0.25


def test_jsonable_writes_what_json_cannot_hold_as_its_repr():
    assert jsonable(float("nan")) == "nan"
    assert jsonable(float("inf")) == "inf"
    assert jsonable(float("-inf")) == "-inf"
    assert jsonable(b"\x00ab") == "b'\\x00ab'"
    assert jsonable(Decimal("1.10")) == "Decimal('1.10')"
    assert jsonable({1, 2}) == "{1, 2}"


def test_jsonable_goes_into_lists_tuples_and_dicts():
    assert jsonable((1, (2, b"x"), [float("inf")])) == [1, [2, "b'x'"], ["inf"]]
    assert jsonable({"a": (1,), 2: "two", None: [Decimal("3")], (1, 2): {}}) == {
        "a": [1],
        "2": "two",
        "None": ["Decimal('3')"],
        "(1, 2)": {},
    }
    assert jsonable([]) == [] and jsonable(()) == [] and jsonable({}) == {}


def test_a_line_ends_with_one_newline_and_encode_json_leaves_it_off():
    row = {"task_id": "t1", "status": "SUCCESS", "size": 12}
    assert encode_line(row, True) == b'{"task_id":"t1","status":"SUCCESS","size":12}\n'
    assert encode_line(row, False) == b'{"task_id":"t1","status":"SUCCESS","size":12}\n'
    assert encode_json(row, True) == b'{"task_id":"t1","status":"SUCCESS","size":12}'
    assert encode_json(row, False) == b'{"task_id":"t1","status":"SUCCESS","size":12}'


def test_a_row_that_is_not_plain_has_its_values_made_jsonable():
    row = {"result": float("nan"), "args": (1, 2), "when": Decimal("2.5"), 3: "k"}
    assert encode_line(row, False) == b'{"result":"nan","args":[1,2],"when":"Decimal(\'2.5\')","3":"k"}\n'


def test_an_integer_beyond_64_bits_is_written_exactly_in_utf_8():
    row = {"task_id": "é1", "result": 2**70, "args": (b"z",)}
    line = encode_line(row, False)
    assert line == '{"task_id": "é1", "result": 1180591620717411303424, "args": ["b\'z\'"]}\n'.encode()
    assert encode_json(row, False) == line[:-1]
    # plain (a meta of JSON's own types) but too big for orjson: the same exact line
    assert encode_line({"result": 2**70}, True) == b'{"result": 1180591620717411303424}\n'


@pytest.fixture
def room_for_trampolines():
    """A recursion limit with room for mutmut's trampolines (a few frames a level): the default
    1000 is room enough for the code itself."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4000))
    yield
    sys.setrecursionlimit(limit)


def test_nesting_deeper_than_orjson_goes_is_still_written(room_for_trampolines):
    deep: list = []
    for _ in range(300):  # orjson stops at 255 levels, Python's json does not
        deep = [deep]
    line = encode_line({"task_id": "t", "result": deep}, False)
    assert line == b'{"task_id": "t", "result": ' + b"[" * 301 + b"]" * 301 + b"}\n"
    assert json.loads(line)["task_id"] == "t"


def test_nesting_too_deep_for_any_writer_keeps_the_envelope():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    row = {
        "size": 7,
        "result": deep,
        "task_id": "t9",
        "kind": "task",
        "status": "SUCCESS",
        "name": "proj.add",
        "file": "celery-task-meta-t9",
        "mtime": 1.5,
    }
    for plain in (False, True):
        line = encode_line(row, plain)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        # in ENVELOPE's order, the keys the row has (never "name", nor the content)
        assert orjson.loads(line) == {
            "task_id": "t9",
            "kind": "task",
            "status": "SUCCESS",
            "file": "celery-task-meta-t9",
            "mtime": 1.5,
            "size": 7,
            "error": "nested too deeply to dump",
        }
        assert line == (
            b'{"task_id":"t9","kind":"task","status":"SUCCESS","file":"celery-task-meta-t9",'
            b'"mtime":1.5,"size":7,"error":"nested too deeply to dump"}\n'
        )
    partial = encode_line({"task_id": "t9", "result": deep}, False)
    assert partial == b'{"task_id":"t9","error":"nested too deeply to dump"}\n'
