"""sources/scan_index.py's checks one by one, on indexes written by hand: each reason an index is not
used, and the chunks it does not trust. (test_scan_index.py covers indexes the tail writes.)"""

from __future__ import annotations

import json
import os
import zlib
from importlib.metadata import version
from pathlib import Path

import pytest

from taskview.results.record import ROW_FIELDS, TaskRecord, records_to_batch
from taskview.sources.scan_index import (
    KEY_LINE_START,
    VERSION,
    Header,
    IndexProblem,
    IndexWriter,
    ShareWalk,
    _decode_key,
    cache_dir,
    index_name,
    key_line,
    key_of,
    load_share,
    open_index,
    read_header,
)

MAX = 1 << 20


def record(task_id: str, mtime: float = 100.0, error=None) -> TaskRecord:
    from taskview.results.problems import Problem, ProblemKind

    problem = Problem(ProblemKind.TRUNCATED, "truncated JSON", " at byte 3") if error else None
    return TaskRecord(task_id, "celery-task-meta-", "SUCCESS", "proj.add", "w1", "1, 2", 50.0, mtime, 10, problem)


def header_of(directory: Path, **changes) -> dict:
    st = os.stat(directory)
    header = {
        "format": "taskview-scan-index",
        "version": VERSION,
        "taskview": version("taskview"),
        "fields": list(ROW_FIELDS),
        "dev": st.st_dev,
        "ino": st.st_ino,
        "max_bytes": MAX,
        "path": str(directory),
        "racy_after": 1000.0,
    }
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def index_bytes(header: dict, lines: list[bytes], table: list | None = None, table_at: int | None = None) -> bytes:
    """An index as the writer lays it out: header, lines, table of chunks, trailer (the table's offset)."""
    data = json.dumps(header).encode() + b"\n"
    chunks = []
    for line, (first, last) in lines:
        chunks.append([first, last, len(data), len(line), zlib.crc32(line)])
        data += line
    at = len(data)
    data += json.dumps({"chunks": chunks if table is None else table}).encode() + b"\n"
    return data + b"%016x\n" % (at if table_at is None else table_at)


def batch_line(*records: TaskRecord) -> tuple[bytes, tuple[str, str]]:
    line = json.dumps(records_to_batch(list(records))).encode() + b"\n"
    return line, (records[0].task_id, records[-1].task_id)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "results").mkdir()
    return tmp_path / "results"


def why(directory: Path, data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "index"
    path.write_bytes(data)
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(IndexProblem) as raised:
            read_header(fd, st.st_dev, st.st_ino, MAX)
    finally:
        os.close(fd)
    return str(raised.value)


def test_a_good_index_by_hand_is_read(directory: Path, tmp_path: Path):
    one = batch_line(record("a1"), record("a2"))
    two = batch_line(record("b1"), record("b2", mtime=2000.0), record("b3", mtime=1000.0))
    path = tmp_path / "index"
    path.write_bytes(index_bytes(header_of(directory), [one, two]))
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        header = read_header(fd, st.st_dev, st.st_ino, MAX)
        assert header.racy_after == 1000.0 and header.max_bytes == MAX
        assert [c[:2] for c in header.chunks] == [("a1", "a2"), ("b1", "b3")]
        found, corrupt = load_share(fd, header, None, None)
        assert sorted(found) == ["a1", "a2", "b1"] and corrupt == 0  # b2 and b3 changed at or after racy_after
        assert found["a1"].name == "proj.add" and found["a1"].args == "1, 2" and found["a1"].mtime == 100.0
        found, _ = load_share(fd, header, "a2", "b1")  # [low, high)
        assert sorted(found) == ["a2"]
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"format": "something-else"}, "not a taskview scan index"),
        ({"version": VERSION + 1}, f"another version: {VERSION + 1}, this is {VERSION}"),
        ({"taskview": "0.0.1"}, "another taskview: '0.0.1', this is "),
        ({"fields": ["task_id"]}, "another fields: ['task_id'], this is "),
        ({"dev": 1}, "written for another directory (device and inode differ)"),
        ({"ino": 1}, "written for another directory (device and inode differ)"),
        ({"max_bytes": MAX + 1}, "written with another --max-bytes"),
        ({"racy_after": None}, "no racy_after in the header"),
        ({"racy_after": 1000}, "no racy_after in the header"),  # an int: not what the writer writes
    ],
)
def test_each_header_field_is_checked(directory: Path, tmp_path: Path, changes: dict, reason: str):
    data = index_bytes(header_of(directory, **changes), [batch_line(record("a1"))])
    assert why(directory, data, tmp_path).startswith(reason)


