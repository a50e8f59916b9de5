"""The inspector's whole first scan, beside ``taskview DIR --stats`` on the same directory, same run.

Each inspector run is its own process (``python bench/first_scan.py DIR COUNT``):
the app runs headless (Textual's test driver renders every frame as a terminal
would) with a 10 ms timer noting the longest the UI thread went without running
it, and prints a line when its first rows are in the table, and another when
the table holds every task and the summary's counts are complete. Both times
are taken by the parent, from the launch of the process, as ``--stats`` is
timed: interpreter start-up included on both sides. Beside them, the first scan's reader
processes alone (``readers_alone``): the floor of the inspector's whole scan.

``run_reopen``: the same directory opened twice with a fresh cache directory, the
first open writing the scan index the second one uses (issue 14: complete counts
within 3 s on a reopen), the first open as its baseline; then once more after a
file was added (the directory's entries no longer as indexed: its readers list it,
as on a server whose workers write). Counts are complete when the summary bar's
add up to every task (a reopen's census, or every row in).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from common import PYTHON, TASKVIEW, Figure, median, size_label, time_command, warm
from taskview.sources.child_scan import reader_count
from taskview.sources.scan_index import RACY_SECONDS

SCREEN = (120, 40)
#: The UI timer's period: a gap longer than this is a frame the UI could not run.
BEAT = 0.01


async def _scan(path: str, count: int, cache_dir: str | None = None) -> None:
    from taskview.results.scan import ResultDirectory
    from taskview.sources.tail import DirectoryTail

    # As ``taskview DIR`` begins: the tail (its watch) prepared before the UI is imported (cli/live.py).
    results = ResultDirectory(path)
    tail = DirectoryTail(results, cache_dir=cache_dir)
    tail.prepare()
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(results, cache_dir=cache_dir, tail=tail)
    gaps: list[float] = []
    out = sys.stdout
    async with app.run_test(size=SCREEN):
        screen = app.inspector
        last = [time.monotonic()]

        def beat() -> None:
            now = time.monotonic()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(BEAT, beat)
        summary = screen.summary
        rows = counts = False
        while screen.scan is not None or len(screen.table.order) < count or screen.model.total < count:
            if not rows and screen.table.order:
                rows = True
                out.write("rows\n")
                out.flush()
            if not counts and summary.counts.total() == count and not summary.filtered:
                counts = True
                out.write("counts\n")
                out.flush()
            await asyncio.sleep(0.001 if not rows else 0.005)
        out.write(f"done {max(gaps, default=0.0):.4f} {len(gaps)}\n")
        out.flush()


def run_one(path: Path, count: int, cache_dir: str | None = None) -> dict[str, float]:
    """Launch one inspector process: seconds to its first rows and to its whole scan, and its longest UI gap.
    ``cache_dir``: where it keeps the scan index (none by default)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, __file__, str(path), str(count), *([cache_dir] if cache_dir else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    figures: dict[str, float] = {}
    try:
        for line in process.stdout:
            now = time.perf_counter() - started
            if line.startswith("rows"):
                figures["rows"] = now
            elif line.startswith("counts"):
                figures["counts"] = now
            elif line.startswith("done"):
                _, gap, beats = line.split()
                figures.update(done=now, gap=float(gap), beats=float(beats))
                break
    finally:
        process.kill()
        process.wait()
    if "done" not in figures:
        raise RuntimeError(f"the inspector on {path} never finished its first scan")
    return figures


def run(path: Path, count: int, repeats: int) -> list[Figure]:
    """The first scan beside --stats, interleaved, ``repeats`` times."""
    warm(path)
    stats: list[float] = []
    scans: list[dict[str, float]] = []
    readers: list[float] = []
    for _ in range(repeats):
        stats.append(time_command(TASKVIEW + [str(path), "--stats"]))
        readers.append(readers_alone(path))
        scans.append(run_one(path, count))
    label = size_label(count)
    base = median(stats)
    done = median([s["done"] for s in scans])
    alone = median(readers)
    gap = max(s["gap"] for s in scans) * 1000
    rows = median([s["rows"] for s in scans])
    return [
        Figure(
            f"first scan {label}: inspector, whole",
            done,
            "s",
            base,
            "--stats",
            "<= 1.5x --stats",
            done <= 1.5 * base,
        ),
        # No target: the floor of the target above (their rows made and sent, none taken in).
        Figure(f"first scan {label}: its readers alone", alone, "s", base, "--stats", "", None),
        Figure(f"first scan {label}: longest UI gap", gap, "ms", None, "", "< 50 ms", gap < 50),
        Figure(f"first scan {label}: first rows", rows, "s", None, "", "< 0.5 s", rows < 0.5),
    ]


def readers_alone(path: Path) -> float:
    """Seconds for the first scan's reader processes alone, launched as the inspector launches
    them (``ReaderPool``: its shares cut at a sample of the listing, no key lines), their rows
    written to /dev/null: what the inspector's whole first scan cannot be faster than, since it
    waits for their last row and takes the same cores to take them in."""
    from taskview.results.scan import ResultDirectory
    from taskview.sources.child_scan import id_bounds, reader_argv
    from taskview.sources.tail import ID_SAMPLE

    started = time.perf_counter()
    results = ResultDirectory(str(path))
    sample = [parsed.task_id for _, parsed in islice(results.iter_names(), ID_SAMPLE)]
    edges: list[str | None] = [None, *id_bounds(sample, reader_count()), None]
    processes = [
        subprocess.Popen(reader_argv(results, low, high, keys=False), stdout=subprocess.DEVNULL)
        for low, high in zip(edges, edges[1:], strict=False)
    ]
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError("a reader process failed")
    return time.perf_counter() - started


def census_floor(path: Path) -> float:
    """Seconds for as many bare-Python processes as the inspector has readers, launched at
    once, to list the directory and ``lstat`` a share of its files each (``floor.py --lstat``):
    what a reopen's census cannot be faster than."""
    readers = reader_count()
    floor = str(Path(__file__).resolve().parent / "floor.py")
    started = time.perf_counter()
    processes = [
        subprocess.Popen([PYTHON, floor, str(path), "--lstat", str(k), str(readers)], stdout=subprocess.DEVNULL)
        for k in range(readers)
    ]
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError("floor.py --lstat failed")
    return time.perf_counter() - started


def run_reopen(path: Path, count: int, repeats: int) -> list[Figure]:
    """A first open writing the scan index and a reopen using it, ``repeats`` times, each pair
    with a fresh cache directory (the files unchanged in between: the warm-cache reopen), and
    between them the census's floor (``census_floor``)."""
    warm(path)
    first: list[dict[str, float]] = []
    again: list[dict[str, float]] = []
    changed: list[dict[str, float]] = []
    floors: list[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="taskview-bench-cache-") as cache:
            first.append(run_one(path, count, cache))
            floors.append(census_floor(path))
            again.append(run_one(path, count, cache))
            # A file arrived since: the directory's entries are not as indexed, its readers list it.
            arrived = path / "celery-task-meta-zz-arrived-since"
            arrived.write_bytes(next(path.iterdir()).read_bytes())
            try:
                changed.append(run_one(path, count + 1, cache))
            finally:
                arrived.unlink()
        # The next first open indexes a directory that changed RACY_SECONDS before at least (or it
        # would keep no times of it: a change within one tick of its clock could leave them be).
        time.sleep(RACY_SECONDS + 0.5)
    label = size_label(count)
    counts = median([s["counts"] for s in again])
    done = median([s["done"] for s in again])
    gap = max(s["gap"] for s in again) * 1000
    first_gap = max(s["gap"] for s in first) * 1000
    return [
        Figure(
            f"reopen {label}: complete counts",
            counts,
            "s",
            median([s["counts"] for s in first]),
            "first open",
            "< 3 s",
            counts < 3,
        ),
        Figure(
            f"reopen {label}: complete counts, beside the floor",
            counts,
            "s",
            median(floors),
            f"list + lstat, {reader_count()} processes",
            "",
            None,
        ),
        Figure(
            f"reopen {label}, a file added since: complete counts",
            median([s["counts"] for s in changed]),
            "s",
            median(floors),
            f"list + lstat, {reader_count()} processes",
            "",
            None,
        ),
        Figure(f"reopen {label}: every row in", done, "s", median([s["done"] for s in first]), "first open", "", None),
        Figure(f"reopen {label}: longest UI gap", gap, "ms", first_gap, "first open", "< 50 ms", gap < 50),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(_scan(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
