"""The inspector's whole first scan, beside ``taskview DIR --stats`` on the same directory, same run.

Each inspector run is its own process (``python bench/first_scan.py DIR COUNT``):
the app runs headless (Textual's test driver renders every frame as a terminal
would) with a 10 ms timer noting the longest the UI thread went without running
it, and prints a line when its first rows are in the table, and another when
the table holds every task and the summary's counts are complete. Both times
are taken by the parent, from the launch of the process, as ``--stats`` is
timed: interpreter start-up included on both sides.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from common import PYTHON, TASKVIEW, Figure, median, size_label, time_command, warm

SCREEN = (120, 40)
#: The UI timer's period: a gap longer than this is a frame the UI could not run.
BEAT = 0.01


async def _scan(path: str, count: int) -> None:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(path))
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
        while not screen.table.order:
            await asyncio.sleep(0.001)
        out.write("rows\n")
        out.flush()
        while screen.scan is not None or len(screen.table.order) < count or screen.model.total < count:
            await asyncio.sleep(0.005)
        out.write(f"done {max(gaps, default=0.0):.4f} {len(gaps)}\n")
        out.flush()


def run_one(path: Path, count: int) -> dict[str, float]:
    """Launch one inspector process: seconds to its first rows and to its whole scan, and its longest UI gap."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, __file__, str(path), str(count)],
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
    for _ in range(repeats):
        stats.append(time_command(TASKVIEW + [str(path), "--stats"]))
        scans.append(run_one(path, count))
    label = size_label(count)
    base = median(stats)
    done = median([s["done"] for s in scans])
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
        Figure(f"first scan {label}: longest UI gap", gap, "ms", None, "", "< 50 ms", gap < 50),
        Figure(f"first scan {label}: first rows", rows, "s", None, "", "< 0.5 s", rows < 0.5),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(_scan(sys.argv[1], int(sys.argv[2])))