def test_a_header_that_is_no_object(directory: Path, tmp_path: Path):
    assert why(directory, b'["taskview-scan-index"]\n', tmp_path) == "not a taskview scan index"
    assert why(directory, b"no newline at all", tmp_path) == "no header line"
    assert why(directory, b"\n" + b" " * 40, tmp_path) == "corrupt: JSONDecodeError"  # an empty first line


def test_an_index_cut_short_or_with_its_table_out_of_place(directory: Path, tmp_path: Path):
    head = json.dumps(header_of(directory)).encode() + b"\n"
    assert why(directory, head + b"0" * 16, tmp_path) == "cut short"  # shorter than a trailer after the header
    assert why(directory, head + b"%016x\n" % len(head), tmp_path).startswith("corrupt")  # an empty table
    good = index_bytes(header_of(directory), [batch_line(record("a1"))])
    assert why(directory, good[:-1] + b" ", tmp_path) == "cut short (no trailer)"
    assert why(directory, good[:-17] + b"000000000000000g\n", tmp_path) == "cut short (no trailer)"
    assert why(directory, good[:-17] + b"%016X\n" % 0xAB, tmp_path) == "cut short (no trailer)"  # upper case
    assert why(directory, good[:-17] + b"00000000000000X0\n", tmp_path) == "cut short (no trailer)"
    out = "cut short (its table is out of the file)"
    assert why(directory, good[:-17] + b"%016x\n" % (len(head) - 1), tmp_path) == out  # in the header
    assert why(directory, good[:-17] + b"%016x\n" % (len(good) - 16), tmp_path) == out  # in the trailer


def test_a_chunk_out_of_place_is_corruption(directory: Path, tmp_path: Path):
    line, _ = batch_line(record("a1"))
    head_len = len(json.dumps(header_of(directory)).encode()) + 1
    for chunk in (
        ["a1", "a1", head_len - 1, len(line), 0],  # starts in the header
        ["a1", "a1", head_len, len(line) + 1, 0],  # runs into the table
        ["b", "a", head_len, len(line), 0],  # its first id after its last
    ):
        data = index_bytes(header_of(directory), [(line, ("a1", "a1"))], table=[chunk])
        assert why(directory, data, tmp_path) == "corrupt: a chunk out of place", chunk
    exactly = ["a1", "a1", head_len, len(line), 0]  # from the header's end to the table's start
    at_the_edges = index_bytes(header_of(directory), [(line, ("a1", "a1"))], table=[exactly])
    assert why_not(directory, at_the_edges, tmp_path) is None
    # A key's place (three numbers more) is checked as its line's is.
    half = len(line) // 2
    for chunk in (
        ["a1", "a1", head_len, half, 0, head_len - 1, 5, 0],  # its key starts in the header
        ["a1", "a1", head_len, half, 0, head_len + half, len(line) - half + 1, 0],  # runs into the table
    ):
        data = index_bytes(header_of(directory), [(line, ("a1", "a1"))], table=[chunk])
        assert why(directory, data, tmp_path) == "corrupt: a chunk out of place", chunk
    keyed = ["a1", "a1", head_len, half, 0, head_len + half, len(line) - half, 0]
    assert (
        why_not(directory, index_bytes(header_of(directory), [(line, ("a1", "a1"))], table=[keyed]), tmp_path) is None
    )
    for numbers in (6, 7, 9):  # a key is three numbers, or none
        entry = [*keyed, 0][:numbers]
        data = index_bytes(header_of(directory), [(line, ("a1", "a1"))], table=[entry])
        assert why(directory, data, tmp_path) == "corrupt: ValueError", entry


