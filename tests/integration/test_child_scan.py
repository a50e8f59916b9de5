"""The first scan of a big directory in a child process: the same records as reading in-process."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from helpers.tail import collect, first_scan, run_tail
from taskview.results.record import ROW_FIELDS, records_from_batch, records_to_batch
from taskview.results.scan import ResultDirectory
from taskview.sources.child_scan import ChildScanFailed, ReaderPool, ReaderProcess, scan_in_child, worth_a_child
from taskview.sources.scan_index import IndexWriter, open_index


def rows(records) -> dict[str, list]:
    return {r.task_id: [getattr(r, f) for f in ROW_FIELDS] for r in records}


def test_child_rows_equal_an_in_process_scan(samples: Path):
    (samples / "celery-task-meta-cut").write_bytes(b'{"status": "SUCC')
    # A file name that is not UTF-8: its id carries surrogates, which orjson refuses.
    os.close(os.open(os.path.join(os.fsencode(samples), b"celery-task-meta-\xff\xfe"), os.O_CREAT | os.O_WRONLY, 0o644))
    results = ResultDirectory(str(samples))
    here = rows(r for batch in results.scan() for r in batch)
    there = rows(r for batch in scan_in_child(results, lambda: False) for r in batch)
    assert len(there) == SAMPLE_COUNT + 2 and there == here
    record = next(r for batch in scan_in_child(results, lambda: False) for r in batch if r.status == "SUCCESS")
    assert record.status is "SUCCESS"  # noqa: F632 - one string shared by every row again


def test_batch_lines_longer_than_a_pipe_read_arrive_whole(samples: Path, tmp_path: Path):
    """A reader's line of 2,000 rows is several 64 KiB pipe reads, and a read may end in the
    next line (a reopen's readers write theirs several at a time): each line joined whole."""
    sources = sorted(samples.glob("celery-task-meta-*"))
    for n in range(5000):
        os.link(sources[n % len(sources)], samples / f"celery-task-meta-linked-{n:05}")
    for path in samples.iterdir():
        os.utime(path, (time.time() - 3600,) * 2)  # older than the index: its rows are trusted
    results = ResultDirectory(str(samples))
    expected = rows(r for batch in results.scan() for r in batch)
    assert len(expected) == SAMPLE_COUNT + 5000
    writer = IndexWriter(str(samples), str(tmp_path), results.max_bytes, time.time())
    for index_fd in (None, "reopen"):
        if index_fd is not None:
            assert writer.commit()
            opened = open_index(str(samples), str(tmp_path), results.max_bytes)
            assert opened is not None
            index_fd = opened[0]
        on_line = writer.add if index_fd is None else None
        pool = ReaderPool(results, ["linked-02500"], index_fd=index_fd, on_line=on_line)
        if index_fd is not None:
            os.close(index_fd)
        got = [records for _, records in pool.batches(lambda: False, lambda: 0.05)]
        assert max(map(len, got)) == 2000  # lines of ~250 KB crossed the pipe
        assert rows(r for records in got for r in records) == expected
    assert [reader.note["reused"] for reader in pool.readers] == [SAMPLE_COUNT + 2500, 2500]


def test_the_tail_reads_a_big_directory_in_a_child(samples: Path):
    # The first 5 files are read in the tail's thread while the child starts; not twice.
    tail, batches = run_tail(samples, child_scan_bytes=0, first_batch=5)
    try:
        seen = collect(batches, lambda seen: any(b.scan_done for b in seen))
    finally:
        tail.stop()
    records = [r for b in seen for r in b.records]
    assert len(seen[0].records) == 5 and len(records) == SAMPLE_COUNT
    assert rows(records) == rows(r for batch in ResultDirectory(str(samples)).scan() for r in batch)
    assert seen[-1].scanned == SAMPLE_COUNT
    assert set(tail._known) == {r.task_id for r in records}  # reconciles know every file


def test_the_readers_shares_are_cut_at_the_listings_ids_not_only_the_first_screenfuls(
    samples: Path, monkeypatch: pytest.MonkeyPatch
):
    # Two files on the first screen: too few ids to cut two shares at (one reader would read all);
    # the listing's first names cut them, each share half the directory.
    from taskview.sources import tail as tail_module

    monkeypatch.setattr(tail_module, "reader_count", lambda: 2)
    for index in range(200):
        (samples / f"celery-task-meta-extra-{index:03}").write_bytes(b'{"status": "SUCCESS", "result": 1}')
    tail, seen = first_scan(samples, child_scan_bytes=0, first_batch=2)
    assert len(seen[0].records) == 2 and sum(len(b.records) for b in seen) == SAMPLE_COUNT + 200
    assert tail._reader is not None and len(tail._reader.readers) == 2
    shares = [reader.note["read"] for reader in tail._reader.readers if reader.note is not None]
    assert len(shares) == 2 and sum(shares) == SAMPLE_COUNT + 200 and min(shares) >= (SAMPLE_COUNT + 200) // 2 - 1


def test_a_failing_child_says_why(tmp_path: Path):
    gone = tmp_path / "gone"
    gone.mkdir()
    results = ResultDirectory(str(gone))
    shutil.rmtree(gone)
    with pytest.raises(ChildScanFailed, match="cannot read .*gone"):
        list(scan_in_child(results, lambda: False))


def test_only_big_plain_directories_get_a_child(samples: Path):
    from taskview.results.archive import ResultArchive  # noqa: F401 - archives are not tailed, but never forked

    results = ResultDirectory(str(samples))
    assert not worth_a_child(results)  # 21 files
    assert worth_a_child(results, min_bytes=0)


def test_rows_round_trip_every_field(samples: Path):
    for batch in ResultDirectory(str(SAMPLE_RESULTS)).scan():
        again = records_from_batch(records_to_batch(batch))
        assert rows(again) == rows(batch) and len(again) == len(batch)


def test_the_reader_process_imports_nothing_from_the_working_directory(samples: Path, monkeypatch, tmp_path: Path):
    """`cd /var/celery/results && taskview .`: a module planted there must not run in the child."""
    marker = tmp_path / "planted-code-ran"
    (samples / "orjson.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise ImportError('planted')\n")
    monkeypatch.chdir(samples)
    batches = list(scan_in_child(ResultDirectory("."), lambda: False))
    assert not marker.exists() and sum(len(b) for b in batches) == SAMPLE_COUNT


def test_stopping_the_tail_stops_its_reader_process(samples: Path):
    tail, batches = run_tail(samples, child_scan_bytes=0, first_batch=1)
    try:
        collect(batches, lambda seen: len(seen) >= 1)
    finally:
        tail.stop()
    assert tail._reader is not None and all(r._process.poll() is not None for r in tail._reader.readers)


def test_a_reader_process_runs_at_the_lowest_priority(samples: Path):
    # Two readers and the inspector on two cores: the inspector goes first (and a worker too).
    reader = ReaderProcess(ResultDirectory(str(samples)))
    try:
        batches = reader.batches(lambda: False)
        assert next(batches)  # its first batch: it is past its start-up
        pid = reader._process.pid
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(os.getpriority(os.PRIO_PROCESS, 0) + 19, 19)
    finally:
        reader.stop()


def test_the_reader_process_unpickles_only_with_allow_pickle(tmp_path: Path):
    import pickle

    from helpers.canary import CreatesAFile

    results = tmp_path / "results"
    results.mkdir()
    canary = tmp_path / "canary"
    payload = pickle.dumps({"status": "SUCCESS", "result": CreatesAFile(str(canary)), "task_id": "evil"})
    (results / "celery-task-meta-evil").write_bytes(payload)
    [record] = [r for batch in scan_in_child(ResultDirectory(str(results)), lambda: False) for r in batch]
    assert record.error.message.startswith("pickle: not loaded") and not canary.exists()
    # The flag does reach the child (so the check above could fail).
    [record] = [r for b in scan_in_child(ResultDirectory(str(results), allow_pickle=True), lambda: False) for r in b]
    assert record.status == "SUCCESS" and canary.exists()


@pytest.mark.parametrize("prepared", [False, True], ids=["started", "prepared"])
def test_the_tail_starts_its_readers_once_it_watches_the_directory(samples: Path, monkeypatch, prepared: bool):
    """They list only what the watch will tell the changes of; and their start does not overlap
    the watch's (a 1M directory's `inotify_add_watch` holds a core in the kernel for ~70 ms:
    with the readers starting on the other one, the UI thread stopped for 75-95 ms)."""
    from taskview.sources.tail import DirectoryTail

    order: list[str] = []
    pool_init, watch = ReaderPool.__init__, DirectoryTail._watch_or_poll

    def started(self, *args, **kwargs):
        order.append("readers")
        pool_init(self, *args, **kwargs)

    monkeypatch.setattr(ReaderPool, "__init__", started)
    monkeypatch.setattr(DirectoryTail, "_watch_or_poll", lambda self: (order.append("watch"), watch(self))[1])
    _, seen = first_scan(samples, child_scan_bytes=0, first_batch=5, prepared=prepared)
    assert len(seen[0].records) == 5  # the first screenful, read before the tail started
    assert order == ["watch", "readers"]
    assert len({r.task_id for b in seen for r in b.records}) == SAMPLE_COUNT


def test_a_reader_whose_lines_no_index_takes_sends_no_key_lines(samples: Path, tmp_path: Path):
    """Key lines are for the next index's writer: without one, a reader is told to leave them
    out (``--no-keys``), and its batch lines are the same."""
    results = ResultDirectory(str(samples))
    writer = IndexWriter(str(samples), str(tmp_path), results.max_bytes, time.time())
    sent: dict[bool, list[bytes]] = {}
    for keys in (True, False):
        reader = ReaderProcess(results, on_line=writer.add if keys else None)
        assert ("--no-keys" in reader._process.args) is not keys
        assert reader._process.stdout is not None
        lines = reader._process.stdout.read().splitlines()
        reader.finish(lambda: False)
        sent[keys] = lines
    assert [line for line in sent[True] if not line.startswith(b'{"key":')] == sent[False]
    assert sum(line.startswith(b'{"key":') for line in sent[True]) == 1
    assert not any(line.startswith(b'{"key":') for line in sent[False])
    writer.discard()
