"""--dump and --stats spread over processes: the same output as one process, nothing lost."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from pathlib import Path

import pytest

from conftest import SAMPLE_RESULTS
from taskview import headless
from taskview.results.parallel import MIN_FILES_TO_SPLIT, map_forked, split
from taskview.results.scan import ResultDirectory


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory) -> Path:
    """Enough real worker files (copies of sample_results under new ids) to be split."""
    directory = tmp_path_factory.mktemp("big")
    samples = sorted(p for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-task-meta-"))
    for n in range(MIN_FILES_TO_SPLIT + 1000):
        source = samples[n % len(samples)]
        shutil.copyfile(source, directory / f"celery-task-meta-{uuid.UUID(int=n)}")
    (directory / "celery-task-meta-broken").write_bytes(b'{"status": "SUC')
    return directory


def test_split_keeps_order_and_everything():
    items = list(range(MIN_FILES_TO_SPLIT * 2 + 3))
    shares = split(items, 3)
    assert len(shares) == 3 and [i for share in shares for i in share] == items
    assert split(items[:10], 4) == [items[:10]]  # small inputs stay in one process
    assert split(items, 1) == [items]


def test_parallel_dump_and_stats_equal_one_process(big_dir: Path):
    results = ResultDirectory(str(big_dir))
    one, two = io.BytesIO(), io.BytesIO()
    assert headless.write_jsonl(results, one, 1) == headless.write_jsonl(results, two, 2) == MIN_FILES_TO_SPLIT + 1001
    assert one.getvalue() == two.getvalue()
    csv_one, csv_two = io.StringIO(), io.StringIO()
    headless.write_csv(results, csv_one, 1)
    headless.write_csv(results, csv_two, 3)
    assert csv_one.getvalue() == csv_two.getvalue()
    stats = headless.compute_stats(results, 2)
    assert stats == headless.compute_stats(results, 1)
    assert stats["total"] == MIN_FILES_TO_SPLIT + 1001 and stats["unreadable"] == 1


def test_a_failed_child_has_its_share_redone():
    parent = os.getpid()

    def square_all(share: list[int]) -> list[int]:
        if os.getpid() != parent and share[0] == 10:
            raise RuntimeError("this child dies")
        return [n * n for n in share]

    assert map_forked(square_all, [[1, 2], [10, 11], [20]]) == [[1, 4], [100, 121], [400]]