def why_not(directory: Path, data: bytes, tmp_path: Path) -> str | None:
    path = tmp_path / "index"
    path.write_bytes(data)
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        read_header(fd, st.st_dev, st.st_ino, MAX)
    except IndexProblem as exc:
        return str(exc)
    finally:
        os.close(fd)
    return None


def test_chunks_that_match_their_crc_but_not_their_table_are_corrupt(directory: Path, tmp_path: Path):
    outside = batch_line(record("a1"), record("a9"))[0]  # holds a9, the table says a1 to a5
    good = batch_line(record("b1"))
    not_a_batch = b'{"strings": 1}\n'
    bad_crc = batch_line(record("d1"))[0]
    outside_again = batch_line(record("e1"), record("e9"))[0]
    data = index_bytes(header_of(directory), [(outside, ("a1", "a5")), good, (not_a_batch, ("c1", "c1"))])
    head_len = data.index(b"\n") + 1
    body = data[head_len : data.rindex(b'{"chunks"')]
    table = json.loads(data[data.rindex(b'{"chunks"') : -17])["chunks"]
    # one more chunk whose CRC the table gets wrong, and one more out of its range (each kind twice over)
    table.append(["d1", "d1", head_len + len(body), len(bad_crc), zlib.crc32(bad_crc) ^ 1])
    body += bad_crc
    table.append(["e1", "e5", head_len + len(body), len(outside_again), zlib.crc32(outside_again)])
    body += outside_again
    data = data[:head_len] + body + json.dumps({"chunks": table}).encode() + b"\n"
    data += b"%016x\n" % (head_len + len(body))
    path = tmp_path / "index"
    path.write_bytes(data)
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        header = read_header(fd, st.st_dev, st.st_ino, MAX)
        found, corrupt = load_share(fd, header, None, None)
    finally:
        os.close(fd)
    assert corrupt == 4 and sorted(found) == ["b1"]


def test_a_name_that_is_not_utf_8_crosses_escaped(directory: Path, tmp_path: Path):
    odd = "a\udcff"  # a file name's undecodable byte, kept as a surrogate: orjson refuses it
    line = json.dumps(records_to_batch([record(odd)])).encode() + b"\n"
    data = index_bytes(header_of(directory), [(line, (odd, odd))])
    path = tmp_path / "index"
    path.write_bytes(data)
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        found, corrupt = load_share(fd, read_header(fd, st.st_dev, st.st_ino, MAX), None, None)
    finally:
        os.close(fd)
    assert list(found) == [odd] and corrupt == 0


def test_a_walk_with_no_chunk_in_its_share(directory: Path):
    for header in (Header(0, 0, MAX, 1000.0, []), Header(0, 0, MAX, 1000.0, [("a", "b", 10, 5, 0)])):
        walk = ShareWalk(-1, header, "c", None)  # never reads: no chunk overlaps [c, ...)
        assert walk.get("c1") is None and walk.get("d") is None and walk.records() == []
        assert walk.problem is None and walk.corrupt == 0


def test_rows_with_an_error_are_not_trusted(directory: Path, tmp_path: Path):
    data = index_bytes(header_of(directory), [batch_line(record("a1", error=True), record("a2"))])
    path = tmp_path / "index"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.stat(directory)
        found, corrupt = load_share(fd, read_header(fd, st.st_dev, st.st_ino, MAX), None, None)
    finally:
        os.close(fd)
    assert sorted(found) == ["a2"] and corrupt == 0


def test_an_index_that_cannot_be_read_any_more(directory: Path):
    fd = os.open(directory, os.O_RDONLY)  # reads of a directory fail (EISDIR)
    try:
        with pytest.raises(IndexProblem, match="^cannot read it: Is a directory$"):
            read_header(fd, 0, 0, MAX)
        header = Header(0, 0, MAX, 1000.0, [("a", "b", 10, 5, 0, None), ("c", "d", 15, 5, 0, None)])
        walk = ShareWalk(fd, header, None, None)
        assert walk.get("a") is None and walk.get("c") is None  # nothing more taken from it
        assert walk.problem == "cannot read it: Is a directory"
        with pytest.raises(IndexProblem, match="^cannot read it: Is a directory$"):
            load_share(fd, header, None, None)
    finally:
        os.close(fd)


