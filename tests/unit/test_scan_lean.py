"""Which files the lean reads of results/scan.py take inline and which go the careful way.

test_scan.py checks that both ways give the same rows; these check the way each file takes,
which is what the lean reads are for (a file read inline costs a tenth of a careful read):
the careful calls are counted by wrapping them, and the files that must go each way are
listed by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskview.results import scan as scan_module
from taskview.results.codec import decode
from taskview.results.files import TASK_PREFIX, parse_name
from taskview.results.scan import ResultDirectory

#: (task id, bytes, whether a lean read takes it inline). Inline: a regular file of at most
#: max_bytes that starts with "{" and orjson reads as an object, without kombu's type tags
#: and without a run of 19 digits (a long run inside a string is checked and kept inline by
#: --dump's read, not by the first scan's).
PLAIN = b'{"status": "SUCCESS", "result": 2, "task_id": "plain"}'
FILES: list[tuple[str, bytes]] = [
    ("plain", PLAIN),
    ("nested", b'{"status": "FAILURE", "result": {"exc_type": "KeyError", "exc_message": ["k"]}}'),
    ("spaced", b' {"status": "RETRY", "task_id": "spaced"}'),
    ("tagged", b'{"status": "SUCCESS", "result": {"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}}'),
    ("long", b'{"status": "SUCCESS", "args": [12345678901234567890123], "kwargs": {}}'),
    ("textlong", b'{"status": "SUCCESS", "result": "1234567890123456789012"}'),
    ("bad", b'{"status": "SUCCESS",, }'),
    ("list", b"[1, 2]"),
    ("empty", b""),
    ("big", b'{"status": "SUCCESS", "result": "' + b"x" * 200 + b'"}'),
]
MAX_BYTES = 150  # "big" is over it, every other file under it


def _directory(tmp_path: Path) -> tuple[ResultDirectory, list[tuple[str, Any]]]:
    directory = tmp_path / "results"
    directory.mkdir()
    for task_id, data in FILES:
        (directory / f"{TASK_PREFIX}{task_id}").write_bytes(data)
    (directory / f"{TASK_PREFIX}dir").mkdir()
    names = [f"{TASK_PREFIX}{task_id}" for task_id, _ in FILES] + [f"{TASK_PREFIX}dir", f"{TASK_PREFIX}gone"]
    listing = [(name, parse_name(name)) for name in names]
    return ResultDirectory(str(directory), max_bytes=MAX_BYTES), listing


def _spy(calls: list[tuple[Any, ...]], function: Callable[..., Any]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((*args, kwargs))
        return function(*args, **kwargs)

    return spy


def _spied(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[tuple[Any, ...]]:
    """The calls of ``owner.name`` from now on (args, then the keyword arguments as a dict)."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(owner, name, _spy(calls, getattr(owner, name)))
    return calls


