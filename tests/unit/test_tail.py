"""The directory tail's reading, driven one step at a time: no thread, no inotify, no waiting.

``_scan`` (the first scan in batches, rescans that read only what changed and report
what went), ``_take`` (what was read, remembered), ``_settle_cut_files`` (a file left
cut short) and the reading of queued events, over real worker files (sample_results).
The tail's thread and inotify are tested in tests/integration/test_tail.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_COUNT, SAMPLE_NAMES, SAMPLE_RESULTS, sample_file
from helpers.tail import first_scan
from taskview.results.files import TASK_PREFIX, parse_name
from taskview.results.problems import ProblemKind
from taskview.results.scan import ResultDirectory
from taskview.sources import tail as tail_module
from taskview.sources.child_scan import ReaderPool
from taskview.sources.tail import DirectoryTail, TailBatch


def results_dir(tmp_path: Path) -> Path:
    """A copy of sample_results, with a probe file and a stranger that are not results."""
    directory = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, directory)
    (directory / ".fs-backend-probe").write_bytes(b"")
    (directory / "notes.txt").write_text("not a result")
    return directory


def make_tail(directory: Path, **options) -> tuple[DirectoryTail, list[TailBatch]]:
    """A tail that is never started: polling (so no inotify), never a child process."""
    batches: list[TailBatch] = []
    options.setdefault("poll_interval", 1.0)
    tail = DirectoryTail(ResultDirectory(str(directory)), batches.append, child_scan_bytes=1 << 62, **options)
    return tail, batches


def task_id(path: Path) -> str:
    parsed = parse_name(path.name)
    assert parsed is not None
    return parsed.task_id


def ids(batches: list[TailBatch]) -> list[str]:
    return sorted(r.task_id for b in batches for r in b.records)


ALL_IDS = sorted(task_id(Path(name)) for name in SAMPLE_NAMES)


def truncated(path: Path, keep: int = 40) -> bytes:
    """The first bytes of a real file: what a reader sees while a worker writes it."""
    return path.read_bytes()[:keep]


def rewrite_keeping_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


# --- the first scan ------------------------------------------------------------------------


def test_first_scan_comes_in_batches_small_first_then_scan_batch_sized(tmp_path):
    tail, batches = make_tail(results_dir(tmp_path), first_batch=5, scan_batch=7)
    tail._scan(initial=True)
    count = len(ALL_IDS)
    sizes, scanned, left = [], [], count
    size = 5
    while left >= size:  # a full batch is sent as soon as it fills
        sizes.append(size)
        scanned.append(count - left + size)
        left -= size
        size = 7
    sizes.append(left)  # the rest, with scan_done
    scanned.append(count)
    assert [len(b.records) for b in batches] == sizes
    assert [b.scanned for b in batches] == scanned
    assert all(b.scanning for b in batches)
    assert [b.scan_done for b in batches] == [False] * (len(batches) - 1) + [True]
    assert all(b.removed == [] and b.notice is None for b in batches)
    assert ids(batches) == ALL_IDS
    assert sorted(tail._known) == ALL_IDS


def test_first_scan_of_an_empty_directory_still_says_it_is_done(tmp_path):
    (tmp_path / "empty").mkdir()
    tail, batches = make_tail(tmp_path / "empty")
    tail._scan(initial=True)
    assert len(batches) == 1
    assert batches[0].scan_done and batches[0].scanning and batches[0].scanned == 0 and batches[0].records == []


def test_a_directory_that_cannot_be_listed_is_a_notice(tmp_path):
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory)
    shutil.rmtree(directory)
    tail._scan(initial=True)
    tail._scan()
    first, rescan = batches
    assert first.scanning and first.scan_done and first.records == [] and first.removed == []
    assert rescan.scanning is False and rescan.scan_done is False
    for batch in batches:
        assert batch.notice == f"cannot list {directory}: No such file or directory"


def test_a_stopped_tail_ends_its_scan_without_a_batch(tmp_path):
    tail, batches = make_tail(results_dir(tmp_path))
    tail._stop.set()
    tail._scan(initial=True)
    tail._scan()
    assert batches == []


def test_first_screenful_then_the_first_scan_reports_what_went_in_between(tmp_path):
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory, first_batch=4)
    early = tail.read_first_screenful()
    assert early.scanning and not early.scan_done and early.scanned == 4 and len(early.records) == 4
    assert batches == []  # the caller shows it
    gone = early.records[0]
    (directory / gone.filename).unlink()
    kept = early.records[1]
    tail._scan(initial=True)
    assert batches[0].removed == [gone.task_id]
    assert all(b.removed == [] for b in batches[1:])
    assert gone.task_id not in tail._known and tail._known.get(kept.task_id) is not None
    assert tail._early is None  # reported once
    assert ids(batches) == sorted(set(ALL_IDS) - {gone.task_id})


def test_a_directory_gone_after_the_first_screenful_is_a_notice_that_still_reports_its_rows_gone(tmp_path):
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory, first_batch=4)
    early = tail.read_first_screenful()
    shutil.rmtree(directory)  # between the first screenful and the first scan
    tail._scan(initial=True)
    (only,) = batches
    assert only.scan_done and only.records == []
    assert only.notice == f"cannot list {directory}: No such file or directory"
    assert only.removed == [r.task_id for r in early.records]


def test_first_screenful_stops_at_its_deadline_and_says_nothing_of_an_unlistable_directory(tmp_path):
    directory = results_dir(tmp_path)
    tail, _ = make_tail(directory)
    hurried = tail.read_first_screenful(seconds=-1.0)  # already late: the first file only
    assert len(hurried.records) == 1 and hurried.scanned == 1
    whole = make_tail(directory)[0].read_first_screenful(seconds=60.0)
    assert sorted(r.task_id for r in whole.records) == ALL_IDS
    shutil.rmtree(directory)
    nothing = make_tail(directory)[0].read_first_screenful()
    assert nothing.scanning and nothing.records == [] and nothing.scanned == 0 and nothing.notice is None


# --- rescans ---------------------------------------------------------------------------------


def scanned_tail(tmp_path: Path, **options) -> tuple[Path, DirectoryTail, list[TailBatch]]:
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory, **options)
    tail._scan(initial=True)
    batches.clear()
    return directory, tail, batches


def test_a_rescan_of_an_unchanged_directory_reads_nothing_and_sends_nothing(tmp_path):
    _, tail, batches = scanned_tail(tmp_path)
    tail._scan()
    assert batches == []


def test_a_rescan_reads_what_changed_and_reports_what_went(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    started = sample_file('"STARTED"')
    done = sample_file('"SUCCESS"')
    changed = directory / started.name
    changed.write_bytes(done.read_bytes())  # the task finished: another size
    went = directory / SAMPLE_NAMES[0]
    if went == changed:
        went = directory / SAMPLE_NAMES[1]
    went.unlink()
    tail._scan(notice="why")
    (batch,) = batches
    assert [r.task_id for r in batch.records] == [task_id(changed)]
    assert batch.records[0].status == "SUCCESS"
    assert batch.removed == [task_id(went)]
    assert batch.scanned == 1 and batch.notice == "why"
    assert batch.scanning is False and batch.scan_done is False
    assert task_id(went) not in tail._known and tail._known.get(task_id(changed)) is batch.records[0]


def test_a_rescan_rereads_a_file_whose_mtime_or_size_alone_changed(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    one, two = directory / SAMPLE_NAMES[0], directory / SAMPLE_NAMES[1]
    set_mtime(one, one.stat().st_mtime + 10)  # same bytes, a new write
    rewrite_keeping_mtime(two, two.read_bytes() + b"\n")  # a write within one mtime tick: only the size says so
    tail._scan()
    assert ids(batches) == sorted([task_id(one), task_id(two)])


def test_a_rescan_trusts_mtime_and_size_together(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    path = directory / SAMPLE_NAMES[0]
    data = bytearray(path.read_bytes())
    data[data.index(b'"status"') + 1] = ord("S")  # same size, same mtime: taken as unchanged
    rewrite_keeping_mtime(path, bytes(data))
    tail._scan()
    assert batches == []


def test_a_rescan_after_a_directory_change_reads_every_file_once(tmp_path):
    _, tail, batches = scanned_tail(tmp_path, scan_batch=1000)
    tail._reread_all = True
    tail._scan()
    assert ids(batches) == ALL_IDS and batches[0].scanned == len(ALL_IDS)
    assert tail._reread_all is False
    batches.clear()
    tail._scan()
    assert batches == []


def test_a_rescan_sends_full_batches_as_they_fill(tmp_path):
    _, tail, batches = scanned_tail(tmp_path, scan_batch=3)
    tail._reread_all = True
    tail._scan()
    assert [len(b.records) for b in batches[:-1]] == [3] * (len(batches) - 1)
    assert 0 < len(batches[-1].records) <= 3 or len(ALL_IDS) % 3 == 0
    assert ids(batches) == ALL_IDS
    assert not any(b.scanning for b in batches)


def test_a_result_name_that_cannot_be_opened_or_stated_is_no_row(tmp_path):
    directory = results_dir(tmp_path)
    # A result name that is a dangling symlink: listed, but gone when opened or stated.
    (directory / f"{TASK_PREFIX}dangling").symlink_to(directory / "nowhere")
    tail, batches = make_tail(directory)
    tail._scan(initial=True)
    assert ids(batches) == ALL_IDS and not any(b.removed for b in batches)
    batches.clear()
    tail._scan()
    assert batches == []
    assert tail._known.get("dangling") is None


# --- what was read, remembered ----------------------------------------------------------------


def test_take_forgets_a_gone_file_and_reports_it_only_if_it_was_known(tmp_path):
    directory, tail, _ = scanned_tail(tmp_path)
    path = directory / SAMPLE_NAMES[0]
    path.unlink()
    gone = tail.results.read_record(path.name)
    assert gone is not None and gone.error is not None and gone.error.kind is ProblemKind.GONE
    batch = TailBatch()
    tail._take(batch, path.name, gone)
    assert batch.removed == [gone.task_id] and batch.records == []
    again = TailBatch()
    tail._take(again, path.name, gone)
    assert again.removed == [] and again.records == []


def test_a_file_caught_mid_write_is_remembered_as_cut_until_a_whole_write(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path, settle=3600.0)
    path = directory / SAMPLE_NAMES[0]
    whole = path.read_bytes()
    path.write_bytes(truncated(path))
    tail._scan()
    (record,) = batches[0].records
    assert record.error is not None and record.error.partial
    since = tail._cut[path.name][2]
    st = path.stat()
    assert tail._cut[path.name][:2] == (st.st_mtime, st.st_size)
    # Read again unchanged: the time it was first seen cut stays.
    tail._take(TailBatch(), path.name, tail.results.read_record(path.name))
    assert tail._cut[path.name][2] == since
    # Cut differently: a new (mtime, size), a new start.
    path.write_bytes(whole[:50])
    set_mtime(path, st.st_mtime + 5)
    tail._take(TailBatch(), path.name, tail.results.read_record(path.name))
    assert tail._cut[path.name][:2] == (st.st_mtime + 5, 50)
    # Written whole: no longer cut.
    path.write_bytes(whole)
    tail._take(TailBatch(), path.name, tail.results.read_record(path.name))
    assert path.name not in tail._cut


# --- files left cut short ------------------------------------------------------------------------


def cut_tail(tmp_path: Path, settle: float, count: int = 1) -> tuple[Path, DirectoryTail, list[TailBatch], list[Path]]:
    directory, tail, batches = scanned_tail(tmp_path, settle=settle)
    paths = [directory / name for name in SAMPLE_NAMES[:count]]
    for path in paths:
        path.write_bytes(truncated(path))
    tail._scan()
    assert sorted(tail._cut) == sorted(p.name for p in paths)
    batches.clear()
    return directory, tail, batches, paths


def test_a_cut_file_is_left_alone_while_it_may_still_be_written(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=3600.0)
    tail._settle_cut_files()
    assert batches == [] and path.name in tail._cut


def test_a_cut_file_unchanged_for_settle_seconds_is_cut_short(tmp_path, caplog):
    directory, tail, batches, paths = cut_tail(tmp_path, settle=0.0, count=2)
    with caplog.at_level(logging.WARNING, logger="taskview.sources.tail"):
        tail._settle_cut_files()
    # The --log file says it too, with the directory (its debug lines depend on what ran before).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"2 file(s) cut short and not rewritten (a writer killed mid-write?) in {directory}"
    ]
    (batch,) = batches
    assert sorted(r.task_id for r in batch.records) == sorted(task_id(p) for p in paths)
    for record in batch.records:
        assert record.error is not None and record.error.kind is ProblemKind.CUT_SHORT
        assert record.error.message.startswith("cut short, unchanged for 0 s: truncated JSON at byte 40")
        assert tail._known.get(record.task_id) is record
    assert batch.notice == "2 file(s) cut short and not rewritten (a writer killed mid-write?)"
    assert batch.removed == [] and not batch.scanning
    assert tail._cut == {}
    tail._settle_cut_files()  # said once
    assert len(batches) == 1


def test_a_cut_file_on_a_full_filesystem_says_so(tmp_path, monkeypatch):
    _, tail, batches, _ = cut_tail(tmp_path, settle=0.0)
    free = tail_module._free_bytes(tail.results.path)
    assert free is not None and free > 0
    monkeypatch.setattr(tail_module, "FULL_BELOW", free + (1 << 40))  # everything counts as full
    tail._settle_cut_files()
    (batch,) = batches
    assert batch.notice is not None
    assert batch.notice.startswith("filesystem full (") and batch.notice.endswith(" bytes free): 1 file(s) cut short")


def test_a_filesystem_with_64_kib_free_is_not_called_full(tmp_path, monkeypatch):
    _, tail, batches, _ = cut_tail(tmp_path, settle=0.0, count=2)
    monkeypatch.setattr(tail_module, "_free_bytes", lambda path: 64 * 1024)
    tail._settle_cut_files()
    assert [b.notice for b in batches] == ["2 file(s) cut short and not rewritten (a writer killed mid-write?)"]
    _, tail, batches, _ = cut_tail(tmp_path / "full", settle=0.0)
    monkeypatch.setattr(tail_module, "_free_bytes", lambda path: 64 * 1024 - 1)
    tail._settle_cut_files()
    assert [b.notice for b in batches] == ["filesystem full (65,535 bytes free): 1 file(s) cut short"]


def test_a_cut_file_rewritten_before_it_settles_takes_the_normal_path(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    path.write_bytes((SAMPLE_RESULTS / path.name).read_bytes())
    tail._settle_cut_files()
    (batch,) = batches
    (record,) = batch.records
    assert record.error is None and record.task_id == task_id(path)
    assert batch.notice is None
    assert tail._cut == {}


def test_a_cut_file_cut_again_differently_starts_waiting_again(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    path.write_bytes((SAMPLE_RESULTS / path.name).read_bytes()[:60])
    tail._settle_cut_files()
    (batch,) = batches
    (record,) = batch.records
    assert record.error is not None and record.error.kind is ProblemKind.TRUNCATED
    assert batch.notice is None
    assert tail._cut[path.name][1] == 60


def test_a_cut_file_rewritten_cut_at_the_same_length_and_mtime_is_cut_short(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    rewrite_keeping_mtime(path, path.read_bytes())
    tail._settle_cut_files()
    assert batches[0].records[0].error.kind is ProblemKind.CUT_SHORT


def test_a_cut_file_with_a_new_mtime_alone_is_not_cut_short(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    set_mtime(path, path.stat().st_mtime + 5)  # written again, the same cut bytes
    tail._settle_cut_files()
    (record,) = batches[0].records
    assert record.error.kind is ProblemKind.TRUNCATED and batches[0].notice is None


def test_a_cut_file_deleted_before_it_settles_leaves_the_table(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    path.unlink()
    tail._settle_cut_files()
    (batch,) = batches
    assert batch.removed == [task_id(path)] and batch.records == [] and batch.notice is None
    assert tail._cut == {}


def test_a_cut_file_that_became_unreadable_otherwise_is_shown_as_it_is(tmp_path):
    _, tail, batches, (path,) = cut_tail(tmp_path, settle=0.0)
    path.write_bytes(b"[1, 2, 3]")  # whole, but not a result
    tail._settle_cut_files()
    (record,) = batches[0].records
    assert record.error.kind is ProblemKind.NOT_A_RESULT and batches[0].notice is None


# --- events queued by inotify --------------------------------------------------------------------


def test_queued_events_are_read_once_per_file_and_only_for_results_here(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    one, two = directory / SAMPLE_NAMES[0], directory / SAMPLE_NAMES[1]
    two.unlink()
    for path in (one, one, two, directory / "notes.txt", tmp_path / SAMPLE_NAMES[2]):
        tail._events.put(str(path))
    tail._read_events()
    (batch,) = batches
    assert [r.task_id for r in batch.records] == [task_id(one)]
    assert batch.removed == [task_id(two)]
    assert not batch.scanning and batch.notice is None
    tail._read_events()  # the queue is empty now
    assert len(batches) == 1


def test_events_of_files_that_are_not_results_send_nothing(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    tail._events.put(str(directory / "notes.txt"))
    tail._events.put(str(directory / f"{TASK_PREFIX}never-existed"))  # gone before read, never known
    tail._read_events()
    assert batches == []


def test_draining_events_gives_names_relative_to_the_watched_directory(tmp_path):
    directory, tail, _ = scanned_tail(tmp_path)
    tail._events.put(str(directory / "a"))
    tail._events.put(str(directory) + "b")  # a sibling whose name starts alike: not ours
    tail._events.put(str(directory / "a"))
    assert tail._drain_events() == {"a"}
    assert tail._drain_events() == set()


# --- small parts ------------------------------------------------------------------------------------


def test_free_bytes_of_a_directory_and_of_nothing(tmp_path):
    free = tail_module._free_bytes(str(tmp_path))
    st = os.statvfs(tmp_path)
    assert free == st.f_bavail * st.f_frsize
    assert tail_module._free_bytes(str(tmp_path / "missing")) is None


def test_read_into_skips_names_that_are_not_results(tmp_path):
    directory = results_dir(tmp_path)
    tail, _ = make_tail(directory)
    batch = TailBatch()
    tail._read_into(batch, "notes.txt")
    assert batch.records == [] and batch.removed == []
    tail._read_into(batch, SAMPLE_NAMES[0])
    assert [r.task_id for r in batch.records] == [task_id(Path(SAMPLE_NAMES[0]))]


# --- the directory itself (one stat a tick) --------------------------------------------------------


def test_identity_of_a_directory_a_symlink_to_one_a_file_and_nothing(tmp_path):
    directory = results_dir(tmp_path)
    st = directory.stat()
    assert tail_module._identity(str(directory)) == (st.st_dev, st.st_ino, str(directory))
    (tmp_path / "link").symlink_to(directory)
    assert tail_module._identity(str(tmp_path / "link")) == (st.st_dev, st.st_ino, str(directory))
    assert tail_module._identity(str(directory / SAMPLE_NAMES[0])) == "no longer a directory"
    assert tail_module._identity(str(tmp_path / "missing")) == "directory gone (deleted or renamed)"
    assert tail_module._identity(str(directory / SAMPLE_NAMES[0] / "x")) == "directory unreadable: Not a directory"


def test_a_directory_that_goes_and_comes_back_is_said_once_each_way_and_read_again(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="taskview.sources.tail")
    directory, tail, batches = scanned_tail(tmp_path)
    assert tail._directory_usable() is True and batches == []
    away = tmp_path / "away"
    directory.rename(away)
    tail._events.put(str(directory / SAMPLE_NAMES[0]))  # an event of the directory that went
    assert tail._directory_usable() is False
    (gone,) = batches
    assert tail.problem == "directory gone (deleted or renamed)"
    assert (
        gone.notice
        == f"{directory}: directory gone (deleted or renamed); showing the rows last read, waiting for it to come back"
    )
    assert gone.records == [] and gone.removed == []
    assert tail._drain_events() == set()
    assert tail._directory_usable() is False and len(batches) == 1  # said once
    directory.write_text("a file now")
    assert tail._directory_usable() is False
    assert (
        batches[-1].notice
        == f"{directory}: no longer a directory; showing the rows last read, waiting for it to come back"
    )
    directory.unlink()
    away.rename(directory)  # the same directory back
    batches.clear()
    assert tail._directory_usable() is False  # this tick rescans instead
    (back,) = batches
    assert back.notice == f"{directory}: a directory is back at this path; rescanned"
    assert ids(batches) == ALL_IDS  # every file read again: (mtime, size) say nothing across directories
    assert tail.problem is None and tail._reread_all is False
    assert tail._directory_usable() is True and len(batches) == 1
    assert tail._observer is None and tail.mode == "polling 1s"  # a polling tail starts no inotify when it re-attaches
    assert [r.getMessage() for r in caplog.records if r.name == "taskview.sources.tail"] == [
        f"directory {directory}: directory gone (deleted or renamed)",
        f"directory {directory}: no longer a directory",
        f"{directory}: a directory is back at this path; rescanned",
    ]


def test_a_directory_replaced_within_one_tick_is_read_again(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    shutil.copytree(directory, tmp_path / "copy")
    directory.rename(tmp_path / "old")
    (tmp_path / "copy").rename(directory)
    assert tail._directory_usable() is False
    (batch,) = batches
    assert batch.notice == f"{directory}: another directory now (replaced, or a symlink switched); rescanned"
    assert ids(batches) == ALL_IDS
    assert tail._identity == tail_module._identity(str(directory))
    assert tail._directory_usable() is True


def test_a_symlink_switched_to_another_directory_is_watched_at_its_new_target(tmp_path):
    first = results_dir(tmp_path)
    second = tmp_path / "second"
    shutil.copytree(first, second)
    link = tmp_path / "link"
    link.symlink_to(first)
    tail, batches = make_tail(link)
    tail._scan(initial=True)
    assert tail._watched == str(first)
    batches.clear()
    link.unlink()
    link.symlink_to(second)
    assert tail._directory_usable() is False
    assert tail._watched == str(second)
    assert batches[0].notice == f"{link}: another directory now (replaced, or a symlink switched); rescanned"


def test_a_dead_watch_means_the_directory_was_recreated(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    tail._watch_lost.set()  # inotify saw the watched directory deleted (its inode may be reused)
    assert tail._directory_usable() is False
    assert batches[0].notice == f"{directory}: a directory is back at this path; rescanned"
    assert not tail._watch_lost.is_set()
    assert tail._directory_usable() is True


def test_a_directory_readable_again_says_so(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    tail.problem = "directory unreadable: permission denied"  # as a tick saw it (root reads anything)
    assert tail._directory_usable() is False
    assert batches[0].notice == f"{directory}: directory readable again; rescanned"
    assert tail.problem is None


# --- how changes are noticed --------------------------------------------------------------------------


def test_mode_says_how_changes_are_noticed(tmp_path):
    directory = results_dir(tmp_path)
    assert make_tail(directory, poll_interval=None)[0].mode == "inotify"
    assert make_tail(directory, poll_interval=1.0)[0].mode == "polling 1s"
    assert make_tail(directory, poll_interval=0.5)[0].mode == "polling 0.5s"
    network, _ = make_tail(directory, poll_interval=2.0)
    network.network, network.fs_type = True, "nfs4"
    assert network.mode == "polling 2s (nfs4: network filesystem)"
    network.fallback = "inotify unavailable: Too many open files"
    assert network.mode == "polling 2s (inotify unavailable: Too many open files)"


def test_without_inotify_the_tail_polls_and_says_why(tmp_path, monkeypatch):
    tail, batches = make_tail(results_dir(tmp_path), poll_interval=None)

    def no_inotify() -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(tail, "_start_inotify", no_inotify)
    tail.start()
    try:
        deadline = time.monotonic() + 10
        while not any(b.scan_done for b in batches) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        tail.stop()
    assert tail.poll_interval == tail_module.NETWORK_POLL_INTERVAL
    assert tail.fallback == "inotify unavailable: Too many open files"
    notices = [b.notice for b in batches if b.notice]
    assert notices == ["inotify unavailable: Too many open files; polling every 2s"]
    assert batches[0].notice == notices[0]  # said before the first scan's rows
    assert tail.mode == "polling 2s (inotify unavailable: Too many open files)"


def test_a_prepared_tail_watches_at_once_and_delivers_nothing_before_start(tmp_path):
    """``prepare`` (the tail begun while the UI is imported): the directory is watched at once,
    nothing is read or delivered until ``start``; a change made in between is in the first scan."""
    directory = results_dir(tmp_path)
    batches: list[TailBatch] = []
    tail = DirectoryTail(ResultDirectory(str(directory)), batches.append, child_scan_bytes=0)
    tail.prepare()
    try:
        deadline = time.monotonic() + 10
        while tail._watch is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert tail._watch is not None
        (directory / "celery-task-meta-late-one").write_bytes(b'{"status": "SUCCESS", "task_id": "late-one"}')
        time.sleep(0.3)
        assert batches == [] and tail._reader is None  # nothing read yet
        tail.start()
        deadline = time.monotonic() + 10
        while not any(b.scan_done for b in batches) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        tail.stop()
    assert any(b.scan_done for b in batches)
    assert len(set(ids(batches))) == SAMPLE_COUNT + 1 and "late-one" in ids(batches)


def test_a_prepared_tail_stopped_before_start_ends_and_closes_its_watch(tmp_path):
    tail = DirectoryTail(ResultDirectory(str(results_dir(tmp_path))), child_scan_bytes=0)
    tail.prepare()
    deadline = time.monotonic() + 10
    while tail._watch is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tail._watch is not None
    tail.stop()  # never started: its UI failed to come up
    assert tail._thread is not None and not tail._thread.is_alive()
    assert tail._watch is None and tail._reader is None


def test_an_inotify_overflow_log_line_raises_the_flag():
    import logging
    import threading

    flag, wake = threading.Event(), threading.Event()
    watch = tail_module._OverflowWatch(flag, wake)
    assert watch.level == logging.WARNING

    def line(message: str) -> logging.LogRecord:
        return logging.LogRecord("watchdog.observers.inotify_c", logging.WARNING, __file__, 1, message, (), None)

    watch.emit(line("inotify event queue: something else"))
    assert not flag.is_set() and not wake.is_set()
    watch.emit(line("inotify event queue overflowed"))
    assert flag.is_set() and wake.is_set()  # the tail's thread rescans now, not at its next idle check


# --- a big directory's first scan, read by a child process --------------------------------------------


def child_tail(directory: Path, **options) -> tuple[DirectoryTail, list[TailBatch]]:
    batches: list[TailBatch] = []
    tail = DirectoryTail(
        ResultDirectory(str(directory)), batches.append, poll_interval=1.0, child_scan_bytes=0, **options
    )
    return tail, batches


def test_a_first_scan_by_a_child_process_sends_the_first_screenful_first(tmp_path):
    tail, batches = child_tail(results_dir(tmp_path), first_batch=4)
    tail._scan(initial=True)
    assert tail._reader is not None  # it did go through a child process
    first, *rest = batches
    assert len(first.records) == 4 and first.scanning and first.scanned == 4 and not first.scan_done
    assert all(b.scanning for b in batches)
    assert [b.scan_done for b in rest] == [False] * (len(rest) - 1) + [True]
    last = rest[-1]
    assert last.records == [] and last.scanned == len(ALL_IDS) and last.removed == []
    assert ids(batches) == ALL_IDS  # the first screenful is not sent twice
    assert sorted(tail._known) == ALL_IDS
    assert max(b.scanned for b in rest[:-1]) == len(ALL_IDS)


def test_a_first_scan_by_a_child_after_the_first_screenful_sends_only_what_changed(tmp_path):
    directory = results_dir(tmp_path)
    tail, batches = child_tail(directory, first_batch=4)
    early = tail.read_first_screenful()
    gone, changed = early.records[0], early.records[1]
    (directory / gone.filename).unlink()
    path = directory / changed.filename
    path.write_bytes(path.read_bytes() + b"\n")  # rewritten since: read again
    tail._scan(initial=True)
    assert ids(batches) == sorted(set(ALL_IDS) - {r.task_id for r in early.records} | {changed.task_id})
    assert batches[-1].scan_done and batches[-1].removed == [gone.task_id]
    assert all(b.scanned >= 4 for b in batches)
    assert tail._known.get(gone.task_id) is None


def test_a_first_scan_whose_child_fails_is_read_here(tmp_path):
    not_a_directory = tmp_path / "results"
    not_a_directory.write_text("a file where the directory was")
    tail, batches = child_tail(not_a_directory)
    tail._scan(initial=True)  # the child cannot list it and says so; here, listing says why
    assert tail._reader is not None
    screenful, batch = batches
    assert screenful.records == [] and screenful.scanning and not screenful.scan_done and screenful.notice is None
    assert batch.notice == f"cannot list {not_a_directory}: Not a directory"
    assert batch.scan_done and batch.scanning and batch.records == []


def test_a_first_scan_by_a_child_ends_when_the_tail_stops(tmp_path):
    tail, batches = child_tail(results_dir(tmp_path), first_batch=4)
    tail._stop.set()
    tail._scan(initial=True)
    assert not any(b.scan_done for b in batches)


def test_each_cut_file_settles_on_its_own_time(tmp_path):

    _, tail, batches, paths = cut_tail(tmp_path, settle=50.0, count=2)
    recent, old = paths
    mtime, size, _since = tail._cut[old.name]
    # The one cut just now comes first; the other was cut 100 s ago (as a tick long after would see it).
    tail._cut = {recent.name: tail._cut[recent.name], old.name: (mtime, size, time.monotonic() - 100.0)}
    tail._settle_cut_files()
    (batch,) = batches
    assert [r.task_id for r in batch.records] == [task_id(old)]
    assert batch.records[0].error.kind is ProblemKind.CUT_SHORT
    assert list(tail._cut) == [recent.name]


def test_a_cut_file_that_moved_on_does_not_hold_up_the_others(tmp_path):
    _, tail, batches, paths = cut_tail(tmp_path, settle=0.0, count=2)
    moved, stuck = paths
    moved.write_bytes((SAMPLE_RESULTS / moved.name).read_bytes())  # written whole since
    tail._cut = {moved.name: tail._cut[moved.name], stuck.name: tail._cut[stuck.name]}
    tail._settle_cut_files()
    (batch,) = batches
    assert [(r.task_id, r.error and r.error.kind) for r in batch.records] == [
        (task_id(moved), None),
        (task_id(stuck), ProblemKind.CUT_SHORT),
    ]
    assert batch.notice == "1 file(s) cut short and not rewritten (a writer killed mid-write?)"


def test_a_quiet_tail_sleeps_until_an_event_or_its_idle_check(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(tail_module, "IDLE_SECONDS", 30.0)
    tail = DirectoryTail(ResultDirectory(str(tmp_path)), lambda batch: None, tick=0.01)
    returned: list[bool] = []
    waiter = threading.Thread(target=lambda: returned.append(tail._wait()))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # nothing queued: no wake-up every tick
    tail._wake.set()  # what the inotify handler does after queueing a path
    waiter.join(10)
    assert returned == [True] and not tail._wake.is_set()  # cleared before the queue is drained
    tail._wake.set()
    tail._stop.set()
    assert tail._wait() is False  # stopping ends the loop at once

    monkeypatch.setattr(tail_module, "IDLE_SECONDS", 0.05)
    quiet = DirectoryTail(ResultDirectory(str(tmp_path)), lambda batch: None, tick=0.01)
    started = time.monotonic()
    assert quiet._wait() is True  # the idle check: the directory is looked at all the same
    assert time.monotonic() - started >= 0.05


def test_a_stream_of_changes_is_gathered_into_a_batch_at_most_every_stream_seconds(tmp_path):
    """A change after a quiet moment is read after one tick; under a stream the next batch waits
    until ``stream_seconds`` after the last; a flood (STREAM_FLOOD changes queued) does not wait."""

    tail = DirectoryTail(ResultDirectory(str(tmp_path)), lambda batch: None, tick=0.01)
    tail.stream_seconds = 0.6

    def waited() -> float:
        tail._wake.set()
        started = time.monotonic()
        assert tail._wait() is True
        return time.monotonic() - started

    assert waited() < 0.3  # the first change: a tick
    assert waited() >= 0.5  # the next, at once: gathered until 0.6 s after the first
    for n in range(tail_module.STREAM_FLOOD):
        tail._events.put(f"celery-task-meta-{n}")
    assert waited() < 0.3  # a flood goes at once
    time.sleep(0.65)
    assert waited() < 0.3  # a quiet moment since: a tick again
    tail._stop.set()
    started = time.monotonic()
    tail._gather()
    assert time.monotonic() - started < 0.3  # stopped: no wait


def test_the_tail_wakes_for_inotify_at_once_and_a_flood_there_goes_at_once(tmp_path):
    """The watch's descriptor is waited on with the wake-up (not found only at the next idle check,
    a second later), and what it holds counts toward a flood as queued paths do."""

    from taskview.sources.inotify_watch import DirectoryWatch

    tail = DirectoryTail(ResultDirectory(str(tmp_path)), lambda batch: None, tick=0.01)
    tail._watch = DirectoryWatch(str(tmp_path))
    tail.stream_seconds = 0.6
    try:
        (tmp_path / f"{TASK_PREFIX}first").write_bytes(b"{}")
        started = time.monotonic()
        assert tail._wait() is True
        assert time.monotonic() - started < 0.5  # woken by the event, not after IDLE_SECONDS
        assert tail._drain_events() == {f"{TASK_PREFIX}first"}
        for n in range(tail_module.STREAM_FLOOD):
            (tmp_path / f"{TASK_PREFIX}{n}").write_bytes(b"{}")
        started = time.monotonic()
        assert tail._wait() is True
        assert time.monotonic() - started < 0.3  # a flood: not gathered until 0.6 s after the last batch
        assert len(tail._drain_events()) == tail_module.STREAM_FLOOD
    finally:
        tail.stop()


# --- what each scan sends and logs, found by mutants ---------------------------------------------


def test_an_event_for_a_file_that_changed_sends_its_record(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    one = directory / SAMPLE_NAMES[0]
    set_mtime(one, one.stat().st_mtime + 10)
    tail._events.put(str(one))
    tail._read_events()
    (batch,) = batches
    assert [r.task_id for r in batch.records] == [task_id(one)] and batch.removed == []


def test_a_rescan_that_only_finds_a_file_gone_sends_it(tmp_path):
    directory, tail, batches = scanned_tail(tmp_path)
    went = directory / SAMPLE_NAMES[0]
    went.unlink()
    tail._scan()
    (batch,) = batches
    assert batch.records == [] and batch.removed == [task_id(went)] and batch.notice is None


def test_each_scan_is_one_debug_line_in_the_log(tmp_path, caplog):
    import re

    directory = results_dir(tmp_path)
    tail, _ = make_tail(directory)
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        tail._scan(initial=True)
        (directory / SAMPLE_NAMES[0]).unlink()
        tail._scan()
    lines = [r.getMessage() for r in caplog.records if r.name == "taskview.sources.tail"]
    first, again = (re.fullmatch(r"(.*) (\d+\.\d{3}) s", line) for line in lines)
    assert first is not None and again is not None
    assert first[1] == f"first scan of {directory}: {len(SAMPLE_NAMES)} files read, 0 gone,"
    assert again[1] == f"re scan of {directory}: 0 files read, 1 gone,"
    assert 0 <= float(first[2]) < 60 and 0 <= float(again[2]) < 60


def test_a_child_scan_that_fails_says_so_in_the_log(tmp_path, caplog):
    not_a_directory = tmp_path / "results"
    not_a_directory.write_text("a file where the directory was")
    tail, _ = child_tail(not_a_directory)
    with caplog.at_level(logging.WARNING, logger="taskview.sources.tail"):
        tail._scan(initial=True)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Why, as the reader process said it (its last line on stderr).
    assert line == (
        f"reading {not_a_directory} in a child process failed (cannot read {not_a_directory}: Not a directory): "
        "reading it here"
    )


class _Writer:
    """An IndexWriter's part that _index_used sees: commit (True when the index is in place) and path."""

    def __init__(self, commits: bool) -> None:
        self.commits, self.committed, self.path = commits, 0, "/cache/scan-1-2.v2"
        self.listed: list[int | None] = []

    def commit(self, listed: int | None = None) -> bool:
        self.committed += 1
        self.listed.append(listed)
        return self.commits


