"""Scan throughput: ``taskview --stats`` and ``--dump jsonl``, whole processes, vs the floor."""

from __future__ import annotations

from pathlib import Path

from common import PYTHON, ROOT, TASKVIEW, Figure, median, size_label, time_command, warm

FLOOR = [PYTHON, str(ROOT / "bench" / "floor.py")]


def run(path: Path, count: int, repeats: int) -> list[Figure]:
    warm(path)
    commands = {
        "floor": FLOOR + [str(path)],
        "floor (dir fd)": FLOOR + [str(path), "--dir-fd"],
        "floor (dir fd, fstat)": FLOOR + [str(path), "--dir-fd", "--fstat"],
        "--stats": TASKVIEW + [str(path), "--stats"],
        "--dump jsonl": TASKVIEW + [str(path), "--dump", "jsonl"],
        "--stats, one process": TASKVIEW + [str(path), "--stats", "--jobs", "1"],
        "--dump jsonl, one process": TASKVIEW + [str(path), "--dump", "jsonl", "--jobs", "1"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    # Interleaved, so the machine's noise falls on every command alike.
    for _ in range(repeats):
        for name, argv in commands.items():
            times[name].append(time_command(argv))
    floor = median(times["floor"])
    label = size_label(count)
    figures = [
        Figure(f"scan {label}: bare-Python floor", floor, "s", None, "", f"{count / floor:,.0f} files/s", None),
        Figure(
            f"scan {label}: floor with a dir fd",
            median(times["floor (dir fd)"]),
            "s",
            floor,
            "floor",
            "(stricter floor)",
            None,
        ),
        Figure(
            f"scan {label}: floor + fstat",
            median(times["floor (dir fd, fstat)"]),
            "s",
            floor,
            "floor",
            "(a dump's floor: mtime, size)",
            None,
        ),
    ]
    for name in ("--stats", "--dump jsonl", "--stats, one process", "--dump jsonl, one process"):
        value = median(times[name])
        target = ">= 0.8x floor" if "one process" not in name else "(one core, for reference)"
        ok = floor / value >= 0.8 if "one process" not in name else None
        figures.append(Figure(f"scan {label}: taskview {name}", value, "s", floor, "floor", target, ok))
    dump_floor = median(times["floor (dir fd, fstat)"])
    figures.append(
        Figure(
            f"scan {label}: taskview --dump jsonl",
            median(times["--dump jsonl"]),
            "s",
            dump_floor,
            "floor+fstat",
            "(same run)",
            None,
        )
    )
    return figures