def test_a_first_scan_reads_plain_json_inline_and_hands_every_other_file_its_parsed_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    results, listing = _directory(tmp_path)
    # plain JSON but not ASCII: orjson's meta, summarized
    unicode = '{"status": "SUCCESS", "name": "t.café"}'.encode()
    (Path(results.path) / f"{TASK_PREFIX}unicode").write_bytes(unicode)
    listing.append((f"{TASK_PREFIX}unicode", parse_name(f"{TASK_PREFIX}unicode")))
    careful = _spied(monkeypatch, results, "read_record")
    parses = _spied(monkeypatch, scan_module, "parse_name")
    summarized = _spied(monkeypatch, scan_module, "summarize_safely")
    lean_calls: list[tuple[Any, ...]] = []  # (its arguments..., what it made)
    task_record = scan_module.task_record

    def spied_task_record(*args: Any, plain: bool) -> Any:
        made = task_record(*args, plain=plain)
        lean_calls.append((*args, plain, made))
        return made

    monkeypatch.setattr(scan_module, "task_record", spied_task_record)
    decodes = _spied(monkeypatch, scan_module, "decode")
    records = {r.task_id: r for r in results.read_summaries(listing)}
    assert len(records) == len(listing)
    # by hand: "plain", "nested", "long", "textlong" and "unicode" pass every test of the inline read
    # (a task's fields are decoded by msgspec, which keeps a long number whole), and "tagged" holds
    # its type tag in a SUCCESS's result, which no record looks at; the others read whole are
    # decoded from what was read (not read again), the rest read the careful way
    data = dict(FILES, unicode=unicode)
    decoded_here = ("spaced", "bad", "list")
    # (and the empty file, by read_record's read_full)
    assert sorted(args[0] for *args, _kw in decodes) == sorted([data[t] for t in decoded_here] + [b""])
    assert all(kw == {"allow_pickle": False, "max_bytes": MAX_BYTES} for *_args, kw in decodes if _args[0])
    assert sorted(name for name, _parsed, _ in careful) == sorted(
        f"{TASK_PREFIX}{task_id}" for task_id in ("empty", "big", "dir", "gone")
    )
    parsed_of = dict(listing)
    assert all(parsed is parsed_of[name] for name, parsed, _ in careful)  # the listing's, not parsed again
    assert parses == []
    # the inline read's two ways: a task's ASCII file (Celery's JSON) decoded by msgspec into
    # the fields a record holds (lean_summary.task_record), any other orjson's meta handed to
    # summarize (no error argument: read_record's call has one) as decode would give it
    # ("bad" is tried that way too, and refused: orjson refuses it as well, then decode says why)
    lean = {task_id: tuple(rest) for task_id, *rest in lean_calls}  # (prefix, data, size, mtime, plain, made)
    assert sorted(lean) == ["bad", "long", "nested", "plain", "tagged", "textlong", "unicode"]
    assert lean["bad"][-1] is None and lean["unicode"][-1] is None
    for task_id in ("plain", "nested", "long", "tagged", "textlong"):
        path = Path(results.file_path(f"{TASK_PREFIX}{task_id}"))
        plain = task_id != "tagged"
        assert lean[task_id][:-1] == (TASK_PREFIX, data[task_id], path.stat().st_size, path.stat().st_mtime, plain)
        assert lean[task_id][-1] is records[task_id]
    inline = {task_id: (kind, prefix, decoded, kwargs) for task_id, kind, prefix, decoded, kwargs in summarized}
    path = Path(results.file_path(f"{TASK_PREFIX}unicode"))
    kind, prefix, decoded, kwargs = inline["unicode"]
    assert (kind, prefix) == ("task", TASK_PREFIX)
    assert kwargs == {"size": path.stat().st_size, "mtime": path.stat().st_mtime}
    assert decoded == decode(data["unicode"]) and decoded.plain is True and decoded.serializer == "json"
    assert records["plain"].status == "SUCCESS" and records["nested"].status == "FAILURE"
    assert records["unicode"].name == "t.café"