def _pool(*notes):
    from types import SimpleNamespace

    return SimpleNamespace(readers=[SimpleNamespace(note=note) for note in notes])


def test_what_the_readers_said_of_the_index_is_summed_and_logged(tmp_path, caplog):
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory, cache_dir=str(tmp_path / "cache"))
    writer = _Writer(commits=True)
    notes = (
        {"reused": 5, "read": 2, "problem": None},
        None,  # a reader that said nothing (killed)
        {"reused": "5", "read": 1.0, "problem": "cut short"},  # not ints: not counted
        {"read": 3, "problem": ""},
    )
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        tail._index_used(_pool(*notes), writer)
    assert tail.index_use == {"reused": 5, "read": 5} and writer.committed == 1 and batches == []
    assert writer.listed == [None]  # not every reader said how many files it had: no count to check the index by
    assert [r.getMessage() for r in caplog.records if r.name == "taskview.sources.tail"] == [
        f"scan index of {directory} written: /cache/scan-1-2.v2",
        f"scan index of {directory} ignored by a reader: cut short",
        f"first scan of {directory}: 5 files unchanged since the index, 5 read",
    ]


def test_an_index_not_put_in_place_or_not_kept_is_not_said_written(tmp_path, caplog):
    directory = results_dir(tmp_path)
    tail, _ = make_tail(directory, cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        tail._index_used(_pool({"reused": 0, "read": 4}), _Writer(commits=False))
        tail._index_used(_pool({"reused": 1, "read": 2}), None)
    assert tail.index_use == {"reused": 1, "read": 2}
    assert [r.getMessage() for r in caplog.records if r.name == "taskview.sources.tail"] == [
        f"first scan of {directory}: 0 files unchanged since the index, 4 read",
        f"first scan of {directory}: 1 files unchanged since the index, 2 read",
    ]
    # No cache directory (--allow-pickle, or none given): no index use to say, even with a writer.
    plain, _ = make_tail(directory)
    writer = _Writer(commits=True)
    plain._index_used(_pool({"reused": 3, "read": 0}), writer)
    assert plain.index_use is None and writer.committed == 1


# --- the tail's loop, run in the test's own thread: each batch delivered says what comes next ---------


def run_loop(directory: Path, step, **options) -> tuple[DirectoryTail, list[TailBatch]]:
    """``tail._run()`` until ``step(tail, batches)`` (called after each batch) stops it."""
    batches: list[TailBatch] = []
    tail: DirectoryTail

    def deliver(batch: TailBatch) -> None:
        batches.append(batch)
        step(tail, batches)

    tail = DirectoryTail(ResultDirectory(str(directory)), deliver, child_scan_bytes=1 << 62, **options)
    tail._run()
    return tail, batches


def test_the_loop_polls_a_directory_and_sends_what_went(tmp_path):
    directory = results_dir(tmp_path)
    went = directory / SAMPLE_NAMES[0]

    def step(tail: DirectoryTail, batches: list[TailBatch]) -> None:
        if batches[-1].scan_done:
            went.unlink()  # seen by the next poll's rescan
        elif batches[-1].removed:
            tail._stop.set()

    tail, batches = run_loop(directory, step, poll_interval=0.01)
    assert tail.mode == "polling 0.01s" and tail._observer is None
    *first, last = batches
    assert ids(first) == ALL_IDS and first[-1].scan_done
    assert last.removed == [task_id(went)] and last.records == [] and not last.scanning


def test_the_loop_reads_queued_events_and_rescans_after_an_overflow(tmp_path, monkeypatch):
    directory = results_dir(tmp_path)
    changed = directory / SAMPLE_NAMES[1]
    monkeypatch.setattr(DirectoryTail, "_start_inotify", lambda self: None)  # the events come from the test

    def step(tail: DirectoryTail, batches: list[TailBatch]) -> None:
        last = batches[-1]
        if last.scan_done:
            changed.write_bytes(changed.read_bytes() + b" ")
            tail._events.put(str(directory / changed.name))
            tail._wake.set()  # as the inotify handler does
        elif last.notice is None:
            (directory / SAMPLE_NAMES[0]).unlink()  # no event for it: the overflow's rescan finds it gone
            tail._overflowed.set()
            tail._wake.set()
        else:
            tail._stop.set()
            tail._wake.set()  # as stop() does: the loop ends without its idle wait

    tail, batches = run_loop(directory, step, poll_interval=None, tick=0.001)
    assert tail.mode == "inotify"
    *first, event, rescan = batches
    assert first[-1].scan_done and [r.task_id for r in event.records] == [task_id(changed)]
    assert rescan.notice == "inotify queue overflowed: rescanned the directory"
    assert rescan.removed == [task_id(directory / SAMPLE_NAMES[0])] and rescan.records == []
    assert not tail._overflowed.is_set()


def test_the_loop_says_watching_stopped_when_something_breaks(tmp_path, caplog):
    directory = results_dir(tmp_path)
    broken: list[bool] = []

    def step(tail: DirectoryTail, batches: list[TailBatch]) -> None:
        if not broken:
            broken.append(True)
            raise RuntimeError("the UI went away")

    with caplog.at_level(logging.ERROR, logger="taskview.sources.tail"):
        _, batches = run_loop(directory, step, poll_interval=0.01)
    assert batches[-1].notice == "watching stopped: the UI went away" and batches[-1].records == []
    assert [r.getMessage() for r in caplog.records if r.name == "taskview.sources.tail"] == ["directory tail failed"]


def test_stopping_inotify_stops_the_observer_once_and_forgets_it(tmp_path):
    class Observer:
        stopped = 0

        def stop(self) -> None:
            self.stopped += 1

    tail, _ = make_tail(results_dir(tmp_path))
    observer = Observer()
    tail._observer = observer
    tail._stop_inotify()
    assert observer.stopped == 1 and tail._observer is None
    tail._stop_inotify()  # none left: nothing to stop
    assert observer.stopped == 1
    # stop() takes it as it stops it: the tail's thread, ending after it, does not stop it again.
    tail._observer = observer
    tail.stop()
    assert observer.stopped == 2 and tail._observer is None


# --- what a reader's batch brings that is not new and whole ---------------------------------------


def read_as(task_id: str, mtime: float = 100.0, size: int = 10, kind: ProblemKind | None = None):
    from taskview.results.problems import Problem
    from taskview.results.record import TaskRecord

    error = None if kind is None else Problem(kind, kind.value)
    status = None if kind is not None else "SUCCESS"
    return TaskRecord(task_id, TASK_PREFIX, status, mtime=mtime, size=size, error=error)


def test_a_readers_batch_sends_the_files_gone_since_the_listing_and_watches_those_read_mid_write(tmp_path):
    from taskview.sources.recent_order import RecentOrder

    tail, batches = make_tail(results_dir(tmp_path))
    tail._known.put(read_as("b-gone"))  # known here (read as an event): its going is said
    whole, gone, cut, gone_unknown = (
        read_as("a-whole"),
        read_as("b-gone", kind=ProblemKind.GONE),
        read_as("c-cut", mtime=120.0, size=4, kind=ProblemKind.TRUNCATED),
        read_as("d-gone", kind=ProblemKind.GONE),
    )
    new = tail._sort_out([whole, gone, cut, gone_unknown], {}, RecentOrder(), 7)
    assert new == [whole, cut]  # the gone ones are no rows; the cut one shows meanwhile
    assert (whole.first_seen, cut.first_seen) == (100.0, 120.0)  # first_sight: their mtimes
    (batch,) = batches
    assert (batch.removed, batch.records, batch.scanning, batch.scanned) == (["b-gone"], [], True, 7)
    assert list(tail._cut) == ["celery-task-meta-c-cut"] and tail._cut["celery-task-meta-c-cut"][:2] == (120.0, 4)
    assert sorted(tail._known) == ["c-cut"]
    # A batch of errors alone goes the same way.
    assert tail._sort_out([read_as("e-gone", kind=ProblemKind.GONE)], {}, RecentOrder(), 8) == []
    assert len(batches) == 1  # nothing known went


def test_a_readers_batch_sends_again_what_changed_since_the_first_screenful_even_by_its_mtime_alone(tmp_path):
    from taskview.sources.recent_order import RecentOrder
    from taskview.store import first_sight

    tail, batches = make_tail(results_dir(tmp_path))
    early = {"a": read_as("a", mtime=100.0), "b": read_as("b", mtime=100.0, size=4, kind=ProblemKind.TRUNCATED)}
    first_sight(early.values())  # as read_first_screenful does
    tail._cut["celery-task-meta-b"] = (100.0, 4, 0.0)  # read mid-write in the first screenful
    same, rewritten, fresh = read_as("a", mtime=100.0), read_as("b", mtime=130.0, size=4), read_as("c")
    new = tail._sort_out([same, rewritten, fresh], early, RecentOrder(early.values()), 9)
    assert new == [fresh]
    (batch,) = batches
    assert (batch.records, batch.scanning, batch.scanned) == ([rewritten], True, 9)
    assert tail._cut == {}  # whole now: no longer waited on


def test_the_loop_reconciles_what_inotify_missed(tmp_path, monkeypatch):
    """No event for a deleted file: the reconcile's rescan finds it gone (its interval here 0, so it
    comes after twenty times a tenth of the first scan's time)."""
    directory = results_dir(tmp_path)
    monkeypatch.setattr(DirectoryTail, "_start_inotify", lambda self: None)
    monkeypatch.setattr(tail_module, "IDLE_SECONDS", 0.01)

    def step(tail: DirectoryTail, batches: list[TailBatch]) -> None:
        if batches[-1].scan_done:
            (directory / SAMPLE_NAMES[0]).unlink()
        elif len([b for b in batches if b.removed]) == 1:
            (directory / SAMPLE_NAMES[1]).unlink()  # found by the next reconcile, as soon after this one
        else:
            tail._stop.set()

    _, batches = run_loop(directory, step, poll_interval=None, reconcile_interval=0.0)
    *_, one, two = batches
    assert one.removed == [task_id(directory / SAMPLE_NAMES[0])] and one.notice is None
    assert two.removed == [task_id(directory / SAMPLE_NAMES[1])] and two.notice is None


def test_the_loop_waits_for_a_directory_that_went_and_reads_it_again_when_back(tmp_path):
    directory = results_dir(tmp_path)
    away = tmp_path / "away"

    def step(tail: DirectoryTail, batches: list[TailBatch]) -> None:
        notice = batches[-1].notice or ""
        if batches[-1].scan_done:
            directory.rename(away)
        elif notice.startswith(f"{directory}: directory gone"):
            away.rename(directory)
        elif notice.startswith(f"{directory}: a directory is back"):
            tail._stop.set()

    _, batches = run_loop(directory, step, poll_interval=0.01)
    assert batches[-1].notice == f"{directory}: a directory is back at this path; rescanned"
    assert ids([batches[-1]]) == ALL_IDS  # every file read again


def test_a_tail_on_a_network_filesystem_polls_unless_told_how(tmp_path, monkeypatch):
    directory = results_dir(tmp_path)
    monkeypatch.setattr(tail_module, "filesystem_type", lambda path: "nfs4" if path == str(directory) else "ext4")
    nfs, _ = make_tail(directory, poll_interval=None)
    assert (nfs.fs_type, nfs.network, nfs.poll_interval) == ("nfs4", True, 2.0)
    assert nfs.mode == "polling 2s (nfs4: network filesystem)"
    told, _ = make_tail(directory, poll_interval=0.5)
    assert told.poll_interval == 0.5 and told.network
    local, _ = make_tail(tmp_path, poll_interval=None)
    assert (local.fs_type, local.network, local.mode) == ("ext4", False, "inotify")


def test_a_new_tail_keeps_no_index_with_allow_pickle_and_raises_its_own_overflow_flag(tmp_path):
    directory = results_dir(tmp_path)
    kept = DirectoryTail(ResultDirectory(str(directory)), [].append, cache_dir="/cache")
    pickled = DirectoryTail(ResultDirectory(str(directory), allow_pickle=True), [].append, cache_dir="/cache")
    assert kept.cache_dir == "/cache" and pickled.cache_dir is None
    line = logging.LogRecord("watchdog.observers.inotify_c", logging.WARNING, __file__, 1, "overflowed", (), None)
    kept._overflow_log.emit(line)
    assert kept._overflowed.is_set() and kept._wake.is_set()
    kept.stop()  # never started: nothing to join
    assert kept._thread is None


def test_a_scan_reads_the_inotify_watch_now_and_then_not_at_each_piece_of_work(tmp_path, monkeypatch):
    """Each read is a system call that hands the GIL over and back at once, which restarts the UI
    thread's wait for it: read at each step of a 1M first scan's last merge, the UI stopped 0.35 s."""
    from taskview.sources.inotify_watch import DirectoryWatch

    directory = tmp_path / "results"
    directory.mkdir()
    tail = DirectoryTail(ResultDirectory(str(directory)), lambda batch: None)
    tail._watch = DirectoryWatch(str(directory))
    reads = []
    real_read = tail._watch.read
    monkeypatch.setattr(tail._watch, "read", lambda: reads.append(1) or real_read())
    clock = [100.0]
    monkeypatch.setattr(tail_module.time, "monotonic", lambda: clock[0])
    try:
        (directory / f"{TASK_PREFIX}a").write_bytes(b"{}")
        for _ in range(50):
            tail._pull_watch_while_scanning()
        assert len(reads) == 1 and tail._watched_names == {f"{TASK_PREFIX}a"}
        clock[0] += tail.SCAN_PULL_SECONDS * 0.99
        tail._pull_watch_while_scanning()
        assert len(reads) == 1
        clock[0] += tail.SCAN_PULL_SECONDS * 0.02
        (directory / f"{TASK_PREFIX}b").write_bytes(b"{}")
        tail._pull_watch_while_scanning()
        assert len(reads) == 2 and tail._watched_names == {f"{TASK_PREFIX}a", f"{TASK_PREFIX}b"}
    finally:
        tail.stop()


def test_the_first_reconcile_waits_200_times_its_cost_guessed_from_the_first_scan(tmp_path):
    """A reconcile stats every file in the tail's thread: a tenth of a scan that read every file
    there, about as long as a scan by reader processes (10.3 s after a 10.1 s one at 1M, when it
    came after 200 s)."""
    tail = DirectoryTail(ResultDirectory(str(tmp_path)), lambda batch: None, reconcile_interval=30.0)
    assert tail._first_reconcile_wait(10.0) == 10.0 / 10 * tail_module.RECONCILE_SHARE  # read here
    assert tail._first_reconcile_wait(0.5) == 30.0  # never sooner than the interval
    tail._reader = ReaderPool(ResultDirectory(str(tmp_path)))  # read by reader processes
    try:
        assert tail._first_reconcile_wait(10.0) == 10.0 * tail_module.RECONCILE_SHARE
        assert tail._first_reconcile_wait(0.1) == 30.0
    finally:
        tail._reader.stop()


def test_a_watch_that_cannot_be_made_starts_no_reader_and_ends_the_first_scan(
    samples: Path, monkeypatch, tmp_path: Path
):
    """The tail says why it stopped; no reader process is left behind it, nor a temporary of
    the index it would have written."""

    def broken(self):
        raise RuntimeError("no watch today")

    monkeypatch.setattr(DirectoryTail, "_watch_or_poll", broken)
    cache = tmp_path / "cache"
    seen: list[TailBatch] = []
    tail = DirectoryTail(ResultDirectory(str(samples)), seen.append, child_scan_bytes=0, cache_dir=str(cache))
    tail.read_first_screenful()
    tail.start()
    assert tail._thread is not None
    tail._thread.join(10)
    # the first scan it never made ends for the UI too (its progress, its pause of the collector)
    assert [(b.notice, b.scanning, b.scan_done) for b in seen] == [("watching stopped: no watch today", True, True)]
    assert tail._reader is None and not cache.exists()
    tail.stop()


def test_a_first_scan_by_readers_writes_the_index_the_next_one_keeps(samples: Path, tmp_path: Path):
    """The readers' lines go to the directory's index (0600, in a 0700 directory); the next first
    scan hands it to the readers, which find every file as indexed: nothing read again, the index
    kept as it is; the same rows either way."""
    cache = tmp_path / "cache"
    first, seen = first_scan(samples, child_scan_bytes=0, cache_dir=str(cache))
    [index] = cache.iterdir()
    assert index.name.endswith(".v4") and stat.S_IMODE(index.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 and not first.index_kept
    assert first.index_use == {"reused": 0, "read": SAMPLE_COUNT}
    rows = {r.task_id: (r.status, r.name, r.args) for b in seen for r in b.records}
    assert len(rows) == SAMPLE_COUNT
    written = index.stat().st_mtime_ns
    again, seen_again = first_scan(samples, child_scan_bytes=0, cache_dir=str(cache))
    assert again.index_kept and again.index_use == {"reused": SAMPLE_COUNT, "read": 0}
    assert list(cache.iterdir()) == [index] and index.stat().st_mtime_ns == written
    assert {r.task_id: (r.status, r.name, r.args) for b in seen_again for r in b.records} == rows


def test_an_index_that_cannot_be_opened_for_any_reason_is_ignored_with_a_debug_line(
    tmp_path: Path, monkeypatch, caplog
):
    """Never a reason for the scan to fail: its last index ignored (the traceback in the debug
    log), a new one written all the same."""

    def broken(*args):
        raise RuntimeError("surprise")

    monkeypatch.setattr(tail_module, "open_index", broken)
    directory = results_dir(tmp_path)
    tail, _ = make_tail(directory, cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.DEBUG, logger="taskview.sources.tail"):
        index, writer = tail._scan_index()
    assert index is None and writer is not None and writer.writing
    writer.discard()
    [line] = [r for r in caplog.records if r.name == "taskview.sources.tail"]
    assert line.getMessage() == f"scan index of {directory} ignored" and line.exc_info is not None
    assert line.exc_info[0] is RuntimeError


def test_no_index_is_written_where_it_cannot_be_and_readers_that_cannot_start_leave_none(tmp_path: Path, monkeypatch):
    """A cache "directory" that is a file: no writer (the readers print no line for it). And when
    the readers cannot be started, the index begun for them is dropped, its temporary file too."""
    directory = results_dir(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    tail, _ = make_tail(directory, cache_dir=str(blocked))
    assert tail._scan_index() == (None, None)

    def cannot_start(*args, **kwargs):
        raise tail_module.ChildScanFailed("cannot start a reader process: no")

    monkeypatch.setattr(tail_module, "ReaderPool", cannot_start)
    cache = tmp_path / "cache"
    tail, _ = make_tail(directory, cache_dir=str(cache))
    with pytest.raises(tail_module.ChildScanFailed):
        tail._start_readers({})
    assert list(cache.iterdir()) == []


def test_a_tail_that_fails_after_its_first_scan_says_so_without_ending_a_scan(tmp_path: Path, monkeypatch):
    """Its first scan's last batch went already: the notice is only that (no scan ends twice)."""

    def broken(self):
        raise RuntimeError("gone wrong")

    monkeypatch.setattr(DirectoryTail, "_wait", broken)
    directory = results_dir(tmp_path)
    tail, batches = make_tail(directory)
    tail.start()
    assert tail._thread is not None
    tail._thread.join(10)
    tail.stop()
    assert tail.first_scan_over and [b.scan_done for b in batches].count(True) == 1
    assert (batches[-1].notice, batches[-1].scanning, batches[-1].scan_done) == (
        "watching stopped: gone wrong",
        False,
        False,
    )
