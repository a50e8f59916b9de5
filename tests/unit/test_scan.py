"""One result directory (results/scan.py): listing it, reading records in batches, reading one file in full."""

from __future__ import annotations

import os
import pickle
import shutil
import zlib
from pathlib import Path

import msgspec

from helpers.archives import make_archive
from helpers.samples import SAMPLE_NAMES, SAMPLE_RESULTS
from helpers.unsafe_inputs import progress_that_breaks_summaries
from taskview.results.archive import ResultArchive
from taskview.results.codec import COMPRESSED_MAGIC
from taskview.results.files import TASK_PREFIX, parse_name
from taskview.results.problems import ProblemKind
from taskview.results.scan import FullRead, ResultDirectory, parsed_listing

ALL_IDS = sorted(name.partition("-meta-")[2] for name in SAMPLE_NAMES)


def copy_of_samples(tmp_path: Path) -> Path:
    directory = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, directory)
    (directory / "notes.txt").write_text("not a result")
    (directory / ".fs-backend-probe").write_bytes(b"")
    return directory


def test_a_record_that_cannot_be_summarized_is_an_unreadable_row(tmp_path: Path):
    directory = tmp_path / "results"
    directory.mkdir()
    (directory / f"{TASK_PREFIX}odd").write_bytes(progress_that_breaks_summaries("odd"))
    results = ResultDirectory(str(directory), allow_pickle=True)
    record = results.read_record(f"{TASK_PREFIX}odd")
    assert record is not None and (record.task_id, record.prefix) == ("odd", TASK_PREFIX)
    st = (directory / f"{TASK_PREFIX}odd").stat()
    assert record.size == st.st_size and record.mtime == st.st_mtime
    assert record.error is not None and record.error.kind is ProblemKind.INVALID
    assert record.error.message == "cannot summarize: ArithmeticError"
    assert record.status is None


