"""--dump and --stats spread over processes: the same output as one process, nothing lost."""

from __future__ import annotations

import io
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_RESULTS
from taskview import headless
from taskview.results.parallel import (
    MIN_FILES_TO_SPLIT,
    MIN_SHARE,
    SHARES_PER_JOB,
    map_forked,
    run_forked,
    split,
)
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
    items = list(range(MIN_FILES_TO_SPLIT * 4 + 3))
    shares = split(items, 3)
    # More shares than processes (each claims the next when done), all in order.
    assert 3 < len(shares) <= 3 * SHARES_PER_JOB and [i for share in shares for i in share] == items
    assert min(len(share) for share in shares[:-1]) >= MIN_SHARE
    assert split(items[:10], 4) == [items[:10]]  # small inputs stay in one process
    assert split(items, 1) == [items]


@pytest.mark.slow
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


def test_dump_to_a_real_file_equals_one_process(big_dir: Path, tmp_path: Path):
    """Spills go out by sendfile when the output is a file: the same bytes, in order."""
    results = ResultDirectory(str(big_dir))
    one = io.BytesIO()
    headless.write_jsonl(results, one, 1)
    with open(tmp_path / "dump.jsonl", "wb") as out:
        out.write(b"first line\n")  # what was written before must stay first
        assert headless.write_jsonl(results, out, 2) == MIN_FILES_TO_SPLIT + 1001
    assert (tmp_path / "dump.jsonl").read_bytes() == b"first line\n" + one.getvalue()


def _calls(log: Path) -> list[tuple[int, int]]:
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines()]  # type: ignore[misc]


def test_a_failed_child_has_only_the_share_it_failed_on_redone(tmp_path: Path):
    """A child that raises on a share: that share is redone here; the shares it
    finished before are kept, not computed twice."""
    parent = os.getpid()
    log = tmp_path / "calls"
    shares = [[n] for n in range(12)]

    def square(share: list[int]) -> list[int]:
        with open(log, "a") as calls:
            calls.write(f"{os.getpid()} {share[0]}\n")
        if os.getpid() == parent:
            # The parent holds its first share until the child has claimed three (and failed on
            # its third): then the child's failure is certain, whatever the machine's speed.
            deadline = time.monotonic() + 10
            while len([c for c in _calls(log) if c[0] != parent]) < 3:
                assert time.monotonic() < deadline, "the child never claimed three shares"
                time.sleep(0.005)
        elif len([c for c in _calls(log) if c[0] == os.getpid()]) == 3:
            raise RuntimeError("this child fails on its third share")
        return [share[0] ** 2]

    assert map_forked(square, shares, 2) == [[n * n] for n in range(12)]
    calls = _calls(log)
    child_calls = [index for pid, index in calls if pid != parent]
    assert len(child_calls) == 3, "the child stops at its failure"
    failed = child_calls[-1]
    assert sorted(index for _pid, index in calls) == sorted([*range(12), failed])  # only that one twice
    assert calls[-1] == (parent, failed)  # redone by the parent, after everything else


def test_a_child_that_dies_has_its_share_redone():
    parent = os.getpid()

    def square_all(share: list[int]) -> list[int]:
        if os.getpid() != parent and share[0] == 10:
            os._exit(3)  # no exception, no answer: killed, say
        return [n * n for n in share]

    shares = [[1, 2], [10, 11], [20]]
    assert map_forked(square_all, shares) == [[1, 4], [100, 121], [400]]
    assert sorted(run_forked(square_all, shares, 3)) == [(0, [1, 4]), (1, [100, 121]), (2, [400])]


def test_default_jobs_is_one_per_usable_cpu_up_to_four(monkeypatch):
    from taskview.results import parallel

    cpus = len(os.sched_getaffinity(0))
    assert parallel.default_jobs() == max(1, min(cpus, parallel.MAX_JOBS))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert parallel.default_jobs() == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert parallel.default_jobs() == 1
    monkeypatch.delattr(os, "sched_getaffinity")  # not Linux: every CPU counts
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert parallel.default_jobs() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown
    assert parallel.default_jobs() == 1
