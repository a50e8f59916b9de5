"""Reopening a big directory: the tail's first scan with a scan index, through its reader processes and the CLI."""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import stat
import time
import uuid
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_COUNT
from helpers.tail import collect, run_tail
from helpers.terminal import Terminal
from taskview.results.record import ROW_FIELDS
from taskview.results.scan import ResultDirectory
from taskview.sources import scan_index
from taskview.sources import tail as tail_module
from taskview.sources.child_scan import BIG_DIRECTORY_BYTES
from taskview.sources.scan_index import index_name, key_line, read_header
from taskview.sources.tail import DirectoryTail
from taskview.store import first_sight

HOUR_AGO = time.time() - 3600
TIMES = ("first_seen", "last_change", "started")


def aged(directory: Path) -> None:
    for path in directory.iterdir():
        os.utime(path, (HOUR_AGO, HOUR_AGO), follow_symlinks=False)


def scan_batches(directory: Path, cache: Path | None):
    """The batches of a big directory's first scan (in reader processes: child_scan_bytes=0), and the tail."""
    tail, batches = run_tail(
        directory, child_scan_bytes=0, first_batch=3, cache_dir=None if cache is None else str(cache)
    )
    try:
        return collect(batches, lambda seen: any(b.scan_done for b in seen)), tail
    finally:
        tail.stop()


def first_scan(directory: Path, cache: Path | None):
    """The records a big directory's first scan sends, and the tail."""
    seen, tail = scan_batches(directory, cache)
    records = {}
    for batch in seen:
        for record in batch.records:
            records[record.task_id] = record
        for task_id in batch.removed:
            records.pop(task_id, None)
    return records, tail


def rows(records) -> dict[str, list]:
    return {r.task_id: [getattr(r, f) for f in (*ROW_FIELDS, *TIMES)] for r in records}


def fresh(directory: Path):
    records = [r for batch in ResultDirectory(str(directory)).scan() for r in batch]
    first_sight(records)  # the times the store gives a task a first scan found
    return records


def status_file(directory: Path, status: str) -> Path:
    return next(p for p in sorted(directory.iterdir()) if json.loads(p.read_bytes()).get("status") == status)