def test_open_index_of_what_is_not_there(directory: Path, tmp_path: Path, caplog):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    assert open_index(str(tmp_path / "no-such-directory"), str(cache), MAX) is None
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert open_index(str(directory), str(cache), MAX) is None  # no index yet: no line
        assert caplog.text == ""
        st = os.stat(directory)
        (cache / index_name(st.st_dev, st.st_ino)).mkdir()
        assert open_index(str(directory), str(cache), MAX) is None
    assert "ignored: not a regular file" in caplog.text


def test_the_writer_adds_a_newline_skips_empty_batches_and_can_discard(directory: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    writer = IndexWriter(str(directory), str(cache), MAX, 2000.0)
    line, _ = batch_line(record("a1"))
    writer.add(line[:-1], [record("a1")])  # the newline added
    writer.add(b"ignored", [])
    (temporary,) = cache.iterdir()  # written beside the index, under a name _tidy knows
    assert temporary.name.startswith(".scan-") and temporary.name.endswith(".tmp")
    assert writer.commit()
    data = Path(writer.path).read_bytes()
    head, rest = data.split(b"\n", 1)
    assert json.loads(head)["racy_after"] == 1998.0  # two seconds before the scan began
    assert rest.startswith(line) and b"ignored" not in data
    discarded = IndexWriter(str(directory), str(cache), MAX, 2000.0)
    discarded.add(line, [record("a1")])
    discarded.discard()
    assert not discarded.writing and not discarded.commit()
    assert sorted(p.name for p in cache.iterdir()) == [Path(writer.path).name]  # its temporary removed
    discarded.discard()  # twice: nothing to do


def test_what_the_debug_lines_say(directory: Path, tmp_path: Path, caplog, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    st = os.stat(directory)
    path = cache / index_name(st.st_dev, st.st_ino)
    path.symlink_to(tmp_path / "elsewhere")
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert open_index(str(directory), str(cache), MAX) is None
    assert caplog.messages == [f"scan index {path} ignored: cannot open it: Too many levels of symbolic links"]
    caplog.clear()
    path.unlink()
    path.write_bytes(b"")
    path.chmod(0o640)
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert open_index(str(directory), str(cache), MAX) is None
    uid = os.geteuid()
    assert caplog.messages == [f"scan index {path} ignored: not the user's own with mode 0600 (uid {uid}, mode 640)"]
    caplog.clear()
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert not IndexWriter(str(directory), str(blocker / "taskview"), MAX, 2000.0).writing
    assert caplog.messages == [f"scan index not written: cannot write in {blocker}/taskview: Not a directory"]


def test_the_cache_directory_without_xdg(monkeypatch):
    home = os.path.join(os.path.expanduser("~"), ".cache", "taskview")
    assert cache_dir({"HOME": "/elsewhere"}) == home  # no XDG_CACHE_HOME: the home's .cache
    assert cache_dir({"XDG_CACHE_HOME": ""}) == home
    monkeypatch.setenv("XDG_CACHE_HOME", "/from/the/environment")
    assert cache_dir() == "/from/the/environment/taskview"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == home


def test_the_writers_layout_byte_by_byte(directory: Path, tmp_path: Path):
    writer = IndexWriter(str(directory), str(tmp_path / "cache"), MAX, 2000.0)
    one, _ = batch_line(record("a1"))
    two, _ = batch_line(record("b1"))
    writer.add(one, [record("a1")])  # already ends with a newline: written as it is
    writer.add(two[:-1], [record("b1")])
    assert writer.commit()
    data = Path(writer.path).read_bytes()
    head_len = data.index(b"\n") + 1
    assert data[head_len : head_len + len(one) + len(two)] == one + two
    table = json.dumps(
        {
            "chunks": [
                ["a1", "a1", head_len, len(one), zlib.crc32(one)],
                ["b1", "b1", head_len + len(one), len(two), zlib.crc32(two)],
            ]
        }
    ).encode()
    assert data[head_len + len(one) + len(two) :] == table + b"\n" + b"%016x\n" % (head_len + len(one) + len(two))


def test_a_write_that_fails_ends_the_index_and_says_why(directory: Path, tmp_path: Path, caplog, monkeypatch):
    cache = tmp_path / "cache"
    writer = IndexWriter(str(directory), str(cache), MAX, 2000.0)

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        writer.add(batch_line(record("a1"))[0], [record("a1")])
    monkeypatch.undo()
    assert caplog.messages == ["scan index not written: cannot write: No space left on device"]
    assert not writer.writing and not writer.commit() and list(cache.iterdir()) == []
    caplog.clear()
    other = IndexWriter(str(directory), str(cache), MAX, 2000.0)
    other.add(batch_line(record("a1"))[0], [record("a1")])

    def cross_device(source: str, target: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", cross_device)
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert other.commit() is False
    assert caplog.messages == ["scan index not written: cannot write: Invalid cross-device link"]
    assert list(cache.iterdir()) == []  # the temporary removed


def test_a_cache_directory_others_may_enter_but_not_write_in_is_used(directory: Path, tmp_path: Path, caplog):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o711)
    (cache / "old-notes.tmp").write_text("")  # not a temporary of ours, however old
    os.utime(cache / "old-notes.tmp", (0, 0))
    writer = IndexWriter(str(directory), str(cache), MAX, 2000.0)
    assert writer.writing and writer.commit()
    assert (cache / "old-notes.tmp").exists()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with caplog.at_level("DEBUG", logger="taskview.sources.scan_index"):
        assert not IndexWriter(str(directory), str(shared), MAX, 2000.0).writing
    assert caplog.messages == [
        f"scan index not written: cannot write in {shared}: {shared} is not a private directory of the user's own"
    ]


def two_rows() -> dict:
    """A reader's batch line of a1 (SUCCESS) and a2 (FAILURE, with an exception line and a group),
    as records_to_batch makes it."""
    return {
        "strings": ["celery-task-meta-", "SUCCESS", "FAILURE", "proj.add", "w1"],
        "columns": [
            ["a1", "a2"],  # task_id
            [0, 0],  # prefix
            [1, 2],  # status
            [3, 3],  # name
            [4, 4],  # worker
            ["1, 2", "1, 2"],  # args
            [50.0, 50.0],  # date_done
            [100.0, 100.0],  # mtime
            [10, 10],  # size
            [None, None],  # error
            [None, None],  # running
        ],
        "links": [["ValueError: bad", "g-1", None, None, []]],
        "linked": [[1], [0]],
    }


def walk_one_chunk(directory: Path, tmp_path: Path, line: bytes) -> tuple[dict[str, TaskRecord], int]:
    """load_share of an index of one chunk (ids a1 to a2) holding ``line``, its CRC right."""
    path = tmp_path / "index"
    path.write_bytes(index_bytes(header_of(directory), [(line, ("a1", "a2"))]))
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        return load_share(fd, read_header(fd, st.st_dev, st.st_ino, MAX), None, None)
    finally:
        os.close(fd)


def test_a_batch_by_hand_is_read_and_one_without_links_too(directory: Path, tmp_path: Path):
    found, corrupt = walk_one_chunk(directory, tmp_path, json.dumps(two_rows()).encode() + b"\n")
    assert corrupt == 0 and sorted(found) == ["a1", "a2"]
    assert (found["a2"].status, found["a2"].name, found["a2"].exc, found["a2"].group_id) == (
        "FAILURE",
        "proj.add",
        "ValueError: bad",
        "g-1",
    )
    batch = two_rows()
    del batch["links"], batch["linked"]  # the readers' batches need neither (records_from_batch)
    found, corrupt = walk_one_chunk(directory, tmp_path, json.dumps(batch).encode() + b"\n")
    assert corrupt == 0 and sorted(found) == ["a1", "a2"] and found["a2"].exc is None


def _changed(change) -> bytes:
    batch = two_rows()
    change(batch)
    return json.dumps(batch).encode() + b"\n"


def _set(path: tuple, value):
    def change(batch: dict) -> None:
        *parents, last = path
        held = batch
        for key in parents:
            held = held[key]
        held[last] = value

    return change


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"[1, 2]\n", id="not an object"),
        pytest.param(b'{"columns": [\n', id="not JSON"),
        pytest.param(_changed(_set(("strings",), "abcde")), id="strings not a list"),
        pytest.param(_changed(_set(("strings", 4), 4)), id="a string that is not one"),
        pytest.param(_changed(_set(("columns", 9), [None])), id="a column shorter than the others"),
        pytest.param(_changed(_set(("columns", 5), "xy")), id="a column not a list"),
        pytest.param(_changed(_set(("columns", 7, 1), "100.0")), id="a column of another type"),
        pytest.param(_changed(_set(("columns", 3, 1), 5)), id="a name past the strings"),
        pytest.param(_changed(_set(("columns", 3, 1), -2)), id="a name before the strings"),
        pytest.param(_changed(_set(("columns", 1, 1), -1)), id="a row without a prefix"),
        pytest.param(_changed(_set(("links",), {})).replace(b"[[1], [0]]", b"[[], []]"), id="links not a list"),
        pytest.param(_changed(_set(("linked",), [[1], [0], []])), id="linked not a pair"),
        pytest.param(_changed(_set(("linked",), [{}, []])), id="linked rows not a list"),
        pytest.param(_changed(_set(("linked",), [[0, 1], [0]])), id="more linked rows than links named"),
        pytest.param(_changed(_set(("linked",), [[1], [0.0]])), id="a link named by no int"),
        pytest.param(_changed(_set(("linked",), [[2], [0]])), id="a linked row past the batch"),
        pytest.param(_changed(_set(("linked",), [[-1], [0]])), id="a linked row before the batch"),
        pytest.param(_changed(_set(("linked",), [[1], [1]])), id="a link past the links"),
        pytest.param(_changed(_set(("linked",), [[1], [-1]])), id="a link before the links"),
        pytest.param(_changed(_set(("links", 0), ["ValueError: bad", "g-1", None, None])), id="a link of four fields"),
    ],
)
def test_a_chunk_that_is_no_well_formed_batch_is_corrupt(directory: Path, tmp_path: Path, line: bytes):
    """Each check of a chunk's batch alone: its CRC is right, so only the batch's shape tells."""
    assert walk_one_chunk(directory, tmp_path, line) == ({}, 1)


