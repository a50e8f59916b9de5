"""Archives of a result directory (.tar, .tar.gz, .tgz, .zip), read in place: --dump, --stats, --replay."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from helpers.archives import make_archive
from helpers.cli import run
from helpers.samples import SAMPLE_NAMES, SAMPLE_RESULTS
from taskview.results.archive import ArchiveError, ResultArchive, _reason
from taskview.results.scan import ResultDirectory


def comparable_dump(path: Path) -> list[dict]:
    """--dump rows without where the file lives (directory path vs archive member)."""
    rows = [json.loads(line) for line in run(str(path), "--dump", "jsonl").stdout.splitlines()]
    for row in rows:
        assert row.pop("file")
        row.pop("mtime")
    return sorted(rows, key=lambda r: r["task_id"])


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".zip"])
def test_dump_and_stats_of_an_archive_equal_the_directorys(tmp_path: Path, suffix: str):
    archive = make_archive(tmp_path / f"results{suffix}", extra=[("results/README.txt", b"not a result")])
    before = sorted(os.listdir(tmp_path))
    assert comparable_dump(archive) == comparable_dump(SAMPLE_RESULTS)
    stats = json.loads(run(str(archive), "--stats", "--json").stdout)
    expected = json.loads(run(str(SAMPLE_RESULTS), "--stats", "--json").stdout)
    assert stats["directory"] == str(archive)
    del stats["directory"], expected["directory"]
    assert stats == expected
    assert stats["total"] == len(SAMPLE_NAMES)
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted next to it


@pytest.mark.parametrize("suffix", [".tgz", ".zip"])
def test_replay_dump_of_an_archive_equals_the_directorys(tmp_path: Path, suffix: str):
    archive = make_archive(tmp_path / f"results{suffix}")
    from_archive, from_directory = (
        [json.loads(line) for line in run(str(path), "--replay", "--dump", "jsonl").stdout.splitlines()]
        for path in (archive, SAMPLE_RESULTS)
    )
    # Finished tasks get their date_done, in the archive as in the directory; the
    # others the member's mtime (zip keeps it to 2 s, so only compare order of finished ones).
    finished = [(e["task_id"], e["time"]) for e in from_directory if e["source"] == "date_done"]
    assert [(e["task_id"], e["time"]) for e in from_archive if e["source"] == "date_done"] == finished
    assert sorted(e["task_id"] for e in from_archive) == sorted(e["task_id"] for e in from_directory)


def test_members_in_any_folder_and_strangers_skipped(tmp_path: Path):
    sample = SAMPLE_RESULTS / SAMPLE_NAMES[0]
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("deep/er/" + SAMPLE_NAMES[0], sample.read_bytes())
        zf.writestr("deep/.fs-backend-1234", b"probe")
        zf.writestr("notes.txt", b"hello")
        zf.writestr("deep/", b"")
    results = ResultArchive(str(archive))
    assert [name for name, _ in results.listing()] == [SAMPLE_NAMES[0]]
    full = results.read_full(SAMPLE_NAMES[0])
    assert full.error is None and full.meta["task_id"] == SAMPLE_NAMES[0].removeprefix("celery-task-meta-")
    assert full.path == f"{archive}/deep/er/{SAMPLE_NAMES[0]}"


def test_a_damaged_member_is_an_unreadable_row_not_a_crash(tmp_path: Path):
    archive = make_archive(tmp_path / "results.zip")
    data = bytearray(archive.read_bytes())
    # Flip bytes inside the first member's compressed data: its CRC no longer matches.
    with zipfile.ZipFile(archive) as zf:
        first = zf.infolist()[0]
    start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    for i in range(start + 5, start + 15):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    stats = json.loads(run(str(archive), "--stats", "--json").stdout)
    assert stats["total"] == len(SAMPLE_NAMES)
    assert stats["unreadable"] == 1
    assert "damaged archive member" in stats["unreadable_files"][0]["error"]
    assert stats["unreadable_files"][0]["file"].endswith(first.filename)


def test_an_oversized_member_is_refused_before_it_is_read(tmp_path: Path):
    limit = max(p.stat().st_size for p in SAMPLE_RESULTS.iterdir())
    archive = make_archive(tmp_path / "big.tar", extra=[("results/celery-task-meta-big", b"{" + b" " * limit + b"}")])
    results = ResultArchive(str(archive), max_bytes=limit)
    records = {r.task_id: r for batch in results.scan() for r in batch}
    assert records["big"].error.message == f"too large to read ({limit + 2:,} bytes)"
    assert sum(r.error is None for r in records.values()) == len(SAMPLE_NAMES)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"this is not an archive at all", "not a tar, tar.gz or zip archive"),
        (None, "Compressed file ended"),  # a .tgz cut in the middle
    ],
)
def test_a_broken_archive_is_one_line_and_exit_2(tmp_path: Path, content: bytes | None, reason: str):
    target = tmp_path / "broken.tgz"
    if content is None:
        whole = make_archive(tmp_path / "whole.tgz").read_bytes()
        content = whole[: len(whole) // 2]
    target.write_bytes(content)
    with pytest.raises(ArchiveError):
        ResultArchive(str(target))
    for args in (["--stats"], ["--dump", "jsonl"], ["--replay", "--dump", "jsonl"]):
        proc = run(str(target), *args, check=False)
        assert proc.returncode == 2, proc
        assert proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and reason in proc.stderr, proc.stderr


def test_a_file_that_is_no_archive_nor_journal(tmp_path: Path):
    stranger = tmp_path / "notes.txt"
    stranger.write_text("hello")
    proc = run(str(stranger), "--stats", check=False)
    assert proc.returncode == 2 and "not a directory, an archive" in proc.stderr


# --- two members for one result name; members that are not regular files -----------------
#
# An archive flattens folders (a result file is known by its name), so two members can claim
# one task: the later member is the row, as extracting the archive would leave it (tar -r
# appends a newer copy of a file). A member that is not a regular file (a directory, a
# symbolic or hard link, a FIFO) named like a result file is a row saying so, never followed:
# a link in an archive could point anywhere. In a directory, a subdirectory named like a result
# file is such a row too.

SUCCESS_META = b'{"status": "SUCCESS", "result": 1, "traceback": null, "children": [], "date_done": null}'
FAILURE_META = b'{"status": "FAILURE", "result": null, "traceback": "boom", "children": [], "date_done": null}'


def tar_with(target: Path, members: list[tuple[str, bytes | None, bytes, str, float]]) -> Path:
    """(name, data or None, tar type, link name, mtime) per member, in this order."""
    with tarfile.open(target, "w") as archive:
        for name, data, kind, linkname, mtime in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = kind, linkname, mtime
            info.size = len(data) if data is not None else 0
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return target


def rows(results: ResultArchive) -> dict[str, tuple[str | None, str | None, float, int]]:
    return {
        r.task_id: (r.status, r.error and r.error.message, r.mtime, r.size) for batch in results.scan() for r in batch
    }


def test_a_tar_members_time_that_no_calendar_holds_reads_as_0(tmp_path: Path):
    # tar's fields hold any number (pax: any decimal): from 0 up to 10**11 s (the year 5138) is a time
    body = b'{"status": "SUCCESS", "result": 1}'
    times = {"half": 0.5, "zero": 0, "before": -5, "last": 1e11 - 1, "bound": 1e11, "far": 2**40}
    members = [(f"celery-task-meta-{task_id}", body, tarfile.REGTYPE, "", when) for task_id, when in times.items()]
    archive = ResultArchive(str(tar_with(tmp_path / "t.tar", members)))
    found = {task_id: row[2] for task_id, row in rows(archive).items()}
    assert found == {"half": 0.5, "zero": 0.0, "before": 0.0, "last": 99_999_999_999.0, "bound": 0.0, "far": 0.0}


def test_two_members_of_one_result_name_give_one_row_the_later_member(tmp_path: Path):
    archive = tar_with(
        tmp_path / "dup.tar",
        [
            ("results/celery-task-meta-dup", SUCCESS_META, tarfile.REGTYPE, "", 1000.0),
            ("results/celery-task-meta-other", SUCCESS_META, tarfile.REGTYPE, "", 1100.0),
            ("results/celery-task-meta-dup", FAILURE_META, tarfile.REGTYPE, "", 2000.0),  # tar -r: a newer copy
            ("elsewhere/celery-task-meta-moved", SUCCESS_META, tarfile.REGTYPE, "", 3000.0),
            ("results/celery-task-meta-moved", FAILURE_META, tarfile.REGTYPE, "", 1500.0),  # other folder, older
        ],
    )
    results = ResultArchive(str(archive))
    # Listed once each, where the name first appears.
    assert results.entry_names() == ["celery-task-meta-dup", "celery-task-meta-other", "celery-task-meta-moved"]
    assert rows(results) == {
        "dup": ("FAILURE", None, 2000.0, len(FAILURE_META)),
        "other": ("SUCCESS", None, 1100.0, len(SUCCESS_META)),
        # The later member in the archive, not the newer by mtime.
        "moved": ("FAILURE", None, 1500.0, len(FAILURE_META)),
    }
    full = results.read_full("celery-task-meta-dup")
    assert full.meta["status"] == "FAILURE" and full.path == f"{archive}/results/celery-task-meta-dup"
    assert results.file_path("celery-task-meta-moved") == f"{archive}/results/celery-task-meta-moved"


def test_two_zip_entries_of_one_result_name_give_one_row_the_later_entry(tmp_path: Path):
    archive = tmp_path / "dup.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("results/celery-task-meta-dup", SUCCESS_META)
        zf.writestr("results/celery-task-meta-dup", FAILURE_META)
    results = ResultArchive(str(archive))
    assert results.entry_names() == ["celery-task-meta-dup"]
    assert [(r.task_id, r.status, r.size) for batch in results.scan() for r in batch] == [
        ("dup", "FAILURE", len(FAILURE_META))
    ]


@pytest.mark.parametrize(
    "kind, linkname",
    [
        (tarfile.DIRTYPE, ""),
        (tarfile.SYMTYPE, "celery-task-meta-real"),  # to a good member of the same archive
        (tarfile.SYMTYPE, "/etc/passwd"),
        (tarfile.LNKTYPE, "results/celery-task-meta-real"),
        (tarfile.FIFOTYPE, ""),
    ],
    ids=["directory", "symlink-inside", "symlink-outside", "hardlink", "fifo"],
)
def test_a_member_that_is_not_a_regular_file_is_a_row_saying_so_never_followed(tmp_path: Path, kind, linkname):
    archive = tar_with(
        tmp_path / "odd.tar",
        [
            ("results/celery-task-meta-real", SUCCESS_META, tarfile.REGTYPE, "", 1000.0),
            ("results/celery-task-meta-odd", None, kind, linkname, 1234.0),
            ("results/celery-task-meta-odd/celery-task-meta-inner", SUCCESS_META, tarfile.REGTYPE, "", 1300.0)
            if kind == tarfile.DIRTYPE
            else ("results/notes.txt", b"not a result", tarfile.REGTYPE, "", 1300.0),
        ],
    )
    results = ResultArchive(str(archive))
    found = rows(results)
    assert found.pop("odd") == (None, "not a regular file", 1234.0, 0)
    assert found.pop("real") == ("SUCCESS", None, 1000.0, len(SUCCESS_META))
    # A result file inside a folder named like one is a result file like any other.
    assert found == ({"inner": ("SUCCESS", None, 1300.0, len(SUCCESS_META))} if kind == tarfile.DIRTYPE else {})
    full = results.read_full("celery-task-meta-odd")
    assert full.meta is None and full.error.message == "not a regular file"


def test_a_folder_named_like_a_result_file_is_the_same_row_in_a_directory(tmp_path: Path):
    (tmp_path / "celery-task-meta-odd").mkdir()
    found = {
        r.task_id: (r.status, r.error and r.error.message)
        for batch in ResultDirectory(str(tmp_path)).scan()
        for r in batch
    }
    assert found == {"odd": (None, "not a regular file")}


# --- read in this process (the CLI tests above run taskview in a child) ---------------------------


def test_archives_are_known_by_suffix_else_by_content(tmp_path: Path):
    from taskview.results.archive import looks_like_archive

    for name in ("a.tar", "a.tar.gz", "a.TGZ", "a.zip"):
        assert looks_like_archive(str(tmp_path / name))  # by name: not even opened
    bare_zip = make_archive(tmp_path / "x.zip").rename(tmp_path / "zip-without-suffix")
    bare_tar = tmp_path / "results.tar.bz2"
    with tarfile.open(bare_tar, "w:bz2") as tar:
        tar.add(SAMPLE_RESULTS / SAMPLE_NAMES[0], arcname=SAMPLE_NAMES[0])
    assert looks_like_archive(str(bare_zip)) and looks_like_archive(str(bare_tar))
    (tmp_path / "notes").write_text("hello")
    assert not looks_like_archive(str(tmp_path / "notes"))
    assert not looks_like_archive(str(tmp_path / "missing"))
    assert not looks_like_archive(str(SAMPLE_RESULTS / SAMPLE_NAMES[0]))


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_names_that_are_no_member_have_no_row_and_a_plain_path(tmp_path: Path, suffix: str):
    archive = make_archive(tmp_path / f"results{suffix}", extra=[("results/notes.txt", b"not a result")])
    results = ResultArchive(str(archive))
    assert results.read_full("celery-task-meta-absent") is None
    assert results.read_full("notes.txt") is None
    assert results.read_record("celery-task-meta-absent") is None
    assert results.file_path("celery-task-meta-absent") == f"{archive}/celery-task-meta-absent"
    assert list(results.iter_names()) == results.listing() and len(results.listing()) == len(SAMPLE_NAMES)


def test_a_member_is_decoded_with_the_archives_options(tmp_path: Path):
    import pickle

    typed = next(p for p in SAMPLE_RESULTS.iterdir() if b'"__type__"' in p.read_bytes())
    pickled = pickle.dumps({"status": "SUCCESS", "result": 7, "task_id": "pickled"}, protocol=4)
    big = zlib.compress(b'{"status": "SUCCESS", "result": "' + b"x" * 4000 + b'"}')
    compressed = b"\x00celery-compressed\x00application/x-gzip\x00" + big
    extra = [("r/celery-task-meta-pickled", pickled), ("r/celery-task-meta-bomb", compressed)]
    archive = make_archive(tmp_path / "results.tar", extra=extra)
    refused = ResultArchive(str(archive)).read_full("celery-task-meta-pickled")
    assert refused.error is not None and refused.error.kind.value == "pickle refused"
    trusted = ResultArchive(str(archive), allow_pickle=True)
    assert trusted.read_full("celery-task-meta-pickled").meta["result"] == 7
    small = ResultArchive(str(archive), max_bytes=len(compressed) + 10)
    assert small.read_full("celery-task-meta-bomb").error.message.startswith("too large to decode: over ")
    assert trusted.read_full("celery-task-meta-bomb").error is None
    exact = trusted.read_full(typed.name).meta
    loose = trusted.read_full(typed.name, exact=False).meta
    assert "'__type__'" not in repr(exact) and "'__type__'" in repr(loose)  # kombu's tags kept only when not exact


def test_a_member_exactly_at_the_bound_is_read_whole(tmp_path: Path):
    data = (SAMPLE_RESULTS / SAMPLE_NAMES[0]).read_bytes()
    for suffix in (".tar", ".zip"):
        archive = make_archive(tmp_path / f"one{suffix}", extra=[("r/celery-task-meta-one", data)])
        full = ResultArchive(str(archive), max_bytes=len(data)).read_full("celery-task-meta-one")
        assert full.error is None and full.read.size == len(data) and full.read.data == data


def test_an_oversized_member_keeps_its_size_and_mtime(tmp_path: Path):
    data = (SAMPLE_RESULTS / SAMPLE_NAMES[0]).read_bytes()
    archive = make_archive(tmp_path / "one.tar", extra=[("r/celery-task-meta-one", data)])
    read = ResultArchive(str(archive), max_bytes=len(data) - 1).read_full("celery-task-meta-one").read
    assert read.data is None and read.size == len(data) and read.mtime == 1_700_000_000.0
    assert read.error.kind.value == "too large" and read.error.message == f"too large to read ({len(data):,} bytes)"


def damaged_zip(tmp_path: Path) -> tuple[Path, zipfile.ZipInfo]:
    archive = make_archive(tmp_path / "results.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        first = zf.infolist()[0]
    start = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    for i in range(start + 5, start + 15):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    return archive, first


def test_a_damaged_member_says_why_and_keeps_its_size_and_mtime(tmp_path: Path):
    import time

    archive, first = damaged_zip(tmp_path)
    name = first.filename.rpartition("/")[2]
    full = ResultArchive(str(archive)).read_full(name)
    assert full.decoded is None and full.meta is None
    read = full.read
    assert read.data is None and read.size == first.file_size
    assert read.mtime == time.mktime((*first.date_time, 0, 0, -1))
    assert read.error.kind.value == "unreadable"
    assert read.error.reason == "unreadable"
    # zlib's own words, not a placeholder: "Error -3 while decompressing data: ..." or a CRC mismatch.
    assert read.error.detail.startswith(": damaged archive member (") and read.error.detail.endswith(")")
    assert "None" not in read.error.detail and ("Error -3" in read.error.detail or "CRC" in read.error.detail)


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_a_closed_archive_reads_no_more(tmp_path: Path, suffix: str):
    results = ResultArchive(str(make_archive(tmp_path / f"results{suffix}")))
    assert results.read_full(SAMPLE_NAMES[0]).error is None
    results.close()
    full = results.read_full(SAMPLE_NAMES[0])
    assert full.error is not None and full.error.message.startswith("unreadable: damaged archive member")


def test_zip_entries_keep_their_local_time_and_unix_file_type(tmp_path: Path):
    from datetime import datetime

    meta = (SAMPLE_RESULTS / SAMPLE_NAMES[0]).read_bytes()
    archive = tmp_path / "types.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        when = (2026, 11, 30, 12, 34, 56)
        zf.writestr(zipfile.ZipInfo("celery-task-meta-dated", date_time=when), meta)
        zf.write(SAMPLE_RESULTS / SAMPLE_NAMES[0], "celery-task-meta-written")  # mode S_IFREG|0644, from disk
        link = zipfile.ZipInfo("celery-task-meta-link")
        link.create_system, link.external_attr = 3, (0o120777 << 16)  # zip -y: a symbolic link
        zf.writestr(link, "/etc/passwd")
        dos = zipfile.ZipInfo("celery-task-meta-dos")
        dos.create_system, dos.external_attr = 0, (0o120777 << 16)  # made on DOS: those bits mean nothing
        zf.writestr(dos, meta)
    results = ResultArchive(str(archive))
    dated = results.read_full("celery-task-meta-dated").read
    assert dated.mtime == datetime(*when).timestamp()
    assert results.read_full("celery-task-meta-written").error is None
    assert results.read_full("celery-task-meta-link").error.message == "not a regular file"
    assert results.read_full("celery-task-meta-dos").error is None


def test_what_an_archive_that_cannot_be_read_says(tmp_path: Path):
    whole_tar = make_archive(tmp_path / "whole.tar").read_bytes()
    whole_tgz = make_archive(tmp_path / "whole.tgz").read_bytes()
    cases = {
        "junk.tgz": (b"this is not an archive at all", "not a tar, tar.gz or zip archive"),
        "cut.tar": (whole_tar[: len(whole_tar) // 2], "unexpected end of data"),
        "cut.tgz": (whole_tgz[:100], "Compressed file ended before the end-of-stream marker was reached"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ArchiveError) as caught:
            ResultArchive(str(tmp_path / name))
        assert str(caught.value) == f"cannot read archive {tmp_path / name}: {reason}"
    with pytest.raises(ArchiveError) as caught:
        ResultArchive(str(tmp_path / "missing.zip"))
    assert str(caught.value) == f"cannot read archive {tmp_path / 'missing.zip'}: No such file or directory"


def test_a_failure_without_text_is_named_by_its_type_and_a_long_one_by_its_first_line():
    assert _reason(zipfile.BadZipFile()) == "BadZipFile"
    assert _reason(EOFError("  ")) == "EOFError"
    assert _reason(tarfile.ReadError("bad header\nat block 3")) == "bad header"
    assert _reason(OSError(5, "Input/output error")) == "Input/output error"


def test_results_after_a_folder_entry_or_another_file_are_all_listed(tmp_path: Path):
    """`zip -r` writes each folder's entry before its files; a README may come first too."""
    archive = tmp_path / "results.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("results/", b"")
        zf.writestr("results/README", b"not a result")
        for name in SAMPLE_NAMES[:3]:
            zf.writestr(f"results/{name}", (SAMPLE_RESULTS / name).read_bytes())
    assert [name for name, _ in ResultArchive(str(archive)).listing()] == SAMPLE_NAMES[:3]


