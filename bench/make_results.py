"""Make a large result directory from real worker output (sample_results) for benchmarks.

    python bench/make_results.py DIR [COUNT]

Each file is a real sample file of the repository with a fresh task id written
in (as Celery would have), mixing states as the samples do; the large sample
is left out so the average file stays near the ~400-1000 B of real directories.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "sample_results"


def templates() -> list[dict]:
    metas = []
    for path in sorted(SAMPLES.iterdir()):
        if path.name.startswith("celery-task-meta-") and path.stat().st_size < 4096:
            metas.append(json.loads(path.read_bytes()))
    return metas


def make(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    metas = templates()
    for n in range(count):
        meta = dict(metas[n % len(metas)])
        task_id = str(uuid.UUID(int=n + 1))
        meta["task_id"] = task_id
        data = json.dumps(meta).encode()
        fd = os.open(directory / f"celery-task-meta-{task_id}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)


if __name__ == "__main__":
    make(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
