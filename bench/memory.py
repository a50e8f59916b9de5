"""Memory per task: peak RSS of the inspector holding N tasks, minus the same on an empty directory.

Each measurement is its own process (``python bench/memory.py DIR COUNT`` prints
its peak RSS in bytes), running the app headless until its first scan is done.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from common import PYTHON, Figure, empty_dir, size_label


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def hold(path: str, count: int) -> None:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(path))
    async with app.run_test(size=(120, 40)) as pilot:
        while app.inspector.scan is not None or len(app.inspector.table.order) < count:
            await asyncio.sleep(0.05)
        await pilot.pause(1.0)  # a refresh or two with everything in place
        print(peak_rss(), len(app.inspector.store))


def measure(path: Path, count: int) -> int:
    out = subprocess.run([PYTHON, __file__, str(path), str(count)], check=True, capture_output=True, text=True)
    rss, held = (int(v) for v in out.stdout.split()[-2:])
    if held != count:
        raise RuntimeError(f"held {held} tasks of {count}")
    return rss


def run(sizes: list[tuple[Path, int]]) -> list[Figure]:
    empty = measure(empty_dir(), 0)
    figures = []
    for path, count in sizes:
        peak = measure(path, count)
        per_task = (peak - empty) / count
        # Issue 14: under 450 B a task at 1M; smaller directories carry the interpreter's and
        # Textual's fixed costs over fewer tasks, so they get the earlier 500 B.
        limit = 450 if count >= 1_000_000 else 500
        figures.append(
            Figure(
                f"memory: {size_label(count)} tasks, peak RSS",
                peak / 2**20,
                "MiB",
                empty / 2**20,
                "empty dir",
                "",
                None,
            )
        )
        figures.append(
            Figure(
                f"memory: {size_label(count)} tasks, per task",
                per_task,
                "B/task",
                None,
                "",
                f"< {limit} B/task",
                per_task < limit,
            )
        )
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(hold(sys.argv[1], int(sys.argv[2])))