def test_a_dump_reads_plain_json_inline_decodes_what_it_read_otherwise_and_reads_the_rest_carefully(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    results, listing = _directory(tmp_path)
    full_reads = _spied(monkeypatch, results, "read_full")
    decodes = _spied(monkeypatch, scan_module, "decode")
    parses = _spied(monkeypatch, scan_module, "parse_name")
    names = ["notes.txt", *(name for name, _ in listing)]
    metas = {m[0].task_id: m for m in results.read_metas(names)}
    assert len(metas) == len(listing)
    # read whole but not plain: decoded at once; not read whole: read_full (which decodes the empty file)
    data = dict(FILES)
    decoded_here = ("spaced", "tagged", "long", "bad", "list")
    assert sorted(args[0] for *args, _kw in decodes) == sorted([data[t] for t in decoded_here] + [b""])
    assert all(kw == {"allow_pickle": False, "max_bytes": MAX_BYTES} for *_args, kw in decodes if _args[0])
    careful = ("empty", "big", "dir", "gone")
    assert [(name, parsed) for name, parsed, _kw in full_reads] == [
        (f"{TASK_PREFIX}{t}", parse_name(f"{TASK_PREFIX}{t}")) for t in careful
    ]
    assert [args[0] for *args, _kw in parses] == names  # each name parsed once, not again by read_full
    # what each file reads as, and which hold JSON's own types only (by hand)
    plain = {t: m[6] for t, m in metas.items()}
    assert plain == {
        "plain": True,
        "nested": True,
        "textlong": True,
        "spaced": True,
        "tagged": False,
        "long": False,
        "bad": False,
        "list": False,
        "empty": False,
        "big": False,
        "dir": False,
        "gone": False,
    }
    assert metas["plain"][4] == {"status": "SUCCESS", "result": 2, "task_id": "plain"} and metas["plain"][5] is None
    assert metas["long"][4] == {"status": "SUCCESS", "args": [12345678901234567890123], "kwargs": {}}
    assert metas["list"][4] is None and metas["list"][5] is not None
    # kombu's tags as their repr: read inline, and plain
    decodes.clear()
    (tagged,) = results.read_metas([f"{TASK_PREFIX}tagged"], tags_as_repr=True)
    assert decodes == [] and tagged[6] is True
    assert tagged[4] == {"status": "SUCCESS", "result": "datetime.datetime(2026, 1, 1, 0, 0)"}


def test_stats_decode_without_exact_numbers_and_the_other_reads_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """--stats reads only statuses: decode skips its exact-number and type-tag steps for it."""
    results, listing = _directory(tmp_path)
    decodes = _spied(monkeypatch, scan_module, "decode")
    read_ones = 9  # every file but "big" (over max_bytes), "dir" and "gone"
    statuses = {name.task_id: status for name, status, _error in results.statuses(listing)}
    assert statuses["long"] == "SUCCESS" and [kw["exact"] for *_a, kw in decodes] == [False] * read_ones
    decodes.clear()
    metas = {name.task_id: meta for name, _status, _error, meta in results.status_metas(listing)}
    assert metas["long"] == {"status": "SUCCESS", "args": [1.2345678901234568e22], "kwargs": {}}  # a float
    assert [kw["exact"] for *_a, kw in decodes] == [False] * read_ones
    decodes.clear()
    assert len(list(results.read_all(listing))) == len(listing)
    assert [kw["exact"] for *_a, kw in decodes] == [True] * read_ones
    decodes.clear()
    assert results.read_record(f"{TASK_PREFIX}long") is not None
    assert [kw["exact"] for *_a, kw in decodes] == [True]


def test_stats_breakdowns_by_hand(tmp_path: Path):
    """status_metas (--stats' breakdowns): the meta only of files with a status or a group's result."""
    directory = tmp_path / "results"
    directory.mkdir()
    files = {
        f"{TASK_PREFIX}ok": b'{"status": "SUCCESS", "result": 1, "name": "t.ok"}',
        f"{TASK_PREFIX}nostatus": b'{"result": 1, "name": "t.odd"}',
        f"{TASK_PREFIX}yamlcut": b"children: []\ndate_done: null\n",
        "celery-taskset-meta-g": b'{"result": [["a", null], null]}',
        "celery-taskset-meta-h": b'{"status": "SUCCESS"}',
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    results = ResultDirectory(str(directory))
    rows = {
        name.task_id: (status, error.message if error is not None else None, meta)
        for name, status, error, meta in results.status_metas()
    }
    assert rows == {
        "ok": ("SUCCESS", None, {"status": "SUCCESS", "result": 1, "name": "t.ok"}),
        "nostatus": (None, "not a Celery task result: no status", None),
        "yamlcut": (None, "truncated YAML at byte 29 (no status yet)", None),
        "g": (None, None, {"result": [["a", None], None]}),
        "h": (None, "not a Celery group result: no 'result' field", None),
    }


def test_a_scan_and_the_careful_reads_parse_each_name_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    results, listing = _directory(tmp_path)
    parses = _spied(monkeypatch, scan_module, "parse_name")
    real = [(name, parsed) for name, parsed in listing if not name.endswith("gone")]
    directory_listing = results.listing()
    assert sorted(directory_listing) == sorted(real)
    assert sorted(args[0] for *args, _kw in parses) == sorted(name for name, _ in real)  # by the listing
    parses.clear()
    assert sorted(r.task_id for batch in results.scan() for r in batch) == sorted(p.task_id for _, p in real)
    assert len(parses) == len(real)  # by the listing only, not again by read_record
    parses.clear()
    assert len(list(results.read_all(listing))) == len(listing) and parses == []
    assert len(list(results.statuses(listing))) == len(listing) and parses == []


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_the_lean_read_of_an_archive_hands_on_its_parsed_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
):
    from helpers.archives import make_archive
    from taskview.results import archive as archive_module
    from taskview.results.archive import ResultArchive

    results = ResultArchive(str(make_archive(tmp_path / f"results{suffix}")))
    listing = results.listing()
    parses = _spied(monkeypatch, archive_module, "parse_name")
    monkeypatch.setattr(scan_module, "parse_name", _spy(parses, parse_name))
    assert [r.task_id for r in results.read_summaries(listing)] == [p.task_id for _, p in listing]
    assert parses == []
    names = [name for name, _ in listing]
    assert [m[0] for m in results.read_metas(names)] == [p for _, p in listing]
    assert [args[0] for *args, _kw in parses] == names  # once, by the listing it makes of them
