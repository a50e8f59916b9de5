"""The scan index (sources/scan_index.py) and the reader that uses it: what it trusts, and what it never does."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import stat
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from taskview.results import problems
from taskview.results.codec import decode
from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.record import (
    ROW_FIELDS,
    TaskRecord,
    batch_census,
    display_status,
    records_from_batch,
    records_to_batch,
    summarize,
)
from taskview.results.scan import ResultDirectory
from taskview.sources import child_scan
from taskview.sources.scan_index import (
    KEY_LINE_START,
    RACY_SECONDS,
    VERSION,
    IndexChunk,
    IndexWriter,
    cache_dir,
    index_name,
    key_line,
    load_share,
    open_index,
    read_header,
)

HOUR_AGO = time.time() - 3600


def rows(records) -> dict[str, list]:
    return {r.task_id: [getattr(r, f) for f in ROW_FIELDS] for r in records}


def aged(directory: Path) -> Path:
    """Files last written an hour ago (a file written just before the indexing scan is never trusted)."""
    for path in directory.iterdir():
        os.utime(path, (HOUR_AGO, HOUR_AGO))
    return directory


def fresh_records(directory: Path) -> list[TaskRecord]:
    results = ResultDirectory(str(directory))
    return sorted((r for batch in results.scan() for r in batch), key=lambda r: r.task_id)


ONE_CORRUPT = "1 corrupt chunk(s): their files read"


def write_index(
    directory: Path,
    cache: Path,
    *,
    started: float | None = None,
    chunk: int = 5,
    keys: bool = True,
    listed: int | None = None,
) -> Path:
    """An index of ``directory`` as the tail writes it: the readers' batch lines, in id order, each
    with its key after it (``keys``; an index may have none). ``listed``: how many files the
    readers said they had (the tail's count, by which the index may keep the directory's times)."""
    records = readers_records(directory)
    writer = IndexWriter(str(directory), str(cache), ResultDirectory(str(directory)).max_bytes, started or time.time())
    assert writer.writing
    for at in range(0, len(records), chunk):
        part = records[at : at + chunk]
        batch = records_to_batch(part)
        writer.add(child_scan._dumps(batch), part, key_line(batch) if keys else None)
    assert writer.commit(listed)
    return Path(writer.path)


def as_indexed(directory: Path, cache: Path, **options) -> Path:
    """``write_index`` with the directory's times kept (its entries as the index holds them): as
    if it had last changed more than RACY_SECONDS before the indexing scan."""
    late = time.time() + RACY_SECONDS + 1
    return write_index(directory, cache, started=late, listed=len(readers_records(directory)), **options)


def readers_records(directory: Path) -> list[TaskRecord]:
    """What the readers send of ``directory``: a record a task (of two files naming one, the last
    by name), in id order."""
    by_id: dict[str, TaskRecord] = {}
    for record in fresh_records(directory):
        if record.task_id not in by_id or record.filename > by_id[record.task_id].filename:
            by_id[record.task_id] = record
    return sorted(by_id.values(), key=lambda r: r.task_id)


def header_of(index: Path, directory: Path):
    st = os.stat(directory)
    fd = os.open(index, os.O_RDONLY)
    try:
        return read_header(fd, st.st_dev, st.st_ino, ResultDirectory(str(directory)).max_bytes)
    finally:
        os.close(fd)


def forbid_listing(monkeypatch) -> None:
    """From here on, a reader that lists the directory fails the test."""

    def listdir(*args, **kwargs):
        raise AssertionError("the directory was listed")

    monkeypatch.setattr(child_scan.os, "listdir", listdir)


def load(directory: Path, cache: Path) -> dict[str, TaskRecord] | None:
    opened = open_index(str(directory), str(cache), ResultDirectory(str(directory)).max_bytes)
    if opened is None:
        return None
    fd, header = opened
    try:
        found, corrupt = load_share(fd, header, None, None)
    finally:
        os.close(fd)
    assert corrupt == 0
    return found


def read_with_index(directory: Path, index: Path | None, *extra: str, monkeypatch) -> tuple[list[TaskRecord], dict]:
    """What one reader process sends (its main, run here), given the index's descriptor."""
    argv = [str(directory), *extra]
    fd = None
    if index is not None:
        fd = os.open(index, os.O_RDONLY)
        argv += ["--index-fd", str(fd)]
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert child_scan.main(argv) == 0
    sys.stdout.flush()
    records, note, key = [], None, None
    for line in out.getvalue().splitlines(keepends=True):
        if line.startswith(KEY_LINE_START):
            key = line
            continue
        batch = json.loads(line)
        if "index" in batch:
            note = batch["index"]
        elif "census" not in batch:
            assert key == key_line(batch)  # every batch line comes after its key, for the next index
            records += records_from_batch(batch)
            key = None
    return records, note


def sent_lines(out: io.BytesIO) -> list[dict]:
    """What a reader printed, decoded, but its key lines (each a batch's, just before it)."""
    return [json.loads(line) for line in out.getvalue().splitlines() if not line.startswith(KEY_LINE_START)]


def test_the_cache_directory_follows_xdg():
    assert cache_dir({"XDG_CACHE_HOME": "/var/cache/me", "HOME": "/home/me"}) == "/var/cache/me/taskview"
    # A relative XDG_CACHE_HOME is invalid (the spec): ignored.
    assert cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == os.path.expanduser("~/.cache/taskview")


