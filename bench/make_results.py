"""Make a large result directory from real worker output (sample_results) for benchmarks.

    python bench/make_results.py DIR [COUNT]

Each file is a real sample file of the repository (written by a real Celery
worker, see tests/make_sample_results.py) with a fresh random task id and
date_done written in, as Celery would have. States are mixed like a busy
production directory: mostly SUCCESS, some FAILURE with tracebacks, a few
RETRY, REVOKED, STARTED and custom progress states, and group files. The
200 KB sample is left out, so files average ~450 B like real directories.
The same DIR and COUNT give the same files (seeded), so runs compare.
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "sample_results"
#: Written last, naming the generator and count: a directory is reused only when it matches.
MARKER = ".taskview-bench"
VERSION = "2"

#: Share of files per state, roughly a busy production directory.
STATE_WEIGHTS = {
    "SUCCESS": 80,
    "FAILURE": 8,
    "RETRY": 2,
    "REVOKED": 2,
    "STARTED": 3,
    "PROGRESS": 3,
    "GOING_TO_SLEEP": 1,
    "group": 1,
}


def templates() -> dict[str, list[tuple[str, dict]]]:
    by_state: dict[str, list[tuple[str, dict]]] = {}
    for path in sorted(SAMPLES.iterdir()):
        if path.stat().st_size >= 4096:
            continue
        meta = json.loads(path.read_bytes())
        if path.name.startswith("celery-taskset-meta-"):
            by_state.setdefault("group", []).append(("celery-taskset-meta-", meta))
        elif path.name.startswith("celery-task-meta-"):
            by_state.setdefault(meta["status"], []).append(("celery-task-meta-", meta))
    return by_state


def make(directory: Path, count: int, seed: int = 1) -> None:
    """Write COUNT files into DIR (created); skip when DIR already holds exactly them."""
    marker = directory / MARKER
    stamp = f"{VERSION} {count} {seed}"
    if marker.exists() and marker.read_text() == stamp:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(directory):
        os.unlink(entry.path)
    rng = random.Random(seed)
    by_state = templates()
    states = [s for s in STATE_WEIGHTS if s in by_state]
    weights = [STATE_WEIGHTS[s] for s in states]
    end = datetime(2026, 11, 25, tzinfo=timezone.utc)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for state in rng.choices(states, weights, k=count):
            prefix, template = rng.choice(by_state[state])
            meta = dict(template)
            task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if prefix == "celery-task-meta-":
                meta["task_id"] = task_id
                if meta.get("date_done"):
                    when = end - timedelta(seconds=rng.uniform(0, 86400))
                    meta["date_done"] = when.isoformat()
            data = json.dumps(meta).encode()
            fd = os.open(prefix + task_id, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dfd)
            os.write(fd, data)
            os.close(fd)
    finally:
        os.close(dfd)
    marker.write_text(stamp)


if __name__ == "__main__":
    make(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
