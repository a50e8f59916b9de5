"""Faults of the watched directory itself: taskview recovers by itself and says what happened.

Deleted and recreated, renamed away and back, replaced by a symlink, unreadable and
readable again, a full filesystem (a real 1 MiB tmpfs), an inotify overflow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers.pilot import summary_text, wait_until
from helpers.samples import SAMPLE_COUNT, sample_file
from taskview.results.problems import ProblemKind
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp

pytestmark = pytest.mark.slow  # directory faults, a tmpfs filling up, an inotify overflow: timing-heavy

CUT_SHORT = ProblemKind.CUT_SHORT


def success_bytes() -> bytes:
    return sample_file('"SUCCESS"').read_bytes()


def put(directory: Path, task_id: str, data: bytes | None = None) -> None:
    (directory / f"celery-task-meta-{task_id}").write_bytes(data if data is not None else success_bytes())


def on_disk(directory: Path) -> set[str]:
    return {
        p.name.removeprefix("celery-task-meta-").removeprefix("celery-taskset-meta-")
        for p in directory.iterdir()
        if p.name.startswith("celery-")
    }


async def started(pilot, app: TaskviewApp, count: int = SAMPLE_COUNT) -> None:
    await wait_until(pilot, lambda: app.inspector.scan is None and len(app.inspector.store) == count)


async def test_directory_deleted_and_recreated(samples: Path):
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(160, 30)) as pilot:
        await started(pilot, app)
        shutil.rmtree(samples)
        await wait_until(pilot, lambda: app.inspector.tail.problem is not None, timeout=3)
        await wait_until(pilot, lambda: "directory gone" in summary_text(app), timeout=3)
        assert app.is_running
        samples.mkdir()
        put(samples, "after-1")
        put(samples, "after-2")
        # Back by itself: exactly what the new directory holds, nothing of the old one.
        await wait_until(pilot, lambda: set(app.inspector.store.records) == {"after-1", "after-2"}, timeout=5)
        assert app.inspector.tail.problem is None
        await wait_until(pilot, lambda: "a directory is back" in summary_text(app), timeout=3)
        assert "directory gone" not in summary_text(app)
        # And it is watched live again (inotify on the new directory, not the 30 s reconcile).
        put(samples, "after-3")
        await wait_until(pilot, lambda: "after-3" in app.inspector.store, timeout=3)
        # Deleted and made again at once (`rm -rf dir && mkdir dir`), quicker than a tick.
        shutil.rmtree(samples)
        samples.mkdir()
        put(samples, "again")
        await wait_until(pilot, lambda: set(app.inspector.store.records) == {"again"}, timeout=5)
        put(samples, "again-live")
        await wait_until(pilot, lambda: "again-live" in app.inspector.store, timeout=3)


async def test_directory_renamed_away_and_back(samples: Path, tmp_path: Path):
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(160, 30)) as pilot:
        await started(pilot, app)
        away = tmp_path / "renamed"
        os.rename(samples, away)
        await wait_until(pilot, lambda: app.inspector.tail.problem is not None, timeout=3)
        # The rows last read stay while it is gone, and the status bar says why.
        assert len(app.inspector.store) == SAMPLE_COUNT
        await wait_until(pilot, lambda: "directory gone" in summary_text(app), timeout=3)
        put(away, "written-while-away")
        victim_file = next(p for p in sorted(away.iterdir()) if p.name.startswith("celery-task-meta-"))
        victim = victim_file.name.removeprefix("celery-task-meta-")
        victim_file.unlink()
        await pilot.pause(0.5)
        assert "written-while-away" not in app.inspector.store  # not at the watched path
        os.rename(away, samples)
        await wait_until(pilot, lambda: app.inspector.tail.problem is None, timeout=3)
        await wait_until(pilot, lambda: set(app.inspector.store.records) == on_disk(samples), timeout=3)
        assert victim not in app.inspector.store
        await wait_until(pilot, lambda: "a directory is back" in summary_text(app), timeout=3)
        put(samples, "after-rename")
        await wait_until(pilot, lambda: "after-rename" in app.inspector.store, timeout=3)


async def test_directory_replaced_by_a_symlink(samples: Path, tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    put(other, "in-other-1")
    put(other, "in-other-2")
    app = TaskviewApp(ResultDirectory(str(samples)))
    async with app.run_test(size=(160, 30)) as pilot:
        await started(pilot, app)
        os.rename(samples, tmp_path / "old")
        os.symlink(other, samples)
        await wait_until(pilot, lambda: set(app.inspector.store.records) == {"in-other-1", "in-other-2"}, timeout=5)
        assert app.inspector.tail.problem is None
        # The symlink's target is watched live.
        put(other, "in-other-3")
        await wait_until(pilot, lambda: "in-other-3" in app.inspector.store, timeout=3)
        # Switched to yet another directory without a moment of absence: seen too.
        third = tmp_path / "third"
        third.mkdir()
        put(third, "in-third")
        os.symlink(third, tmp_path / "next-link")
        os.rename(tmp_path / "next-link", samples)  # atomic: the path always resolves
        await wait_until(pilot, lambda: set(app.inspector.store.records) == {"in-third"}, timeout=5)
        await wait_until(pilot, lambda: "another directory now" in summary_text(app), timeout=3)


# The tail as a user without root's powers runs it: a directory with mode 000 cannot be read.
UNPRIVILEGED_TAIL = textwrap.dedent("""
    import json, sys, time
    from taskview.results.scan import ResultDirectory
    from taskview.sources.tail import DirectoryTail
    import watchdog.observers, watchdog.events  # imported before anything is unreadable

    def deliver(batch):
        print(json.dumps({"ids": sorted(r.task_id for r in batch.records), "removed": batch.removed,
                          "notice": batch.notice}), flush=True)

    tail = DirectoryTail(ResultDirectory(sys.argv[1]), deliver)
    tail.start()
    time.sleep(float(sys.argv[2]))
    tail.stop()