def test_scan_gives_every_result_file_in_batches_of_the_size_asked(tmp_path: Path):
    results = ResultDirectory(str(copy_of_samples(tmp_path)))
    batches = list(results.scan(batch_size=5))
    count = len(ALL_IDS)
    assert [len(b) for b in batches] == [5] * (count // 5) + ([count % 5] if count % 5 else [])
    assert sorted(r.task_id for b in batches for r in b) == ALL_IDS
    assert [len(b) for b in results.scan()] == [count]  # one batch: fewer than the default size


def test_scan_of_an_empty_directory_gives_no_batch(tmp_path: Path):
    assert list(ResultDirectory(str(tmp_path)).scan()) == []


def test_scan_batches_are_five_thousand_by_default(tmp_path: Path):
    source = SAMPLE_RESULTS / SAMPLE_NAMES[0]
    for n in range(5001):
        os.link(source, tmp_path / f"{TASK_PREFIX}{n:05d}")
    assert [len(b) for b in ResultDirectory(str(tmp_path)).scan()] == [5000, 1]


def test_listing_and_names(tmp_path: Path):
    directory = copy_of_samples(tmp_path)
    results = ResultDirectory(str(directory))
    listing = results.listing()
    assert sorted(parsed.task_id for _name, parsed in listing) == ALL_IDS
    assert all(parse_name(name) == parsed for name, parsed in listing)
    assert list(results.iter_names()) == listing
    assert sorted(results.entry_names()) == sorted([*SAMPLE_NAMES, "notes.txt", ".fs-backend-probe"])
    assert parsed_listing(results.entry_names()) == listing
    assert results.file_path(SAMPLE_NAMES[0]) == str(directory / SAMPLE_NAMES[0])
    relative = ResultDirectory(os.path.relpath(directory))
    assert relative.path == str(directory)


def test_reading_one_file_in_full(tmp_path: Path):
    directory = copy_of_samples(tmp_path)
    results = ResultDirectory(str(directory))
    name = SAMPLE_NAMES[0]
    full = results.read_full(name)
    assert isinstance(full, FullRead) and full.name == parse_name(name) and full.path == str(directory / name)
    assert full.error is None and full.meta is not None and full.meta["task_id"] == parse_name(name).task_id
    with results.held_open():
        with results.held_open():  # already open: the same descriptor
            inner = results.read_full(name)
        assert results._dir_fd is not None
    assert results._dir_fd is None
    assert inner.meta == full.meta and inner.read == full.read
    assert results.read_full("notes.txt") is None and results.read_record("notes.txt") is None
    (directory / name).write_bytes(b"[1]")
    bad = results.read_full(name)
    assert bad.meta is None and bad.error is not None and bad.error.kind is ProblemKind.NOT_A_RESULT
    (directory / name).unlink()
    gone = results.read_full(name)
    assert gone.decoded is None and gone.meta is None and gone.error.kind is ProblemKind.GONE


def test_statuses_are_what_the_records_say(tmp_path: Path):
    directory = copy_of_samples(tmp_path)
    (directory / f"{TASK_PREFIX}cut").write_bytes(b'{"status": "SUC')
    (directory / f"{TASK_PREFIX}yamlcut").write_bytes(b"children: []\ndate_done: null\n")  # cut before status
    (directory / f"{TASK_PREFIX}dir").mkdir()
    results = ResultDirectory(str(directory))
    records = {r.task_id: r for batch in results.scan() for r in batch}
    statuses = {name.task_id: (status, error) for name, status, error in results.statuses()}
    assert statuses.keys() == records.keys()
    for task_id, record in records.items():
        assert statuses[task_id] == (record.status, record.error), task_id
    assert statuses["dir"][1].kind is ProblemKind.NOT_A_FILE and statuses["cut"][1].kind is ProblemKind.TRUNCATED
    assert statuses["yamlcut"][1].message == "truncated YAML at byte 29 (no status yet)"
    listing = [(n, p) for n, p in results.listing() if p.task_id == "cut"]
    assert [(name.task_id, status) for name, status, _ in results.statuses(listing)] == [("cut", None)]


def test_the_lean_read_of_a_first_scan_gives_every_file_the_record_of_the_careful_read(tmp_path: Path):
    """read_summaries (a big directory's first scan) reads the common file its own way and
    any other as read_record does: the rows are the same either way, file by file."""
    directory = copy_of_samples(tmp_path)
    odd = {
        "empty": b"",
        "cut": b'{"status": "SUC',
        "list": b"[1, 2]",
        "number": b'{"status": "SUCCESS", "result": 1}',
        "spaced": b' {"status": "RETRY", "task_id": "spaced"}',
        "long": b'{"status": "SUCCESS", "args": [12345678901234567890123], "kwargs": {}, "name": "t.big"}',
        "tagged": b'{"status": "SUCCESS", "result": {"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}}',
        "when": b'{"status": "SUCCESS", "args": [{"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}]}',
        "bad": b'{"status": "SUCCESS",, }',
        "pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.",
        "two": b"{}",
    }
    for task_id, data in odd.items():
        (directory / f"{TASK_PREFIX}{task_id}").write_bytes(data)
    (directory / f"{TASK_PREFIX}dir").mkdir()
    os.mkfifo(directory / f"{TASK_PREFIX}fifo")
    listing = [*ResultDirectory(str(directory)).listing(), (f"{TASK_PREFIX}gone", parse_name(f"{TASK_PREFIX}gone"))]
    for max_bytes in (1 << 20, len(odd["long"]), len(odd["long"]) - 1):
        results = ResultDirectory(str(directory), max_bytes=max_bytes)
        lean = {r.task_id: msgspec.to_builtins(r) for r in results.read_summaries(listing)}
        careful = {p.task_id: msgspec.to_builtins(results.read_record(name, p)) for name, p in listing}
        assert lean == careful, max_bytes
    records = {r.task_id: r for r in ResultDirectory(str(directory)).read_summaries(listing)}
    assert len(records) == len(ALL_IDS) + len(odd) + 3
    # By hand: what each odd file reads as.
    kinds = {task_id: r.error.kind if r.error is not None else r.status for task_id, r in records.items()}
    assert kinds["empty"] is ProblemKind.EMPTY and kinds["cut"] is ProblemKind.TRUNCATED
    assert kinds["list"] is ProblemKind.NOT_A_RESULT and kinds["bad"] is ProblemKind.INVALID
    assert kinds["dir"] is ProblemKind.NOT_A_FILE and kinds["fifo"] is ProblemKind.NOT_A_FILE
    assert kinds["gone"] is ProblemKind.GONE and kinds["pickle"] is ProblemKind.PICKLE_REFUSED
    assert (kinds["number"], kinds["spaced"], kinds["tagged"]) == ("SUCCESS", "RETRY", "SUCCESS")
    assert records["long"].args is not None and "12345678901234567890123" in records["long"].args  # exact
    assert records["long"].size == len(odd["long"]) and records["long"].name == "t.big"
    assert records["when"].args == "datetime.datetime(2026, 1, 1, 0, 0)"  # kombu's type tag, decoded
    # A file as big as the bound is read; one byte over, it is refused.
    long_only = [(name, parsed) for name, parsed in listing if parsed.task_id == "long"]
    at_bound = ResultDirectory(str(directory), max_bytes=len(odd["long"]))
    assert [(r.status, r.error) for r in at_bound.read_summaries(long_only)] == [("SUCCESS", None)]
    over = ResultDirectory(str(directory), max_bytes=len(odd["long"]) - 1)
    assert [r.error.kind for r in over.read_summaries(long_only) if r.error is not None] == [ProblemKind.TOO_LARGE]
    sample = next(r for r in records.values() if r.task_id == SAMPLE_NAMES[0].partition("-meta-")[2])
    path = directory / SAMPLE_NAMES[0]
    assert (sample.status, sample.size, sample.mtime) == ("FAILURE", path.stat().st_size, path.stat().st_mtime)


def test_the_lean_read_of_an_archive_is_its_careful_read(tmp_path: Path):
    archive = make_archive(tmp_path / "results.zip", extra=[(f"results/{TASK_PREFIX}cut", b'{"status": "SUC')])
    results = ResultArchive(str(archive))
    listing = results.listing()
    lean = [msgspec.to_builtins(r) for r in results.read_summaries(listing)]
    assert lean == [msgspec.to_builtins(results.read_record(name, parsed)) for name, parsed in listing]
    assert len(lean) == len(ALL_IDS) + 1


def test_the_lean_read_of_a_dump_gives_every_file_what_the_careful_read_does(tmp_path: Path):
    """read_metas (--dump) reads the common file its own way and any other as read_full does."""
    directory = copy_of_samples(tmp_path)
    odd = {
        "empty": b"",
        "cut": b'{"status": "SUC',
        "list": b"[1, 2]",
        "spaced": b' {"status": "RETRY", "task_id": "spaced"}',
        "long": b'{"status": "SUCCESS", "args": [12345678901234567890123], "kwargs": {}, "name": "t.big"}',
        "bad": b'{"status": "SUCCESS",, }',
        "pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.",
    }
    for task_id, data in odd.items():
        (directory / f"{TASK_PREFIX}{task_id}").write_bytes(data)
    (directory / f"{TASK_PREFIX}dir").mkdir()
    # Names as a listing gives them: strangers first, one gone since.
    names = ["notes.txt", ".fs-backend-probe", *sorted(os.listdir(directory)), f"{TASK_PREFIX}gone"]
    results = ResultDirectory(str(directory))
    careful = [_flat_of(results.read_full(name)) for name in names if parse_name(name) is not None]
    assert [_comparable(m) for m in results.read_metas(names)] == careful
    assert len(careful) == len(ALL_IDS) + len(odd) + 2
    archive = ResultArchive(str(make_archive(tmp_path / "results.zip")))
    assert [_comparable(m) for m in archive.read_metas()] == [
        _flat_of(archive.read_full(name)) for name, _ in archive.listing()
    ]
    some = [name for name, _ in archive.listing()][1:3]
    assert [m[0].task_id for m in archive.read_metas(["notes.txt", *some])] == [parse_name(n).task_id for n in some]


def _flat_of(full: FullRead | None) -> tuple:
    assert full is not None
    return (full.name, full.path, full.read.mtime, full.read.size, full.meta, full.error)


def _comparable(meta_read: tuple) -> tuple:
    return meta_read[:6]  # the last, "plain", says which way it was read


def test_the_lean_read_of_a_dump_reads_tags_long_numbers_pickles_and_big_payloads_as_the_careful_read(
    tmp_path: Path,
):
    """read_metas against read_full, "plain" included (what --dump converts), on the files its
    inline checks send the careful way: by hand, which of them hold only JSON's own types."""
    directory = tmp_path / "results"
    directory.mkdir()
    big = b'{"status": "SUCCESS", "result": "' + b"x" * 3000 + b'"}'
    files = {
        "tagged": b'{"status": "SUCCESS", "result": {"__type__": "datetime", "__value__": "2026-01-01T00:00:00"}}',
        "spacedlong": b' {"status": "SUCCESS", "args": [1234567890123456789012], "kwargs": {}}',
        "textlong": b'{"status": "SUCCESS", "result": "1234567890123456789012"}',
        "nan": b'{"status": "SUCCESS", "result": NaN}',
        "pickled": pickle.dumps({"status": "SUCCESS", "result": 1}, protocol=4),
        "zipped": COMPRESSED_MAGIC + b"application/x-gzip\x00" + zlib.compress(big),
        "plain": b'{"status": "SUCCESS", "result": 2}',
    }
    for task_id, data in files.items():
        (directory / f"{TASK_PREFIX}{task_id}").write_bytes(data)
    names = [f"{TASK_PREFIX}{task_id}" for task_id in files]
    plain = {"tagged": False, "spacedlong": False, "textlong": True, "nan": False, "pickled": False}
    plain |= {"zipped": True, "plain": True}
    for allow_pickle in (False, True):
        for max_bytes in (1 << 20, len(big) - 1):  # the second: the gzip file fits, what it holds does not
            results = ResultDirectory(str(directory), allow_pickle=allow_pickle, max_bytes=max_bytes)
            lean = list(results.read_metas(names))
            careful = []
            for name in names:
                full = results.read_full(name)
                assert full is not None and full.decoded is not None
                careful.append((*_flat_of(full), full.decoded.plain))
            assert lean == careful, (allow_pickle, max_bytes)
            readable = {m[0].task_id: m[6] for m in lean if m[5] is None}
            expected = {k: v for k, v in plain.items() if (allow_pickle or k != "pickled")}
            if max_bytes < len(big):
                del expected["zipped"]
            assert readable == expected, (allow_pickle, max_bytes)
    strict = ResultDirectory(str(directory), max_bytes=len(big) - 1)
    errors = {m[0].task_id: m[5].kind for m in strict.read_metas(names) if m[5] is not None}
    assert errors == {"pickled": ProblemKind.PICKLE_REFUSED, "zipped": ProblemKind.TOO_LARGE}
    # kombu's tags as their repr (--dump): plain JSON then, read inline
    (tagged,) = ResultDirectory(str(directory)).read_metas(names[:1], tags_as_repr=True)
    assert tagged[4] == {"status": "SUCCESS", "result": "datetime.datetime(2026, 1, 1, 0, 0)"} and tagged[6] is True
