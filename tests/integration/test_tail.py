"""The directory tail on its own: batches, polling, network filesystems."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS
from helpers.tail import collect, ids, run_tail
from taskview.results.scan import ResultDirectory
from taskview.sources.fsinfo import directory_times_trusted, filesystem_type, is_network_filesystem
from taskview.sources.tail import DirectoryTail, TailBatch


def test_first_scan_comes_in_batches_with_progress(samples: Path):
    tail, batches = run_tail(samples, scan_batch=5, first_batch=2)
    try:
        seen = collect(batches, lambda s: any(b.scan_done for b in s))
        assert len(ids(seen)) == SAMPLE_COUNT
        assert all(b.scanning for b in seen) and seen[-1].scan_done
        assert [b.scanned for b in seen] == sorted(b.scanned for b in seen)
        assert seen[-1].scanned == SAMPLE_COUNT
        assert len(seen[0].records) == 2 and len(seen) >= SAMPLE_COUNT // 5
    finally:
        tail.stop()


def test_inotify_sees_new_rewritten_and_deleted_files(samples: Path):
    tail, batches = run_tail(samples)
    try:
        collect(batches, lambda s: any(b.scan_done for b in s))
        assert tail.mode == "inotify"
        source = next(p for p in sorted(samples.iterdir()))
        shutil.copy(source, samples / "celery-task-meta-fresh")
        collect(batches, lambda s: "fresh" in ids(s))
        os.unlink(samples / "celery-task-meta-fresh")
        collect(batches, lambda s: any("fresh" in b.removed for b in s))
        # Probe files and strangers raise events but never become rows.
        (samples / "unrelated.txt").write_text("x")
        (samples / ".fs-backend-123").write_text("x")
        shutil.copy(source, samples / "celery-task-meta-marker")
        seen = collect(batches, lambda s: "marker" in ids(s))
        assert ids(seen) == {"marker"}
    finally:
        tail.stop()


def test_polling_mode_sees_changes_without_inotify(samples: Path):
    tail, batches = run_tail(samples, poll_interval=0.2)
    try:
        assert tail.mode == "polling 0.2s"
        assert tail._observer is None
        collect(batches, lambda s: any(b.scan_done for b in s))
        source = next(p for p in sorted(samples.iterdir()))
        shutil.copy(source, samples / "celery-task-meta-polled")
        collect(batches, lambda s: "polled" in ids(s))
        # A rewrite in place (Celery's way) is seen through mtime/size.
        failure = next(p for p in SAMPLE_RESULTS.iterdir() if b'"FAILURE"' in p.read_bytes())
        with open(samples / "celery-task-meta-polled", "wb") as handle:
            handle.write(failure.read_bytes())
        seen = collect(
            batches, lambda s: any(r.task_id == "polled" and r.status == "FAILURE" for b in s for r in b.records)
        )
        assert seen
        os.unlink(samples / "celery-task-meta-polled")
        collect(batches, lambda s: any("polled" in b.removed for b in s))
    finally:
        tail.stop()


def test_polling_rereads_a_file_rewritten_within_one_mtime_tick(samples: Path, tmp_path: Path):
    """On a network filesystem mtimes are coarse: a rewrite can keep the mtime, only the size tells.

    The new content is made beside the directory, given the old file's mtime, and renamed over it
    in one step, so no poll can catch it with a new mtime in between.
    """
    path = next(p for p in sorted(samples.iterdir()) if b'"SUCCESS"' in p.read_bytes())
    task_id = path.name.removeprefix("celery-task-meta-")
    failure = next(p for p in SAMPLE_RESULTS.iterdir() if b'"FAILURE"' in p.read_bytes()).read_bytes()
    before = path.stat()
    assert len(failure) != before.st_size
    tail, batches = run_tail(samples, poll_interval=0.05)
    try:
        collect(batches, lambda s: any(b.scan_done for b in s))
        new = tmp_path / "rewrite"
        new.write_bytes(failure)
        os.utime(new, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.rename(new, path)
        assert path.stat().st_mtime_ns == before.st_mtime_ns
        seen = collect(batches, lambda s: any(r.task_id == task_id for b in s for r in b.records), timeout=3)
        latest = [r for b in seen for r in b.records if r.task_id == task_id][-1]
        assert latest.status == "FAILURE" and latest.size == len(failure) and latest.mtime == before.st_mtime
    finally:
        tail.stop()


def test_network_filesystems_are_recognised(tmp_path: Path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "proc /proc proc rw 0 0\n"
        "/dev/vda / ext4 rw 0 0\n"
        "server:/export /mnt/results nfs4 rw,vers=4.2 0 0\n"
        "//nas/share /mnt/nas\\040share cifs rw 0 0\n"
    )
    assert filesystem_type("/mnt/results/celery", str(mounts)) == "nfs4"
    assert filesystem_type("/mnt/nas share/x", str(mounts)) == "cifs"
    assert filesystem_type("/var/celery", str(mounts)) == "ext4"
    assert filesystem_type("/mnt/resultsX", str(mounts)) == "ext4"
    assert is_network_filesystem("nfs4") and is_network_filesystem("cifs")
    assert not is_network_filesystem("ext4") and not is_network_filesystem(None)
    # Where a directory's times say whether a file was made, removed or renamed in it.
    assert all(map(directory_times_trusted, ("ext4", "xfs", "btrfs", "tmpfs")))
    assert not any(map(directory_times_trusted, ("nfs4", "fuse.mergerfs", "overlay", "virtiofs", None)))
    # This machine's own mount table is readable.
    assert filesystem_type(str(tmp_path)) is not None


def _tail_in_child(directory: str, reports) -> None:
    """The tail of the overflow test, in a child process the test can stop (SIGSTOP) while it floods."""

    def deliver(batch: TailBatch) -> None:
        reports.put(([r.task_id for r in batch.records], batch.notice, batch.scan_done))

    DirectoryTail(ResultDirectory(directory), deliver).start()
    time.sleep(120)  # the test kills this process long before


@pytest.mark.slow
def test_an_inotify_overflow_triggers_a_rescan_and_loses_nothing(samples: Path):
    """A real overflow: a tiny kernel queue (set only while the tail's inotify instance is made) and a
    flood written while the tail's process is stopped, so that no reader can keep up with it."""
    limit_file = Path("/proc/sys/fs/inotify/max_queued_events")
    if os.geteuid() != 0:
        import pytest

        pytest.skip("needs root to shrink /proc/sys/fs/inotify/max_queued_events for one inotify instance")
    context = multiprocessing.get_context("fork")
    reports = context.Queue()
    child = context.Process(target=_tail_in_child, args=(str(samples), reports), daemon=True)
    old = limit_file.read_text()
    limit_file.write_text("8\n")
    try:
        child.start()
        # The inotify instance is made before the first scan starts, so it exists once the scan is done.
        while not reports.get(timeout=10)[2]:
            pass
    finally:
        limit_file.write_text(old)  # the limit is taken when an instance is created
    try:
        source = next(p for p in sorted(SAMPLE_RESULTS.iterdir()) if b'"SUCCESS"' in p.read_bytes()).read_bytes()
        os.kill(child.pid, signal.SIGSTOP)
        for n in range(400):
            with open(samples / f"celery-task-meta-flood-{n}", "wb") as handle:
                handle.write(source)
        os.kill(child.pid, signal.SIGCONT)
        flood = {f"flood-{n}" for n in range(400)}
        seen: set[str] = set()
        notices: list[str] = []
        deadline = time.monotonic() + 20
        while not (flood <= seen and notices):
            assert time.monotonic() < deadline, (f"{len(flood - seen)} flood files never seen", notices)
            try:
                task_ids, notice, _ = reports.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.update(task_ids)
            if notice:
                notices.append(notice)
        assert "inotify queue overflowed: rescanned the directory" in notices
    finally:
        child.kill()
        child.join()


def test_a_first_screenful_read_before_the_watch_misses_no_change_made_before_it_started(samples: Path):
    """The inspector reads the first rows itself, before the tail's watch starts: a file rewritten
    or deleted in between is caught by the first scan (in the tail's thread, or a child process)."""
    failure = next(p for p in SAMPLE_RESULTS.iterdir() if b'"FAILURE"' in p.read_bytes()).read_bytes()
    for child_scan_bytes in (1 << 40, 0):  # small directory: read in the thread; big: in a child
        directory = samples / f"run-{child_scan_bytes}"
        shutil.copytree(samples, directory, ignore=shutil.ignore_patterns("run-*"))
        batches: queue.SimpleQueue = queue.SimpleQueue()
        tail = DirectoryTail(
            ResultDirectory(str(directory)), batches.put, first_batch=4, child_scan_bytes=child_scan_bytes
        )
        first = tail.read_first_screenful()
        assert len(first.records) == 4 and first.scanning
        rewritten, deleted = first.records[0], first.records[1]
        path = directory / rewritten.filename
        before = path.stat()
        path.write_bytes(failure)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # within one mtime tick: only the size tells
        os.unlink(directory / deleted.filename)
        tail.start()
        try:
            seen = collect(batches, lambda s: any(b.scan_done for b in s))
            latest = {r.task_id: r for b in seen for r in b.records}
            assert latest[rewritten.task_id].status == "FAILURE"
            assert any(deleted.task_id in b.removed for b in seen)
            assert len(latest.keys() | {r.task_id for r in first.records}) == SAMPLE_COUNT
        finally:
            tail.stop()


def test_a_first_screenful_file_deleted_while_the_directory_is_away_is_still_removed(samples: Path):
    """The first scan cannot list the directory (renamed away); the early file deleted before
    that is still reported gone once it is back, not kept as a row for good."""
    batches: queue.SimpleQueue = queue.SimpleQueue()
    tail = DirectoryTail(ResultDirectory(str(samples)), batches.put, first_batch=4, tick=0.02)
    deleted = tail.read_first_screenful().records[0]
    os.unlink(samples / deleted.filename)
    away = samples.parent / "away"
    os.rename(samples, away)  # away when the first scan lists it
    tail.start()
    try:
        seen = []
        deadline = time.monotonic() + 0.5  # the first scan fails meanwhile
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen.append(batches.get(timeout=0.05))
        os.rename(away, samples)  # back, without the deleted file
        collect(batches, lambda s: any(deleted.task_id in b.removed for b in s + seen), timeout=6)
    finally:
        tail.stop()


def test_the_first_screenful_stops_at_its_deadline(samples: Path):
    tail = DirectoryTail(ResultDirectory(str(samples)), queue.SimpleQueue().put, first_batch=10)
    assert len(tail.read_first_screenful(0.0).records) == 1  # a slow disk: what was read by then


@pytest.mark.slow
def test_changes_during_a_long_first_scan_are_read_off_inotify_so_it_does_not_overflow(samples: Path):
    """The tail's thread reads inotify itself: while it scans, it must still empty the kernel's queue
    (here shrunk to 8 events for its instance), or a busy directory's first scan ends in an overflow
    and a rescan. The scan is slowed to a batch of one file at a time, two events written per batch
    and as long as the scan waits between two reads of its watch (``SCAN_PULL_SECONDS``)."""
    limit_file = Path("/proc/sys/fs/inotify/max_queued_events")
    if os.geteuid() != 0:
        pytest.skip("needs root to shrink /proc/sys/fs/inotify/max_queued_events for one inotify instance")
    source = next(p for p in sorted(SAMPLE_RESULTS.iterdir()) if b'"SUCCESS"' in p.read_bytes()).read_bytes()
    go = threading.Event()
    batches: queue.SimpleQueue[TailBatch] = queue.SimpleQueue()
    written: list[str] = []

    def deliver(batch: TailBatch) -> None:
        batches.put(batch)
        if batch.scanning and not batch.scan_done and go.wait(10):
            name = f"during-{len(written)}"
            (samples / f"celery-task-meta-{name}").write_bytes(source)  # created, then closed after writing
            written.append(name)
            time.sleep(tail.SCAN_PULL_SECONDS)  # 2 events per read of the watch: 20 a second in all

    tail = DirectoryTail(ResultDirectory(str(samples)), deliver, first_batch=1, scan_batch=1, tick=0.01)
    old = limit_file.read_text()
    limit_file.write_text("8\n")
    try:
        tail.start()
        deadline = time.monotonic() + 10
        while tail._watch is None and tail._observer is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        limit_file.write_text(old)  # the limit is taken when an instance is created
    try:
        go.set()
        seen = collect(batches, lambda seen: any(b.scan_done for b in seen), timeout=20)
        assert len(written) > 8  # more than the queue holds, written while the scan went on
        seen += collect(batches, lambda after: set(written) <= ids(seen) | ids(after), timeout=20)
        assert [b.notice for b in seen if b.notice] == []  # no overflow, no rescan
    finally:
        tail.stop()