def key_bytes(**key) -> bytes:
    base = {"ids": "a1/a2/a3", "mtimes": [1.0, 2.0, 3.0], "sizes": [5, 6, 7], "census": {"SUCCESS": 3}}
    base.update(errors=0, odd=[])
    base.update(key)
    return json.dumps({"key": {k: v for k, v in base.items() if v is not None}}).encode() + b"\n"


@pytest.mark.parametrize(
    ("key", "whole"),
    [
        pytest.param({}, True, id="a whole key"),
        pytest.param({"errors": 3}, True, id="every row with an error"),
        pytest.param({"odd": [[2, "celery-taskset-meta-"]]}, True, id="its last row another prefix"),
        pytest.param({"census": {}}, True, id="nothing counted"),
        pytest.param({"ids": ""}, False, id="no ids"),
        pytest.param({"ids": "a0/a2/a3"}, False, id="its first id not the table's"),
        pytest.param({"ids": "a1/a2/a4"}, False, id="its last id not the table's"),
        pytest.param({"mtimes": [1.0, 2.0]}, False, id="an mtime short"),
        pytest.param({"sizes": [5, 6]}, False, id="a size short"),
        pytest.param({"sizes": [5, 6, 7, 8]}, False, id="a size more"),
        pytest.param({"errors": 4}, False, id="more rows with an error than rows"),
        pytest.param({"errors": -1}, False, id="errors below none"),
        pytest.param({"census": {"SUCCESS": -1}}, False, id="a count below nothing"),
        pytest.param({"odd": [[2, "x"], [1, "y"]]}, False, id="odd rows not ascending"),
        pytest.param({"odd": [[1, "x"], [1, "y"]]}, False, id="an odd row twice"),
        pytest.param({"odd": [[-1, "x"]]}, False, id="an odd row before the rows"),
        pytest.param({"odd": [[3, "x"]]}, False, id="an odd row past the rows"),
        pytest.param({"odd": [[0, 7]]}, False, id="a prefix that is no string"),
        pytest.param({"mtimes": [1, True, 3]}, False, id="an mtime that is no number"),
        pytest.param({"census": None}, False, id="no census"),
    ],
)
def test_a_chunks_key_is_taken_only_when_whole(key: dict, whole: bool):
    decoded = _decode_key(key_bytes(**key), "a1", "a3")
    assert (decoded is not None) == whole
    if whole:
        assert decoded is not None and decoded[0].ids.split("/") == decoded[1] == ["a1", "a2", "a3"]


