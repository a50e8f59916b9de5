"""Archives of a result directory (.tar, .tar.gz, .tgz, .zip), read in place: --dump, --stats, --replay."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from helpers.archives import make_archive
from helpers.cli import run
from helpers.samples import SAMPLE_NAMES, SAMPLE_RESULTS
from taskview.results.archive import ArchiveError, ResultArchive


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
    assert {k: v for k, v in stats.items() if k != "directory"} == {k: v for k, v in expected.items() if k != "directory"}
    assert stats["total"] == len(SAMPLE_NAMES)
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted next to it


@pytest.mark.parametrize("suffix", [".tgz", ".zip"])
def test_replay_dump_of_an_archive_equals_the_directorys(tmp_path: Path, suffix: str):
    archive = make_archive(tmp_path / f"results{suffix}")
    from_archive = [json.loads(line) for line in run(str(archive), "--replay", "--dump", "jsonl").stdout.splitlines()]
    from_directory = [json.loads(line) for line in run(str(SAMPLE_RESULTS), "--replay", "--dump", "jsonl").stdout.splitlines()]
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