def test_round_trip_private_and_named_by_the_directory(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    st = os.stat(samples)
    assert index.name == index_name(st.st_dev, st.st_ino) == f"scan-{st.st_dev:x}-{st.st_ino:x}.v{VERSION}"
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert [p.name for p in cache.iterdir()] == [index.name]  # no temporary left
    found = load(samples, cache)
    assert found is not None and rows(found.values()) == rows(fresh_records(samples))
    assert len(found) == SAMPLE_COUNT


def test_a_share_holds_only_its_ids(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    write_index(samples, cache)
    ids = sorted(r.task_id for r in fresh_records(samples))
    fd, header = open_index(str(samples), str(cache), ResultDirectory(str(samples)).max_bytes)
    try:
        found, _ = load_share(fd, header, ids[7], ids[13])
    finally:
        os.close(fd)
    assert sorted(found) == ids[7:13]


def test_files_written_just_before_the_indexing_scan_are_not_trusted(samples: Path, tmp_path: Path):
    """A rewrite within one tick of the filesystem's clock may keep mtime and size: such files are read again."""
    aged(samples)
    recent = sorted(samples.iterdir())[0]
    os.utime(recent, None)  # written now
    cache = tmp_path / "cache"
    write_index(samples, cache)
    found = load(samples, cache)
    assert found is not None and len(found) == SAMPLE_COUNT - 1
    assert recent.name.removeprefix("celery-task-meta-") not in found


def test_rows_with_an_error_are_never_indexed(samples: Path, tmp_path: Path):
    aged(samples)
    (samples / "celery-task-meta-cut").write_bytes(sorted(SAMPLE_RESULTS.iterdir())[0].read_bytes()[:30])
    os.utime(samples / "celery-task-meta-cut", (HOUR_AGO, HOUR_AGO))
    cache = tmp_path / "cache"
    write_index(samples, cache)
    found = load(samples, cache)
    assert found is not None and "cut" not in found and len(found) == SAMPLE_COUNT


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda data: data[: len(data) // 2], "cut short"),
        (lambda data: data[:-1], "cut short"),
        (lambda data: b"", "no header line"),
        (lambda data: b"garbage\n" + data, "corrupt"),
        (lambda data: b"[" * 60000 + b"\n" + data, "corrupt"),  # nested too deep for the parser
        (lambda data: data.replace(b'"version": %d' % VERSION, b'"version": 1', 1), "another version"),
        (lambda data: data.replace(b'"taskview": "', b'"taskview": "0.0.0-', 1), "another taskview"),
        (lambda data: data.replace(b'"max_bytes": ', b'"max_bytes": 1', 1), "another --max-bytes"),
    ],
)
def test_a_damaged_or_old_index_is_ignored_with_a_debug_line(samples: Path, tmp_path: Path, caplog, damage, why):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    index.write_bytes(damage(index.read_bytes()))
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.scan_index"):
        assert load(samples, cache) is None
    assert any("ignored" in r.getMessage() and why in r.getMessage() for r in caplog.records), caplog.text


def test_a_corrupt_chunk_is_skipped_and_its_files_read(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    data = bytearray(index.read_bytes())
    at = data.index(b"sampletasks.")  # in the first chunk's strings
    data[at] = ord("S")
    index.write_bytes(bytes(data))
    fd, header = open_index(str(samples), str(cache), ResultDirectory(str(samples)).max_bytes)
    try:
        found, corrupt = load_share(fd, header, None, None)
    finally:
        os.close(fd)
    assert corrupt == 1 and len(found) == SAMPLE_COUNT - 5
    assert all(r.name is None or r.name.startswith("sampletasks.") for r in found.values())


def test_an_index_of_another_directory_is_ignored(samples: Path, tmp_path: Path, caplog):
    aged(samples)
    other = aged(Path(shutil.copytree(samples, tmp_path / "other")))
    cache = tmp_path / "cache"
    index = write_index(other, cache)
    st = os.stat(samples)
    index.rename(cache / index_name(st.st_dev, st.st_ino))  # as if the other directory's inode were this one's
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.scan_index"):
        assert load(samples, cache) is None
    assert "another directory" in caplog.text


def test_an_index_others_may_read_or_write_is_ignored(samples: Path, tmp_path: Path, caplog):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    index.chmod(0o644)
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.scan_index"):
        assert load(samples, cache) is None
    assert "mode 0600" in caplog.text


def test_a_symlink_at_the_index_path_is_neither_followed_nor_written_through(samples: Path, tmp_path: Path, caplog):
    aged(samples)
    cache = tmp_path / "cache"
    real = write_index(samples, cache)
    elsewhere = tmp_path / "elsewhere"
    real.rename(elsewhere)
    real.symlink_to(elsewhere)
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.scan_index"):
        assert load(samples, cache) is None  # O_NOFOLLOW
    assert "cannot open it" in caplog.text
    before = elsewhere.read_bytes()
    write_index(samples, cache)
    assert elsewhere.read_bytes() == before and not real.is_symlink()  # the link was replaced, not followed


def test_an_unwritable_cache_directory_is_ignored_with_a_debug_line(samples: Path, tmp_path: Path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # others could plant files in it
    for cache in (blocker / "taskview", shared):
        with caplog.at_level(logging.DEBUG, logger="taskview.sources.scan_index"):
            writer = IndexWriter(str(samples), str(cache), 1 << 20, time.time())
        assert not writer.writing and not writer.commit()
        writer.add(b"{}", fresh_records(samples))  # a no-op
    assert caplog.text.count("scan index not written") == 2
    assert list(shared.iterdir()) == []


def test_the_reader_reads_only_what_changed(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    started = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "STARTED")
    revoked = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "REVOKED")
    removed = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "RETRY")
    shutil.copyfile(revoked, started)  # the task went on: its file rewritten (a new mtime and size)
    removed.unlink()
    shutil.copyfile(revoked, samples / "celery-task-meta-new-one")
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note == {"reused": SAMPLE_COUNT - 2, "read": 2, "problem": None, "listed": True}
    assert rows(records) == rows(fresh_records(samples))  # what a fresh read gives, in id order
    assert [r.task_id for r in records] == sorted(r.task_id for r in records)
    by_id = {r.task_id: r for r in records}
    assert by_id[started.name.removeprefix("celery-task-meta-")].status == "REVOKED"
    assert removed.name.removeprefix("celery-task-meta-") not in by_id and "new-one" in by_id


def test_a_reopen_of_an_unchanged_directory_forwards_the_index_chunks_as_they_are(
    samples: Path, tmp_path: Path, monkeypatch
):
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    # Between the header and the table: each chunk's line, then its key.
    chunks = index.read_bytes().splitlines(keepends=True)[1:-2]

    def made_again(self, rows):
        raise AssertionError("a whole chunk's batch made again")

    monkeypatch.setattr(IndexChunk, "batch_of", made_again)
    fd = os.open(index, os.O_RDONLY)
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert child_scan.main([str(samples), "--index-fd", str(fd)]) == 0
    sys.stdout.flush()
    census, *lines, note = out.getvalue().splitlines(keepends=True)
    # The reader sends each key before its line.
    assert lines[0::2] == chunks[1::2] and lines[1::2] == chunks[0::2] and len(chunks) == 2 * -(-SAMPLE_COUNT // 5)
    assert json.loads(note) == {"index": {"reused": SAMPLE_COUNT, "read": 0, "problem": None, "listed": True}}
    assert json.loads(census) == {"census": SAMPLE_CENSUS, "unchanged": True, "listed": True}


#: sample_results/ by display status, counted by hand (the group result has no status of its own).
SAMPLE_CENSUS = {
    "SUCCESS": 12,
    "FAILURE": 2,
    "REVOKED": 2,
    "STARTED": 1,
    "RETRY": 1,
    "PROGRESS": 1,
    "GOING_TO_SLEEP": 1,
    "GROUP": 1,
}


def test_a_reopens_census_comes_before_its_rows_and_counts_what_it_sends(samples: Path, tmp_path: Path, monkeypatch):
    """Every file checked against the index first, then one census line, then the rows: the
    inspector shows whole counts long before it has taken in every row."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    started = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "STARTED")
    revoked = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "REVOKED")
    retry = next(p for p in samples.iterdir() if json.loads(p.read_bytes()).get("status") == "RETRY")
    shutil.copyfile(revoked, started)  # STARTED -> REVOKED
    retry.unlink()
    shutil.copyfile(revoked, samples / "celery-task-meta-new-one")
    (samples / "celery-task-meta-cut-short").write_bytes(b'{"status": "SUCC')  # caught mid-write
    fd = os.open(index, os.O_RDONLY)
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert child_scan.main([str(samples), "--index-fd", str(fd)]) == 0
    sys.stdout.flush()
    first, *lines, note = sent_lines(out)
    expected = dict(SAMPLE_CENSUS, REVOKED=4, unreadable=1)
    del expected["STARTED"], expected["RETRY"]
    assert first == {"census": expected, "unchanged": False, "listed": True}
    assert all("columns" in line for line in lines) and "index" in note
    sent = [r for line in lines for r in records_from_batch(line)]
    assert len(sent) == sum(expected.values()) == SAMPLE_COUNT + 1
    assert Counter(map(display_status, sent)) == expected


def test_a_reader_that_must_read_many_changed_files_sends_no_census(samples: Path, tmp_path: Path, monkeypatch):
    """Past CENSUS_MOST_READS files read again, the rows go as they are read: no census would
    be worth holding every row back until the last changed file is read."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    for path in sorted(samples.iterdir())[:3]:
        os.utime(path, (HOUR_AGO + 5, HOUR_AGO + 5))  # three files to read again
    monkeypatch.setattr(child_scan, "ROWS", 2)
    monkeypatch.setattr(child_scan, "CENSUS_MOST_READS", 2)
    fd = os.open(index, os.O_RDONLY)
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert child_scan.main([str(samples), "--index-fd", str(fd)]) == 0
    sys.stdout.flush()
    *lines, note = sent_lines(out)
    assert all("columns" in line for line in lines)
    assert note == {"index": {"reused": SAMPLE_COUNT - 3, "read": 3, "problem": None, "listed": True}}
    assert rows(r for line in lines for r in records_from_batch(line)) == rows(fresh_records(samples))

    monkeypatch.setattr(child_scan, "CENSUS_MOST_READS", 3)  # at the limit: still one
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert child_scan.main([str(samples), "--index-fd", str(os.open(index, os.O_RDONLY))]) == 0
    sys.stdout.flush()
    assert json.loads(out.getvalue().splitlines()[0]) == {"census": SAMPLE_CENSUS, "unchanged": False, "listed": True}


def test_a_census_counts_what_the_store_will_hold():
    """By display status, from the status column; a group by its kind, a file caught mid-write as
    unreadable; a file gone before it was read not at all (the tail removes it)."""

    def record(task_id: str, raw: bytes, kind: str = "task", prefix: str = TASK_PREFIX) -> TaskRecord:
        return summarize(task_id, kind, prefix, decode(raw), size=len(raw), mtime=1.0)

    done, custom = record("a", b'{"status": "SUCCESS"}'), record("b", b'{"status": "PROGRESS"}')
    group = record("c", b'{"result": []}', "group", GROUP_PREFIX)
    cut = record("d", b'{"status": "SUCC')
    gone = summarize("e", "task", TASK_PREFIX, None, size=0, mtime=1.0, error=problems.gone())
    assert batch_census(records_to_batch([done, custom, done])) == Counter({"SUCCESS": 2, "PROGRESS": 1})
    assert batch_census(records_to_batch([done, group, cut, gone, custom])) == Counter(
        {"SUCCESS": 1, "GROUP": 1, "unreadable": 1, "PROGRESS": 1}
    )
    assert batch_census(records_to_batch([])) == Counter()
    assert batch_census(records_to_batch([done, group])) == Counter({"SUCCESS": 1, "GROUP": 1})  # no status, no error
    # A string table holding one status twice (an index written by something else): both counted.
    twice = records_to_batch([done, custom, done])
    twice["strings"].append("SUCCESS")
    twice["columns"][ROW_FIELDS.index("status")][0] = len(twice["strings"]) - 1
    assert batch_census(twice) == Counter({"SUCCESS": 2, "PROGRESS": 1})


def test_a_census_counts_a_row_with_both_a_status_and_an_error_as_unreadable():
    """A row's error wins over its status (``display_status``): counted once, as unreadable."""
    done = summarize("a", "task", TASK_PREFIX, decode(b'{"status": "SUCCESS"}'), size=21, mtime=1.0)
    batch = records_to_batch([done, done, done])
    batch["columns"][ROW_FIELDS.index("error")][1] = ["truncated", "truncated JSON", " at byte 9"]
    assert batch_census(batch) == Counter({"SUCCESS": 2, "unreadable": 1})
    assert batch_census(batch) == Counter(map(display_status, records_from_batch(batch)))


def test_a_census_counts_each_of_several_groups_unreadable_and_statusless_rows():
    def record(task_id: str, raw: bytes, kind: str = "task", prefix: str = TASK_PREFIX) -> TaskRecord:
        return summarize(task_id, kind, prefix, decode(raw), size=len(raw), mtime=1.0)

    done = record("a", b'{"status": "SUCCESS"}')
    groups = [record(g, b'{"result": []}', "group", GROUP_PREFIX) for g in ("b", "c")]
    cuts = [record(c, b'{"status": "SUCC') for c in ("d", "e")]
    bare = [TaskRecord(t, TASK_PREFIX) for t in ("f", "g")]  # no status and no error (an index by hand)
    batch = records_to_batch([done, *groups, *cuts, *bare])
    assert batch_census(batch) == Counter({"SUCCESS": 1, "GROUP": 2, "unreadable": 2, "": 2})
    assert batch_census(batch) == Counter(map(display_status, records_from_batch(batch)))


def test_readers_whose_shares_cut_a_chunk_send_each_row_once(samples: Path, tmp_path: Path, monkeypatch):
    """The readers of a reopen may share the ids elsewhere than those of the scan that wrote the
    index: a chunk holding ids of two shares is never forwarded whole (each reader sends only its
    own rows of it); the chunks wholly in a share are."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache", chunk=5)
    ids = [r.task_id for r in fresh_records(samples)]
    cut = ids[7]  # inside the second chunk (ids 5-9)
    made: list[list[int]] = []
    real_batch_of = IndexChunk.batch_of
    monkeypatch.setattr(IndexChunk, "batch_of", lambda self, rows: made.append(rows) or real_batch_of(self, rows))
    first, note = read_with_index(samples, index, "--to", cut.encode().hex(), monkeypatch=monkeypatch)
    assert note == {"reused": 7, "read": 0, "problem": None, "listed": True}
    second, note = read_with_index(samples, index, "--from", cut.encode().hex(), monkeypatch=monkeypatch)
    assert note == {"reused": SAMPLE_COUNT - 7, "read": 0, "problem": None, "listed": True}
    assert [r.task_id for r in first] == ids[:7] and [r.task_id for r in second] == ids[7:]
    assert rows(first + second) == rows(fresh_records(samples))
    assert made == [[0, 1], [2, 3, 4]]  # only the cut chunk's rows made again, on each side


def test_a_reader_reads_again_an_unchanged_file_the_index_holds_but_does_not_trust(
    samples: Path, tmp_path: Path, monkeypatch
):
    """A chunk whose files are all unchanged is forwarded whole only when every row of it may be
    trusted: a file written just before the indexing scan, or indexed with an error, is read."""
    aged(samples)
    racy, broken = sorted(samples.iterdir())[2], sorted(samples.iterdir())[8]
    now = time.time()
    os.utime(racy, (now - 1, now - 1))
    broken.write_bytes(b'{"status": "SUCC')  # indexed as unreadable
    os.utime(broken, (HOUR_AGO, HOUR_AGO))
    index = write_index(samples, tmp_path / "cache", started=now, chunk=5)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note == {"reused": SAMPLE_COUNT - 2, "read": 2, "problem": None, "listed": True}
    assert rows(records) == rows(fresh_records(samples))


def test_a_file_that_cannot_be_stated_in_a_whole_chunk_is_checked_file_by_file(
    samples: Path, tmp_path: Path, monkeypatch
):
    """A file of an indexed chunk that cannot be ``lstat``ed when the chunk is checked: the
    chunk is not forwarded, its files are checked one by one, and that one is read."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache", chunk=5)
    target = sorted(samples.iterdir())[6].name
    real_stat = os.stat
    failed = []

    def stat_once(path, *args, **kwargs):
        if path == target:
            failed.append(path)
            raise PermissionError(13, "not now")
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(child_scan.os, "stat", stat_once)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert failed == [target, target]  # the chunk's check, then its own
    assert note == {"reused": SAMPLE_COUNT - 1, "read": 1, "problem": None, "listed": True}
    assert rows(records) == rows(fresh_records(samples))


def test_a_same_size_rewrite_with_a_new_mtime_is_read_again(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    target = sorted(samples.iterdir())[3]
    os.utime(target, (HOUR_AGO + 1, HOUR_AGO + 1))
    _, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["reused"] == SAMPLE_COUNT - 1 and note["read"] == 1


def test_a_file_replaced_by_a_symlink_is_read_again(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    cache = tmp_path / "cache"
    index = write_index(samples, cache)
    target = sorted(samples.iterdir())[3]
    kept = tmp_path / "kept"
    target.rename(kept)
    target.symlink_to(kept)  # same mtime and size behind the link
    os.utime(target, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["read"] == 1
    assert rows(records) == rows(fresh_records(samples))  # the careful read's verdict on a symlink


def test_the_reader_ignores_an_index_of_another_directory(samples: Path, tmp_path: Path, monkeypatch):
    """The reader checks the directory it lists itself (it may be replaced after the inspector opened the index)."""
    aged(samples)
    other = aged(Path(shutil.copytree(samples, tmp_path / "other")))
    index = write_index(other, tmp_path / "cache")
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["reused"] == 0 and "another directory" in note["problem"]
    assert rows(records) == rows(fresh_records(samples))


def test_allow_pickle_never_takes_summaries_from_an_index(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    _, note = read_with_index(samples, index, "--allow-pickle", monkeypatch=monkeypatch)
    assert note["reused"] == 0 and note["read"] == SAMPLE_COUNT


def test_a_reader_walks_the_index_one_chunk_at_a_time(samples: Path, tmp_path: Path):
    """Asked in id order (a reader's share), with ids the index does not hold in between: the same
    records as loading the share whole, whichever chunk they are in."""
    from taskview.sources.scan_index import ShareWalk

    aged(samples)
    cache = tmp_path / "cache"
    write_index(samples, cache, chunk=4)
    whole = load(samples, cache)
    ids = sorted(whole)
    asked = sorted([*ids, "0", ids[0] + "0", ids[9] + "x", "zz"])  # absent ones before, between, after
    fd, header = open_index(str(samples), str(cache), ResultDirectory(str(samples)).max_bytes)
    try:
        walk = ShareWalk(fd, header, ids[2], None)
        got = {task_id: walk.get(task_id) for task_id in asked}
    finally:
        os.close(fd)
    assert {k: v for k, v in got.items() if v is not None}.keys() == set(ids[2:])
    assert all(got[task_id] is not None and got[task_id].task_id == task_id for task_id in ids[2:])


def test_a_reader_reads_the_files_of_a_corrupt_chunk(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    data = bytearray(index.read_bytes())
    at = data.index(b"sampletasks.")
    data[at] = ord("S")
    index.write_bytes(bytes(data))
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["reused"] == SAMPLE_COUNT - 5 and note["read"] == 5 and note["problem"] == ONE_CORRUPT
    assert rows(records) == rows(fresh_records(samples))


def test_a_reader_reads_the_files_of_a_chunk_whose_key_is_corrupt(samples: Path, tmp_path: Path, monkeypatch):
    """A reopen checks and counts a chunk by its key alone: a key whose CRC fails is no key, and
    its chunk's files are read (its line, whole, is not used either)."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    data = bytearray(index.read_bytes())
    at = data.index(b'"mtimes":[') + len(b'"mtimes":[') + 2  # a digit of the first key's first mtime
    data[at] = ord("0") if data[at] != ord("0") else ord("1")
    index.write_bytes(bytes(data))
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["reused"] == SAMPLE_COUNT - 5 and note["read"] == 5 and note["problem"] == ONE_CORRUPT
    assert rows(records) == rows(fresh_records(samples))


# --- a directory whose entries are as indexed: its names taken from the index, not listed ------------


def test_an_index_keeps_the_directorys_times_when_it_holds_every_file_and_they_are_not_racy(
    samples: Path, tmp_path: Path
):
    aged(samples)
    st = os.stat(samples)
    assert header_of(as_indexed(samples, tmp_path / "a"), samples).dir_times == (st.st_mtime_ns, st.st_ctime_ns)
    # Changed less than RACY_SECONDS before the indexing scan (just made): a file made after the
    # readers listed it, within one tick of the filesystem's clock, would leave its times as they are.
    assert st.st_ctime > time.time() - RACY_SECONDS
    assert header_of(write_index(samples, tmp_path / "b", listed=SAMPLE_COUNT), samples).dir_times is None
    # Fewer rows than the readers listed files (a file it has no row of), or not every reader said.
    late = time.time() + RACY_SECONDS + 1
    short = write_index(samples, tmp_path / "c", started=late, listed=SAMPLE_COUNT + 1)
    assert header_of(short, samples).dir_times is None
    assert header_of(write_index(samples, tmp_path / "d", started=late), samples).dir_times is None


def test_a_reader_of_a_directory_as_indexed_takes_its_names_from_the_index(samples: Path, tmp_path: Path, monkeypatch):
    """Files rewritten in place leave the directory's entries, and its times, as they were: no
    listing, and still every changed file read again."""
    aged(samples)
    index = as_indexed(samples, tmp_path / "cache", chunk=3)
    started = status_file(samples, "STARTED")
    started.write_bytes(status_file(samples, "REVOKED").read_bytes())  # the task went on, in place
    expected = rows(fresh_records(samples))
    forbid_listing(monkeypatch)
    records, note = read_with_index(samples, index, "--names-from-index", monkeypatch=monkeypatch)
    assert note == {"reused": SAMPLE_COUNT - 1, "read": 1, "problem": None, "listed": False}
    assert rows(records) == expected
    assert next(r for r in records if started.name.endswith(r.task_id)).status == "REVOKED"


@pytest.mark.parametrize("change", ["created", "removed", "renamed"])
def test_a_directory_whose_entries_changed_since_it_was_indexed_is_listed(
    samples: Path, tmp_path: Path, monkeypatch, change
):
    aged(samples)
    index = as_indexed(samples, tmp_path / "cache")
    st = os.stat(samples)
    victim = status_file(samples, "RETRY")
    if change == "created":
        shutil.copyfile(victim, samples / "celery-task-meta-new-one")
    elif change == "removed":
        victim.unlink()
    else:
        victim.rename(samples / "celery-task-meta-new-one")
    # Its mtime put back as it was indexed (tar, rsync and touch can): its ctime, which no
    # program can set, still says that it changed.
    os.utime(samples, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(samples).st_mtime_ns == st.st_mtime_ns
    records, note = read_with_index(samples, index, "--names-from-index", monkeypatch=monkeypatch)
    assert note["listed"] is True and note["problem"] is None
    assert rows(records) == rows(fresh_records(samples))
    assert ("new-one" in {r.task_id for r in records}) is (change != "removed")


def test_names_are_listed_unless_the_inspector_says_the_directorys_times_can_be_trusted(
    samples: Path, tmp_path: Path, monkeypatch
):
    """Without --names-from-index a reader lists, whatever the index kept: the tail passes it only
    where a directory's times can be trusted (tests/integration/test_scan_index.py)."""
    aged(samples)
    index = as_indexed(samples, tmp_path / "cache")
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["listed"] is True and rows(records) == rows(fresh_records(samples))


def test_a_corrupt_key_sends_a_reader_back_to_listing_its_share(samples: Path, tmp_path: Path, monkeypatch):
    """Its names cannot be read from a chunk whose key is corrupt: the share is listed, every file
    is in it, and the chunk is counted corrupt once."""
    aged(samples)
    index = as_indexed(samples, tmp_path / "cache")
    data = bytearray(index.read_bytes())
    at = data.index(b'"ids":"') + len(b'"ids":"') + 2  # a character of the second chunk's first id
    at = data.index(b'"ids":"', at) + len(b'"ids":"') + 2
    data[at] = ord("z") if data[at] != ord("z") else ord("y")
    index.write_bytes(bytes(data))
    records, note = read_with_index(samples, index, "--names-from-index", monkeypatch=monkeypatch)
    assert note == {"reused": SAMPLE_COUNT - 5, "read": 5, "problem": ONE_CORRUPT, "listed": True}
    assert rows(records) == rows(fresh_records(samples))


def test_an_index_that_holds_a_task_twice_is_not_taken_for_the_listing(samples: Path, tmp_path: Path, monkeypatch):
    """Written by no reader (each sends a task once), whatever its times say: the share is listed."""
    aged(samples)
    records = readers_records(samples)
    writer = IndexWriter(str(samples), str(tmp_path), ResultDirectory(str(samples)).max_bytes, time.time() + 10)
    for part in (records[:5], records[4:]):  # the fifth task in both chunks
        batch = records_to_batch(part)
        writer.add(child_scan._dumps(batch), part, key_line(batch))
    assert writer.commit(SAMPLE_COUNT + 1)
    assert header_of(Path(writer.path), samples).dir_times is not None
    read, note = read_with_index(samples, Path(writer.path), "--names-from-index", monkeypatch=monkeypatch)
    assert note["listed"] is True
    assert [r.task_id for r in read] == [r.task_id for r in records]


def status_file(directory: Path, status: str) -> Path:
    return next(p for p in sorted(directory.iterdir()) if json.loads(p.read_bytes()).get("status") == status)


def forged_index(directory: Path, cache: Path, forge, chunks: int = 1) -> Path:
    """``write_index``'s index with its first ``chunks`` chunks' key lines made by
    ``forge(key_dict)``, their CRC right: only what a key says tells it from a true one."""
    records = fresh_records(directory)
    writer = IndexWriter(str(directory), str(cache), ResultDirectory(str(directory)).max_bytes, time.time())
    for at in range(0, len(records), 5):
        part = records[at : at + 5]
        batch = records_to_batch(part)
        key = key_line(batch)
        if at < 5 * chunks:
            keyed = json.loads(key)
            forge(keyed["key"])
            key = json.dumps(keyed).encode() + b"\n"
        writer.add(child_scan._dumps(batch), part, key)
    assert writer.commit()
    return Path(writer.path)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key: key.update(mtimes=["1"] * 5), id="mtimes not numbers"),
        pytest.param(lambda key: key.update(sizes=key["sizes"][:4]), id="a size short"),
        pytest.param(lambda key: key.update(ids=key["ids"] + "/zzz"), id="an id past the table's last"),
        pytest.param(lambda key: key.update(errors=-1), id="errors below none"),
        pytest.param(lambda key: key.update(odd=[[7, "celery-taskset-meta-"]]), id="an odd row past the rows"),
        pytest.param(lambda key: key.update(census={"SUCCESS": -5}), id="a census below nothing"),
        pytest.param(lambda key: key.pop("census"), id="no census"),
    ],
)
def test_a_key_that_is_none_is_a_corrupt_chunk(samples: Path, tmp_path: Path, monkeypatch, forge):
    aged(samples)
    index = forged_index(samples, tmp_path / "cache", forge)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["reused"] == SAMPLE_COUNT - 5 and note["read"] == 5 and note["problem"] == ONE_CORRUPT
    assert rows(records) == rows(fresh_records(samples))


def test_every_key_that_is_none_is_counted(samples: Path, tmp_path: Path, monkeypatch):
    aged(samples)
    index = forged_index(samples, tmp_path / "cache", lambda key: key.update(errors=-1), chunks=2)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["problem"] == "2 corrupt chunk(s): their files read" and note["read"] == 10
    assert rows(records) == rows(fresh_records(samples))


def first_line_unreadable(index: Path, monkeypatch) -> None:
    """Reads of the index's first chunk's line fail (EIO), and only those."""
    first_line_at = index.read_bytes().index(b"\n") + 1
    real_pread = os.pread

    def failing(fd: int, length: int, offset: int) -> bytes:
        if offset == first_line_at:
            raise OSError(5, "Input/output error")
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", failing)


def test_a_line_that_cannot_be_read_as_its_files_are_checked_ends_nothing(samples: Path, tmp_path: Path, monkeypatch):
    """A file of the first chunk changed: its rows are asked for, file by file, and its line cannot
    be read. Its files are read; the chunks after it still come from the index."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    first = min(p for p in samples.iterdir() if p.name.startswith(TASK_PREFIX))
    os.utime(first, (HOUR_AGO + 5, HOUR_AGO + 5))  # the first chunk's first file
    first_line_unreadable(index, monkeypatch)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    problem = "cannot read it: Input/output error"
    assert note == {"reused": SAMPLE_COUNT - 5, "read": 5, "problem": problem, "listed": True}
    assert rows(records) == rows(fresh_records(samples))


def test_a_chunk_whose_rows_are_not_what_its_key_says_is_never_forwarded(samples: Path, tmp_path: Path, monkeypatch):
    """The first chunk's key is true to its files (all unchanged), its line (CRC right) holds
    other mtimes: the reader counts by the key, checks the line before it sends it, and reads
    the chunk's files instead of sending rows that are not the files'."""
    aged(samples)
    records = fresh_records(samples)
    writer = IndexWriter(str(samples), str(tmp_path / "cache"), ResultDirectory(str(samples)).max_bytes, time.time())
    for at in range(0, len(records), 5):
        part = records[at : at + 5]
        batch = records_to_batch(part)
        key = key_line(batch)
        if at == 0:
            batch["columns"][ROW_FIELDS.index("mtime")] = [HOUR_AGO - 60] * len(part)
        writer.add(child_scan._dumps(batch), part, key)
    assert writer.commit()
    sent, note = read_with_index(samples, Path(writer.path), monkeypatch=monkeypatch)
    assert rows(sent) == rows(records)
    assert note["reused"] == SAMPLE_COUNT - 5 and note["read"] == 5 and note["problem"] == ONE_CORRUPT


def test_a_reopen_with_an_index_without_keys_forwards_its_chunks_all_the_same(
    samples: Path, tmp_path: Path, monkeypatch
):
    """Chunks with no key are checked and counted from their rows, and sent on with the key made of
    them (for the next index)."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache", keys=False)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)  # each line after its key
    assert note == {"reused": SAMPLE_COUNT, "read": 0, "problem": None, "listed": True}
    assert rows(records) == rows(fresh_records(samples))


def break_lines(index: Path, chunks: int, how) -> None:
    """``how(line)`` of the first ``chunks`` chunks' lines, in place (the same length)."""
    data = bytearray(index.read_bytes())
    at = data.index(b"\n") + 1  # past the header
    for _ in range(chunks):
        end = data.index(b"\n", at) + 1
        data[at:end] = how(bytes(data[at:end]))
        at = data.index(b"\n", end) + 1  # past its key
    index.write_bytes(bytes(data))


def test_every_corrupt_chunk_is_counted(samples: Path, tmp_path: Path, monkeypatch):
    """Two chunks whose lines fail their CRC, or whose lines are not what their keys say, or that
    have no key and are no batch: each counted."""
    aged(samples)

    def flip(line: bytes) -> bytes:  # a byte of the rows: the CRC fails
        at = line.index(b"sampletasks.")
        return line[:at] + b"S" + line[at + 1 :]

    def other_mtime(line: bytes) -> bytes:  # the CRC made right again below: not the key's mtimes
        aged_at = str(int(HOUR_AGO)).encode()  # every file's mtime (aged): the second before it
        assert aged_at in line
        return line.replace(aged_at, str(int(HOUR_AGO) - 1).encode(), 1)

    for how in (flip, other_mtime):
        index = write_index(samples, tmp_path / how.__name__)
        break_lines(index, 2, how)
        if how is other_mtime:
            fix_crcs(index)
        records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
        assert note["problem"] == "2 corrupt chunk(s): their files read", how.__name__
        assert note["read"] == 10 and rows(records) == rows(fresh_records(samples))


def fix_crcs(index: Path) -> None:
    """The table's CRCs made right for what the lines now hold."""
    import zlib

    data = index.read_bytes()
    table_at = int(data[-17:-1], 16)
    table = json.loads(data[table_at:-17])
    for entry in table["chunks"]:
        entry[4] = zlib.crc32(data[entry[2] : entry[2] + entry[3]])
    index.write_bytes(data[:table_at] + json.dumps(table).encode() + b"\n" + b"%016x\n" % table_at)


def test_a_chunk_whose_line_cannot_be_read_says_so(samples: Path, tmp_path: Path, monkeypatch):
    """Its key read, its line not (the disk failed between): its files are read and the reader's
    note says why."""
    aged(samples)
    index = write_index(samples, tmp_path / "cache")
    first_line_unreadable(index, monkeypatch)
    records, note = read_with_index(samples, index, monkeypatch=monkeypatch)
    assert note["problem"] == "cannot read it: Input/output error" and note["read"] == 5
    assert rows(records) == rows(fresh_records(samples))


def test_writing_removes_old_versions_and_a_crashed_writers_temporaries(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    old_version = cache / "scan-fe00-1234.v0"
    crashed = cache / ".scan-abcdefgh.tmp"
    being_written = cache / ".scan-ijklmnop.tmp"  # another taskview's, now
    someone_elses = cache / "notes.txt"
    for path in (old_version, crashed, being_written, someone_elses):
        path.write_text("")
    os.utime(crashed, (HOUR_AGO - 2 * 86400, HOUR_AGO - 2 * 86400))
    index = write_index(samples, cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted([index.name, being_written.name, someone_elses.name])


def test_readers_share_the_names_by_id_one_file_a_task_the_last_by_name(tmp_path: Path, monkeypatch):
    """Celery's own names, a group file, a global_keyprefix naming a task a plain file names too,
    and names that are no result: each task once (of two files, the last name), in id order,
    each in the share its id falls in; with an index of them or without."""
    template = next(p for p in sorted(SAMPLE_RESULTS.iterdir()) if p.name.startswith("celery-task-meta-")).read_bytes()
    names = {
        "celery-task-meta-b1": "b1",
        "celery-task-meta-a7": "a7",
        "celery-task-meta-d0": "d0",
        "celery-taskset-meta-c3": "c3",  # a group: its own name, among the tasks by id
        "celery-task-meta-a2": "a2",
        "proj:celery-task-meta-a2": "a2",  # the same task under a keyprefix: the later name
        "proj:celery-task-meta-e5": "e5",
        "celery-task-meta-": None,  # no id
        ".fs-backend-probe": None,
        "notes.txt": None,
    }
    for name in names:
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / name).write_bytes(template)
    directory = aged(tmp_path / "d")
    expected = {  # id -> the file that is its row
        "a2": "proj:celery-task-meta-a2",
        "a7": "celery-task-meta-a7",
        "b1": "celery-task-meta-b1",
        "c3": "celery-taskset-meta-c3",
        "d0": "celery-task-meta-d0",
        "e5": "proj:celery-task-meta-e5",
    }
    index = write_index(directory, tmp_path / "cache", chunk=2)
    as_listed = as_indexed(directory, tmp_path / "kept", chunk=3)  # chunks the shares' bounds cut
    for with_index, extra in ((None, []), (index, []), (as_listed, ["--names-from-index"])):
        if extra:
            forbid_listing(monkeypatch)  # the names as the index holds them
        shares = []
        for bounds in (["--to", b"b1".hex()], ["--from", b"b1".hex(), "--to", b"d0".hex()], ["--from", b"d0".hex()]):
            records, note = read_with_index(directory, with_index, *bounds, *extra, monkeypatch=monkeypatch)
            assert with_index is None or note["listed"] is not extra
            shares.append([(r.task_id, r.filename) for r in records])
        assert shares == [
            [("a2", expected["a2"]), ("a7", expected["a7"])],
            [("b1", expected["b1"]), ("c3", expected["c3"])],
            [("d0", expected["d0"]), ("e5", expected["e5"])],
        ]


def test_a_batch_of_some_rows_holds_those_records_and_only_what_they_use():
    from taskview.results.record import select_rows

    records = fresh_records(SAMPLE_RESULTS)
    batch = json.loads(child_scan._dumps(records_to_batch(records)))
    assert batch["links"], "the samples have tasks with links (their exception lines, groups, parents)"
    for picked in ([], [0], [1, 4, 7], list(range(0, len(records), 2)), list(range(len(records)))):
        part = select_rows(batch, picked)
        assert rows(records_from_batch(part)) == rows(records[at] for at in picked)
        made = [records[at] for at in picked]
        assert {r.task_id: r.links for r in records_from_batch(part)} == {r.task_id: r.links for r in made}
        # its strings and links: those of these records, each once
        assert sorted(part["strings"]) == sorted(
            {v for r in made for v in (r.prefix, r.status, r.name, r.worker) if v is not None}
        )
        assert len(part["links"]) == len({r.links for r in made if r.links is not None})


def test_a_reader_whose_census_came_is_not_read_while_another_is_still_checking():
    """A reopen's rows wait in the pipe of a reader that has sent its census while another has
    said nothing yet: taking them in would slow the last census, which the counts wait for."""
    from types import SimpleNamespace

    from taskview.sources.child_scan import ReaderPool

    now = time.monotonic()
    counted = SimpleNamespace(census=Counter(SUCCESS=3), census_at=now, spoke=True)
    checking = SimpleNamespace(census=None, census_at=0.0, spoke=False)
    streaming = SimpleNamespace(census=None, census_at=0.0, spoke=True)  # no census: its rows go as read
    hold = ReaderPool._hold
    assert hold(counted, [counted, checking])  # type: ignore[arg-type]
    assert not hold(checking, [counted, checking])  # type: ignore[arg-type]
    assert not hold(counted, [counted, streaming])  # type: ignore[arg-type]
    assert not hold(counted, [counted])  # type: ignore[arg-type]
    assert not hold(streaming, [streaming, checking])  # type: ignore[arg-type]
    # A reader stuck on a file (a hung mount) holds the others' rows back for so long only.
    counted.census_at = now - child_scan.CENSUS_HOLD_SECONDS - 0.1
    assert not hold(counted, [counted, checking])  # type: ignore[arg-type]