def test_a_reopened_directory_reads_only_what_changed(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    records, tail = first_scan(samples, cache)
    assert tail.index_use == {"reused": 0, "read": SAMPLE_COUNT}
    st = os.stat(samples)
    index = cache / index_name(st.st_dev, st.st_ino)
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    assert rows(records.values()) == rows(fresh(samples))

    # Between the two sessions: a task went on, one file was deleted, one arrived.
    started, revoked, retry = (status_file(samples, s) for s in ("STARTED", "REVOKED", "RETRY"))
    shutil.copyfile(revoked, started)
    retry.unlink()
    shutil.copyfile(revoked, samples / "celery-task-meta-arrived-since")

    again, tail = first_scan(samples, cache)
    # The readers opened only the changed and the new file; every other file kept its indexed summary.
    assert tail.index_use == {"reused": SAMPLE_COUNT - 2, "read": 2}
    assert rows(again.values()) == rows(fresh(samples))  # the same records and times as a fresh scan
    assert again[started.name.removeprefix("celery-task-meta-")].status == "REVOKED"
    assert retry.name.removeprefix("celery-task-meta-") not in again and "arrived-since" in again

    # That scan wrote the index anew, with what it found.
    assert b"arrived-since" in index.read_bytes()


def test_a_reopen_sends_whole_counts_before_the_rows_are_all_in(samples: Path, tmp_path: Path):
    """The readers check every file against the index, then send their census: one batch says
    how many tasks the scan will hold by status, before the last rows come."""
    aged(samples)
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    started, revoked = (status_file(samples, s) for s in ("STARTED", "REVOKED"))
    shutil.copyfile(revoked, started)
    (samples / "celery-task-meta-cut-short").write_bytes(b'{"status": "SUCC')
    seen, _ = scan_batches(samples, cache)
    [at] = [n for n, batch in enumerate(seen) if batch.census is not None]
    # sample_results/ counted by hand, a STARTED task since REVOKED, and a file caught mid-write.
    assert seen[at].census == {
        "SUCCESS": 12,
        "FAILURE": 2,
        "REVOKED": 3,
        "RETRY": 1,
        "PROGRESS": 1,
        "GOING_TO_SLEEP": 1,
        "GROUP": 1,
        "unreadable": 1,
    }
    assert seen[at].scanning and not seen[at].scan_done
    assert any(batch.records for batch in seen[at + 1 :])  # rows still to come when it arrived


def test_a_reopen_of_an_unchanged_directory_keeps_its_index_as_it_is(samples: Path, tmp_path: Path):
    """Nothing changed since the index was written: no new one is written (at 1M, 174 MB a
    reopen), none is left half-written; once a file changed, the next scan writes it anew."""
    aged(samples)
    cache = tmp_path / "cache"
    _, tail = first_scan(samples, cache)
    assert not tail.index_kept
    [index] = cache.iterdir()
    before = index.stat()
    (samples / "celery-task-meta-0ed8f19c-de1d-4d76-8ca4-fec237612888").unlink()  # a file gone is no change
    again, tail = first_scan(samples, cache)
    assert tail.index_kept and tail.index_use == {"reused": SAMPLE_COUNT - 1, "read": 0}
    assert list(cache.iterdir()) == [index]  # no temporary left
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(again) == SAMPLE_COUNT - 1

    started, revoked = (status_file(samples, s) for s in ("STARTED", "REVOKED"))
    shutil.copyfile(revoked, started)
    _, tail = first_scan(samples, cache)
    assert not tail.index_kept and tail.index_use == {"reused": SAMPLE_COUNT - 2, "read": 1}
    assert list(cache.iterdir()) == [index] and index.stat().st_ino != before.st_ino  # written anew


def test_a_reopen_of_a_directory_whose_entries_are_as_indexed_lists_nothing(
    samples: Path, tmp_path: Path, monkeypatch, caplog
):
    """Its times unchanged since before the indexing scan listed it: each reader takes its file
    names from the index (and still checks every file); once a file arrives, they list again."""
    aged(samples)
    monkeypatch.setattr(scan_index, "RACY_SECONDS", 0.0)  # made just now: not racy for this test
    time.sleep(0.05)  # a tick of the filesystem's clock after the directory's last change
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    said = "readers took their file names from the index"
    started, revoked = (status_file(samples, s) for s in ("STARTED", "REVOKED"))
    started.write_bytes(revoked.read_bytes())  # in place: the directory's entries as they were
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        records, tail = first_scan(samples, cache)
    readers = tail.readers
    assert f"{readers} of {readers} {said}" in caplog.text
    assert tail.index_use == {"reused": SAMPLE_COUNT - 1, "read": 1}
    assert rows(records.values()) == rows(fresh(samples))

    caplog.clear()
    shutil.copyfile(revoked, samples / "celery-task-meta-new-one")
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        records, tail = first_scan(samples, cache)
    assert said not in caplog.text and "new-one" in records
    assert rows(records.values()) == rows(fresh(samples))


def test_the_index_writer_takes_the_directorys_times_before_the_readers_list_it(
    samples: Path, tmp_path: Path, monkeypatch
):
    """A file made between the readers' listing and the writer's look at the directory would be
    in neither the index nor its times: the next reopen would not list it, nor read it."""
    order: list[str] = []
    writer, pool = tail_module.IndexWriter, tail_module.ReaderPool

    def noted(name, made):
        def make(*args, **kwargs):
            order.append(name)
            return made(*args, **kwargs)

        return make

    monkeypatch.setattr(tail_module, "IndexWriter", noted("writer", writer))
    monkeypatch.setattr(tail_module, "ReaderPool", noted("readers", pool))
    first_scan(samples, tmp_path / "cache")
    assert order == ["writer", "readers"]


@pytest.mark.parametrize(("fs_type", "trusted"), [("ext4", True), ("fuse.mergerfs", False), ("nfs4", False)])
def test_names_come_from_the_index_only_where_the_filesystem_keeps_directory_times(
    samples: Path, tmp_path: Path, monkeypatch, caplog, fs_type, trusted
):
    """mergerfs shows one branch's times of a union (a file made on another changes none), network
    and object-store mounts other hosts' or made-up ones: there the readers always list."""
    aged(samples)
    monkeypatch.setattr(scan_index, "RACY_SECONDS", 0.0)
    time.sleep(0.05)
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    monkeypatch.setattr(tail_module, "filesystem_type", lambda path: fs_type)
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        records, _ = first_scan(samples, cache)
    assert ("readers took their file names from the index" in caplog.text) is trusted
    assert rows(records.values()) == rows(fresh(samples))


def test_a_kept_index_without_the_directorys_times_is_written_anew_with_them(
    samples: Path, tmp_path: Path, monkeypatch, caplog
):
    """Indexed within RACY_SECONDS of a change (or changed since by a file made and gone, as
    Celery's probe is), an unchanged directory is listed: its index is written again, this time
    with the directory's times, and the next reopen lists nothing and keeps it."""
    aged(samples)
    cache = tmp_path / "cache"
    monkeypatch.setattr(scan_index, "RACY_SECONDS", 3600.0)  # the directory changed within the hour
    first_scan(samples, cache)
    [index] = cache.iterdir()
    monkeypatch.setattr(scan_index, "RACY_SECONDS", 0.0)
    time.sleep(0.05)
    made = index.stat().st_ino
    _, tail = first_scan(samples, cache)
    assert not tail.index_kept and index.stat().st_ino != made  # written anew
    made = index.stat().st_ino
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        records, tail = first_scan(samples, cache)
    assert tail.index_kept and index.stat().st_ino == made
    assert f"{tail.readers} of {tail.readers} readers took their file names from the index" in caplog.text
    assert rows(records.values()) == rows(fresh(samples))


def test_the_index_the_tail_writes_holds_each_chunks_key(samples: Path, tmp_path: Path):
    """Each chunk's key, as its reader printed it before the batch line, lies right after it."""
    aged(samples)
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    [index] = cache.iterdir()
    st = os.stat(samples)
    fd = os.open(index, os.O_RDONLY)
    try:
        header = read_header(fd, st.st_dev, st.st_ino, ResultDirectory(str(samples)).max_bytes)
        assert header.chunks and all(chunk[5] is not None for chunk in header.chunks)
        for _, _, offset, length, _, (key_at, key_length, _) in header.chunks:
            assert key_at == offset + length
            line = json.loads(os.pread(fd, length, offset))
            assert os.pread(fd, key_length, key_at) == key_line(line)
    finally:
        os.close(fd)


def test_an_index_kept_then_found_corrupt_as_its_rows_go_is_dropped(samples: Path, tmp_path: Path):
    """A reopen keeps an unchanged directory's index on its readers' census, which its chunks'
    keys make; a chunk whose line then proves corrupt (its CRC) has its files read, and the index
    goes: the next first scan writes a whole one instead of reading those files at every reopen."""
    aged(samples)
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    [index] = cache.iterdir()
    data = bytearray(index.read_bytes())
    at = data.index(b"sampletasks.")  # in the first chunk's line (names are not in its key)
    data[at] = ord("S")
    index.write_bytes(bytes(data))
    again, tail = first_scan(samples, cache)
    assert len(again) == SAMPLE_COUNT and not tail.index_kept
    assert tail.index_use is not None and tail.index_use["read"] > 0
    assert list(cache.iterdir()) == []
    _, tail = first_scan(samples, cache)
    assert [p.name for p in cache.iterdir()] == [index.name] and not tail.index_kept


def test_a_first_scan_without_an_index_sends_no_census(samples: Path, tmp_path: Path):
    aged(samples)
    for cache in (None, tmp_path / "cache"):  # none kept, and none there yet
        seen, _ = scan_batches(samples, cache)
        assert sum(len(b.records) for b in seen) >= SAMPLE_COUNT
        assert all(batch.census is None for batch in seen)


def test_a_scan_cut_short_leaves_the_last_index_and_no_temporary(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    first_scan(samples, cache)
    [index] = cache.iterdir()
    before = index.read_bytes()
    tail, batches = run_tail(samples, child_scan_bytes=0, first_batch=1, cache_dir=str(cache))
    collect(batches, lambda seen: len(seen) >= 1)
    tail.stop()  # quitting during the first scan (or just after it)
    tail._thread.join(10)  # its discard runs on the way out
    names = [p.name for p in cache.iterdir()]
    assert names == [index.name]  # no temporary left behind
    if tail.index_use is None:  # stopped before the readers were done: the last index is untouched
        assert index.read_bytes() == before


def test_without_a_cache_directory_nothing_is_indexed(samples: Path, tmp_path: Path):
    aged(samples)
    records, tail = first_scan(samples, None)
    assert tail.index_use is None and rows(records.values()) == rows(fresh(samples))


def test_allow_pickle_neither_uses_nor_keeps_an_index(samples: Path, tmp_path: Path):
    aged(samples)
    cache = tmp_path / "cache"
    batches: queue.SimpleQueue = queue.SimpleQueue()
    results = ResultDirectory(str(samples), allow_pickle=True)
    tail = DirectoryTail(results, batches.put, child_scan_bytes=0, cache_dir=str(cache))
    tail.start()
    try:
        seen = collect(batches, lambda seen: any(b.scan_done for b in seen))
    finally:
        tail.stop()
    assert sum(len(b.records) for b in seen) == SAMPLE_COUNT
    assert tail.index_use is None and not cache.exists()


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _big_directory(path: Path) -> None:
    """A directory past the child-scan size: hard links to the real worker files under new task ids."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "sample_results", path)
    sources = sorted(path.iterdir())
    made = 0
    while os.stat(path).st_size < BIG_DIRECTORY_BYTES:
        for _ in range(500):
            os.link(sources[made % len(sources)], path / f"celery-task-meta-{uuid.uuid4()}")
            made += 1
    aged(path)


def test_the_inspector_keeps_an_index_unless_no_cache(tmp_path: Path):
    results = tmp_path / "results"
    _big_directory(results)
    st = os.stat(results)
    for cached in (False, True):
        cache_home = tmp_path / f"cache-{cached}"
        log_file = tmp_path / f"log-{cached}"
        args = [str(results), "--log", str(log_file)] + ([] if cached else ["--no-cache"])
        with Terminal(args, env={"XDG_CACHE_HOME": str(cache_home)}) as terminal:
            terminal.wait_for(lambda log_file=log_file: "reader processes" in _text(log_file), 120)
        log = log_file.read_text()
        index = cache_home / "taskview" / index_name(st.st_dev, st.st_ino)
        if cached:
            assert index.exists() and "scan index of" in log and "written" in log
        else:
            assert not cache_home.exists() and "scan index" not in log
