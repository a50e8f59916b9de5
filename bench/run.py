"""taskview's benchmark suite: every figure of issue #6 beside a baseline measured in the same run.

    .venv/bin/python bench/run.py            # everything: 100k and 1M files (~15 min;
                                             #   1M is generated once, ~1.5 min, 4 GB of small files)
    .venv/bin/python bench/run.py --quick    # 100k only, fewer repeats, shorter live run (~1 min)
    .venv/bin/python bench/run.py --only scan,memory

Result directories are generated under $TASKVIEW_BENCH_DIR (default /tmp/taskview-bench)
from the real worker files in sample_results/ and reused by later runs. Figures are
medians of interleaved runs on a warm page cache; the machine's noise is in every one.
Ratios: for scan times, baseline time / taskview time (throughput relative to the floor);
otherwise taskview / baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, results_dir  # noqa: E402

SECTIONS = (
    "scan",
    "first-screen",
    "first-scan",
    "reopen",
    "live",
    "refresh",
    "cpu",
    "interaction",
    "memory",
    "detail",
    "workflows",
    "ui-gaps",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100k files only, fewer repeats, a 10 s live run")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=None, help="runs per scan figure (default 5, quick 3)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    repeats = args.repeats or (3 if args.quick else 5)
    print(
        f"taskview benchmarks: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M')}",
        flush=True,
    )
    dirs = {count: results_dir(count) for count in sizes}
    figures: list[Figure] = []

    def section(name: str, produce) -> None:  # type: ignore[no-untyped-def]
        if name not in only:
            return
        started = time.perf_counter()
        print(f"\n== {name}", flush=True)
        for figure in produce():
            figures.append(figure)
            print(figure.row(), flush=True)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)

    import cpu_watch
    import detail_memory
    import first_scan
    import first_screen
    import interaction
    import live_latency
    import live_refresh
    import memory
    import scan_bench
    import ui_gaps
    import workflows

    section("scan", lambda: [f for count in sizes for f in scan_bench.run(dirs[count], count, repeats)])
    biggest = max(sizes)
    section("first-screen", lambda: first_screen.run(dirs[biggest], biggest, 3))
    section("first-scan", lambda: first_scan.run(dirs[biggest], biggest, 2 if args.quick else 3))
    section("reopen", lambda: first_scan.run_reopen(dirs[biggest], biggest, 2 if args.quick else 3))
    section("live", lambda: live_latency.run(2000, 10 if args.quick else 30, 10))
    section("refresh", lambda: live_refresh.run(dirs[biggest], biggest))
    section(
        "cpu",
        lambda: cpu_watch.run((30, 300), 10 if args.quick else 30, dirs[biggest], biggest, 10 if args.quick else 30),
    )
    small = results_dir(1000)
    section("interaction", lambda: interaction.run(dirs[biggest], biggest, small, 1000))
    section("memory", lambda: memory.run([(dirs[count], count) for count in sizes]))
    section("detail", detail_memory.run)
    section("workflows", workflows.run)
    section("ui-gaps", lambda: ui_gaps.run(5 if args.quick else 10, 8 if args.quick else 15))

    missed = [f for f in figures if f.ok is False]
    print(
        f"\n{len(figures)} figures, {len(missed)} target(s) missed"
        + (": " + "; ".join(f.name for f in missed) if missed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