def test_a_key_of_a_name_that_is_not_utf_8_crosses_escaped(directory: Path):
    """Its id carries surrogates (os.fsdecode of the file's bytes), which msgspec and orjson
    refuse: the key line is written and read back escaped, as batch lines are."""
    odd_id = os.fsdecode(b"\xff\xfe-task")
    batch = records_to_batch([record(odd_id), record("zz")])
    line = key_line(batch)
    assert line.startswith(KEY_LINE_START) and line.endswith(b"\n") and line.isascii()
    decoded = _decode_key(line, odd_id, "zz")
    assert decoded is not None and decoded == (key_of(batch), [odd_id, "zz"])


def test_the_writer_keeps_each_key_after_its_line_newline_and_all(directory: Path, tmp_path: Path):
    """A key comes off the pipe without its newline (lines are split on it): kept with one."""
    writer = IndexWriter(str(directory), str(tmp_path), MAX, 2000.0)
    records = [record("a1"), record("a2")]
    batch = records_to_batch(records)
    line, key = json.dumps(batch).encode(), key_line(batch)
    writer.add(line, records, key.rstrip(b"\n"))
    assert writer.commit()
    st = os.stat(directory)
    fd = os.open(writer.path, os.O_RDONLY)
    try:
        header = read_header(fd, st.st_dev, st.st_ino, MAX)
        [(first, last, offset, length, _, (key_at, key_length, _))] = header.chunks
        assert os.pread(fd, length, offset) == line + b"\n" and os.pread(fd, key_length, key_at) == key
        walk = ShareWalk(fd, header, None, None)
        assert walk.get("a2") is not None and walk.chunk is not None and walk.chunk.key == key_of(batch)
    finally:
        os.close(fd)


