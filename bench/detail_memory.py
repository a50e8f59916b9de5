"""Memory given back: the inspector's RSS before a 10 MB result's detail pane is opened, while it
shows, and after it is closed; and the longest the UI thread stalled while it opened.

The result file is the sample worker's own large_result file (sample_results/), its
string made 10 MB: what a worker writes for ``large_result(size=10_000_000)``.
Each run is its own process (``python bench/detail_memory.py DIR TASK_ID`` prints
the three RSS figures in bytes and the stall in seconds).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH_DIR, PYTHON, ROOT, Figure

SIZE = 10_000_000


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def big_result_dir() -> tuple[Path, str]:
    """A directory of the sample files and one of them made 10 MB (made once)."""
    path = BENCH_DIR / "big-result"
    sample = next(p for p in (ROOT / "sample_results").iterdir() if b"sampletasks.large_result" in p.read_bytes())
    target = path / sample.name
    if not target.exists():
        path.mkdir(parents=True, exist_ok=True)
        for other in (ROOT / "sample_results").iterdir():
            (path / other.name).write_bytes(other.read_bytes())
        meta = json.loads(sample.read_bytes())
        meta["result"] = (meta["result"] * (SIZE // len(meta["result"]) + 1))[:SIZE]
        target.write_text(json.dumps(meta))
    return path, sample.name.removeprefix("celery-task-meta-")


async def measure_in_process(path: str, task_id: str) -> None:
    from taskview.results.scan import ResultDirectory
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(path))
    gaps: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while app.inspector.scan is not None or task_id not in app.inspector.table.task_ids:
            await asyncio.sleep(0.05)
        await pilot.pause(1.0)
        gc.collect()
        before = rss()
        last = [time.monotonic()]

        def beat() -> None:
            now = time.monotonic()
            gaps.append(now - last[0])
            last[0] = now

        app.set_interval(0.02, beat)
        app.inspector.table.select_task(task_id)
        await pilot.press("enter")
        body = app.query_one("#detail-body")
        while len(body.text) < 1000:  # type: ignore[attr-defined]
            await asyncio.sleep(0.02)
        await pilot.pause(0.5)
        shown = rss()
        await pilot.press("escape")
        await pilot.pause(0.5)
        gc.collect()
        await pilot.pause(0.5)
        after = rss()
        print(before, shown, after, max(gaps))


def run() -> list[Figure]:
    path, task_id = big_result_dir()
    out = subprocess.run([PYTHON, __file__, str(path), task_id], check=True, capture_output=True, text=True)
    before, shown, after, stall = (float(v) for v in out.stdout.split()[-4:])
    mib = 2**20
    return [
        Figure("10 MB result: RSS while its pane shows", shown / mib, "MiB", before / mib, "before", "", None),
        Figure(
            "10 MB result: RSS after its pane is closed",
            after / mib,
            "MiB",
            before / mib,
            "before",
            "<= before + 10 MiB",
            after - before <= 10 * mib,
        ),
        Figure("10 MB result: longest UI stall opening it", stall * 1000, "ms", None, "", "< 250 ms", stall < 0.25),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(measure_in_process(sys.argv[1], sys.argv[2]))