""")


def test_directory_unreadable_then_readable_again(samples: Path):
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux) to run the tail without CAP_DAC_OVERRIDE")
    command = [sys.executable, "-c", UNPRIVILEGED_TAIL, str(samples), "6"]
    if os.geteuid() == 0:
        # root reads any directory: drop the capabilities that let it.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", *command]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []

    def wait_for(condition, timeout: float = 4.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, lines
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(json.loads(line))

    try:
        wait_for(lambda: len({i for b in lines for i in b["ids"]}) == SAMPLE_COUNT)
        samples.chmod(0)
        wait_for(lambda: any(b["notice"] and "unreadable: permission denied" in b["notice"] for b in lines))
        put(samples, "while-unreadable")
        time.sleep(0.3)
        samples.chmod(0o755)
        wait_for(lambda: any(b["notice"] and "readable again" in b["notice"] for b in lines))
        assert "while-unreadable" in lines[-1]["ids"]
        assert not any(b["removed"] for b in lines)  # nothing was dropped while it could not be read
    finally:
        samples.chmod(0o755)
        proc.kill()
        proc.wait()


@pytest.fixture
def small_filesystem(tmp_path: Path):
    """A real 1 MiB tmpfs, so that writes really hit ENOSPC."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs (needs root, or CAP_SYS_ADMIN in a container): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_filesystem_full_leaves_a_cut_file(small_filesystem: Path):
    results = small_filesystem / "results"
    results.mkdir()
    good = json.loads(success_bytes())
    put(results, "big", json.dumps({**good, "task_id": "big"}).encode())
    put(results, "other")
    app = TaskviewApp(ResultDirectory(str(results)))
    app.inspector.tail.settle = 0.5
    async with app.run_test(size=(160, 30)) as pilot:
        await started(pilot, app, 2)
        filler = small_filesystem / "filler"
        with open(filler, "wb") as handle:
            try:
                handle.write(b"\0" * (2 << 20))
            except OSError:
                pass
        # The worker's next write of this task's result: truncate, then ENOSPC part way.
        payload = json.dumps({**good, "task_id": "big", "result": "r" * 300_000}).encode()
        with pytest.raises(OSError):
            with open(results / "celery-task-meta-big", "wb") as handle:
                handle.write(payload)
        await wait_until(
            pilot, lambda: getattr(app.inspector.store.get("big").error, "kind", None) is CUT_SHORT, timeout=5
        )
        record = app.inspector.store.get("big")
        message = record.error.message
        assert message.startswith("cut short") and ("truncated" in message or "empty" in message)
        # The last good state is not lost: it is in the task's history.
        assert [state for _, state in app.inspector.store.history("big")] == ["SUCCESS", "unreadable"]
        assert app.inspector.store.get("other").status == "SUCCESS"
        said = ("filesystem full", "1 file(s) cut short")
        await wait_until(pilot, lambda: all(text in summary_text(app) for text in said), timeout=3)
        filler.unlink()
        # The worker writes again, whole: the row is the task again.
        put(results, "big", json.dumps({**good, "task_id": "big", "result": "fits"}).encode())
        await wait_until(pilot, lambda: app.inspector.store.get("big").error is None, timeout=3)
        assert app.inspector.store.get("big").status == "SUCCESS"


async def test_an_inotify_overflow_is_said_in_the_status_bar(samples: Path):
    limit_file = Path("/proc/sys/fs/inotify/max_queued_events")
    if os.geteuid() != 0:
        pytest.skip("needs root to shrink /proc/sys/fs/inotify/max_queued_events for one inotify instance")
    old = limit_file.read_text()
    limit_file.write_text("1\n")
    app = TaskviewApp(ResultDirectory(str(samples)))
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            try:
                # The tail's thread makes its inotify instance before its first scan.
                await wait_until(pilot, lambda: app.inspector.tail._watch is not None, timeout=5)
            finally:
                limit_file.write_text(old)
            await started(pilot, app)
            # Written by another process at its own pace: with a queue of one event, the app's
            # reader would have to read between every file's create and close to miss an overflow.
            flood = textwrap.dedent(f"""
                import sys
                data = open({str(sample_file('"SUCCESS"'))!r}, "rb").read()
                for n in range(400):
                    with open(f"{{sys.argv[1]}}/celery-task-meta-flood-{{n}}", "wb") as handle:
                        handle.write(data)
            """)
            subprocess.run([sys.executable, "-c", flood, str(samples)], check=True)
            await wait_until(
                pilot,
                lambda: (
                    all(f"flood-{n}" in app.inspector.store for n in range(400))
                    and "inotify queue overflowed" in summary_text(app)
                ),
                timeout=10,
            )
    finally:
        limit_file.write_text(old)