@pytest.mark.parametrize("suffix", [".tar", ".zip"])
def test_a_member_bigger_than_its_header_says_is_read_only_to_the_bound_and_refused(tmp_path: Path, suffix: str):
    """The bound holds without the header too: a member whose header understated its size (the
    header check passes) is read no further than max_bytes + 1 bytes, then refused."""
    data = b'{"status": "SUCCESS", "result": "' + b"x" * 100 + b'"}'
    archive = make_archive(tmp_path / f"one{suffix}", extra=[("r/celery-task-meta-one", data)])
    results = ResultArchive(str(archive), max_bytes=50)
    member = results._members["celery-task-meta-one"]
    results._members["celery-task-meta-one"] = member._replace(size=10)  # a lying header
    full = results.read_full("celery-task-meta-one")
    assert full is not None and full.decoded is None
    assert (full.read.data, full.read.size, full.read.mtime) == (None, 51, member.mtime)
    assert full.read.error is not None and full.read.error.message == "too large to read (over 50 bytes)"


def test_a_tar_member_without_a_file_to_read_reads_as_empty(tmp_path: Path):
    """tarfile gives no file for a folder: were one taken for a regular member, it reads as empty."""
    archive = tmp_path / "dir.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("celery-task-meta-dir")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    results = ResultArchive(str(archive))
    member = results._members["celery-task-meta-dir"]
    assert not member.regular
    results._members["celery-task-meta-dir"] = member._replace(regular=True)
    read = results.read_full("celery-task-meta-dir").read
    assert (read.data, read.size, read.error) == (b"", 0, None)