def test_a_line_that_lines_up_with_its_key_but_is_no_batch_is_never_taken(directory: Path, tmp_path: Path):
    """Its ids, mtimes and sizes are its key's, but a name points past its strings: its rows are
    not taken (its files are read)."""
    records = [record("a1"), record("a2")]
    batch = records_to_batch(records)
    key = key_line(batch)
    batch["columns"][3] = [0, 99]  # the second row's name, past the strings
    writer = IndexWriter(str(directory), str(tmp_path), MAX, 2000.0)
    writer.add(json.dumps(batch).encode(), records, key)
    assert writer.commit()
    st = os.stat(directory)
    fd = os.open(writer.path, os.O_RDONLY)
    try:
        walk = ShareWalk(fd, read_header(fd, st.st_dev, st.st_ino, MAX), None, None)
        assert walk.get("a1") is None and walk.chunk is not None and walk.chunk.batch is None and walk.corrupt == 1
    finally:
        os.close(fd)


def test_every_chunk_without_a_key_that_is_no_batch_is_counted(directory: Path, tmp_path: Path):
    path = tmp_path / "index"
    path.write_bytes(index_bytes(header_of(directory), [(b"[1, 2]\n", ("a1", "a2")), (b"[3]\n", ("b1", "b2"))]))
    st = os.stat(directory)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert load_share(fd, read_header(fd, st.st_dev, st.st_ino, MAX), None, None) == ({}, 2)
    finally:
        os.close(fd)
