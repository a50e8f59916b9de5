"""Shared pieces of the benchmark suite: where directories live, timing, reporting, a private broker
and workers."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TASKVIEW = [PYTHON, "-m", "taskview"]
BENCH_DIR = Path(os.environ.get("TASKVIEW_BENCH_DIR", "/tmp/taskview-bench"))


def size_label(count: int) -> str:
    return f"{count // 1_000_000}M" if count >= 1_000_000 and count % 1_000_000 == 0 else f"{count // 1000}k"


def results_dir(count: int) -> Path:
    """A generated result directory of ``count`` files (made once, then reused)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from make_results import make

    path = BENCH_DIR / size_label(count)
    started = time.perf_counter()
    make(path, count)
    took = time.perf_counter() - started
    if took > 1:
        print(f"  (generated {count:,} files in {path} in {took:.0f} s)", flush=True)
    return path


def empty_dir() -> Path:
    path = BENCH_DIR / "empty"
    path.mkdir(parents=True, exist_ok=True)
    return path


def warm(path: Path) -> None:
    """Read every file once so all runs see a warm page cache, as the issue's figures do."""
    subprocess.run([PYTHON, str(ROOT / "bench" / "floor.py"), str(path)], check=True, stdout=subprocess.DEVNULL)


def time_command(argv: list[str], stdout=subprocess.DEVNULL) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=stdout)
    return time.perf_counter() - started


@dataclass
class Figure:
    """One line of the report: a measurement beside its same-run baseline."""

    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    ok: bool | None

    def row(self) -> str:
        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            if self.unit == "s":
                return f"{v:.3f} s"
            if self.unit == "ms":
                return f"{v:.1f} ms"
            if self.unit == "%":
                return f"{v:.1f} %"
            if self.unit == "B/task":
                return f"{v:.0f} B/task"
            return f"{v:,.0f} {self.unit}"

        ratio = ""
        if self.baseline:
            ratio = f"{self.baseline / self.value:.2f}x" if self.unit == "s" else f"{self.value / self.baseline:.2f}x"
        verdict = {True: "ok", False: "MISSED", None: ""}[self.ok]
        return (
            f"{self.name:<38} {fmt(self.value):>13}  {self.baseline_name + ' ' if self.baseline_name else ''}"
            f"{fmt(self.baseline) if self.baseline is not None else '':>10}  {ratio:>7}  {self.target:<22} {verdict}"
        )


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def private_redis(work: Path) -> Iterator[str]:
    """A redis-server of our own on a free port (no one else's workers answer on it): its URL."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()


@contextmanager
def demo_workers(url: str, results: Path, names: list[str], *options: str) -> Iterator[list[subprocess.Popen]]:
    """Solo workers of taskview's demo tasks on ``url``, one process group each (``names``: their node
    names; ``options``: more of ``celery worker``'s), killed with their groups after."""
    env = dict(os.environ, CELERY_BROKER_URL=url, TASKVIEW_DEMO_RESULTS=str(results))
    command = [PYTHON, "-m", "celery", "-A", "taskview.control.demo_tasks", "worker", "-P", "solo", "-l", "error"]
    procs = [
        subprocess.Popen(
            [*command, "-n", name, "--without-gossip", "--without-mingle", *options],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for name in names
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            os.killpg(proc.pid, 9)
            proc.wait()
