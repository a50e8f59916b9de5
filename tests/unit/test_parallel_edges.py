"""results/parallel.py at its bounds: when it splits, how many shares it takes, one job forking
nothing, a fork that fails, and a caller that stops early (its children killed and reaped)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from taskview.results.parallel import MAX_SHARES, MIN_FILES_TO_SPLIT, map_forked, run_forked, split


def test_a_directory_of_exactly_the_threshold_is_split():
    assert len(split(list(range(MIN_FILES_TO_SPLIT)), 2)) > 1
    assert split(list(range(MIN_FILES_TO_SPLIT - 1)), 2) == [list(range(MIN_FILES_TO_SPLIT - 1))]


def test_at_most_max_shares():
    assert MAX_SHARES == 2048
    assert len(list(run_forked(len, [[1]] * 2048, jobs=1))) == 2048
    with pytest.raises(ValueError, match="^2049 shares: at most 2048$"):
        list(run_forked(len, [[1]] * 2049, jobs=1))


def pid_of(_share: object) -> int:
    return os.getpid()


def pid_and_children(_share: object) -> list:
    return [os.getpid(), sorted(children())]


def test_one_job_forks_nothing():
    before = sorted(children())
    # a child forked would compute a share, or be among the children while this process computes one
    assert map_forked(pid_and_children, [1, 2, 3], jobs=1) == [[os.getpid(), before]] * 3
    assert map_forked(pid_and_children, [1, 2, 3], jobs=0) == [[os.getpid(), before]] * 3


def test_when_fork_fails_this_process_does_every_share(monkeypatch):
    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = len(os.listdir("/proc/self/fd"))
    assert map_forked(pid_of, [1, 2, 3, 4], jobs=3) == [os.getpid()] * 4
    assert len(os.listdir("/proc/self/fd")) == before  # the pipes of the forks that failed closed


def slow_pid(_share: object) -> int:
    time.sleep(0.2)
    return os.getpid()


def children() -> set[int]:
    """This process's children (any thread's), as the kernel lists them."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                found.update(int(pid) for pid in listing.read().split())
        except FileNotFoundError:
            continue  # a thread that ended since the listing (an earlier test's): no children of its own now
    return found


def test_a_caller_that_stops_early_leaves_no_child_behind():
    before = children()
    results = run_forked(slow_pid, list(range(6)), jobs=3)
    index, pid = next(results)
    assert 0 <= index < 6 and pid > 0
    forked = children() - before
    assert len(forked) == 2
    results.close()  # the children are killed and reaped, their pipes closed
    for child in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(child, os.WNOHANG)


def test_the_callers_process_comes_back_with_the_results_and_only_it_does():
    # In a process of its own (forked here), since a caller that took the child's way would end
    # with os._exit(0): that process reports its pid and results, and nothing else may report.
    report_read, report_write = os.pipe()
    caller = os.fork()
    if caller == 0:
        try:
            os.close(report_read)
            results = map_forked(pid_of, [1, 2, 3, 4], jobs=2)
            os.write(report_write, repr((os.getpid(), results)).encode() + b"\n")
        finally:
            os._exit(0)
    os.close(report_write)
    reports = b""
    while chunk := os.read(report_read, 4096):  # until every holder of the write end is gone
        reports += chunk
    os.close(report_read)
    os.waitpid(caller, 0)
    lines = reports.splitlines()
    assert len(lines) == 1
    pid, results = eval(lines[0])  # a repr of ints written above
    assert pid == caller and len(results) == 4  # which process computed which share is a race
    assert all(isinstance(p, int) and p > 0 for p in results)


def _calls(log: Path) -> list[tuple[int, int]]:
    """(pid, share) of every call of a share's function so far, in order."""
    return [(int(pid), int(share)) for pid, share in (line.split() for line in log.read_text().splitlines())]


def _note_call(log: Path, share: int) -> None:
    with open(log, "a") as calls:
        calls.write(f"{os.getpid()} {share}\n")


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_an_answer_that_comes_after_the_last_share_is_kept_not_computed_again(tmp_path: Path):
    parent, log = os.getpid(), tmp_path / "calls"
    log.touch()

    def logged(share: int) -> int:
        _note_call(log, share)
        if os.getpid() == parent:
            # this process holds its first share until the child has claimed one
            _wait_for(lambda: any(pid != parent for pid, _ in _calls(log)), "the child never claimed a share")
        else:
            # the child answers only once this process has claimed every other share, and
            # some time after: its answer comes while this process waits for the children
            _wait_for(lambda: sum(pid == parent for pid, _ in _calls(log)) == 3, "the parent never took three")
            time.sleep(0.2)
        return share * 10

    results = list(run_forked(logged, [0, 1, 2, 3], jobs=2))
    assert sorted(results) == [(0, 0), (1, 10), (2, 20), (3, 30)]  # each share once
    assert sorted(share for _, share in _calls(log)) == [0, 1, 2, 3]  # computed once each


def test_a_child_that_dies_keeps_the_answers_it_gave_before(tmp_path: Path):
    """Its answers cross the pipe as each share ends (unbuffered): a child that dies without
    an exception (killed, say) has only the share it was on redone."""
    parent, log = os.getpid(), tmp_path / "calls"
    log.touch()

    def logged(share: int) -> int:
        _note_call(log, share)
        if os.getpid() == parent:
            _wait_for(lambda: sum(pid != parent for pid, _ in _calls(log)) >= 3, "the child never took three")
        elif sum(pid == os.getpid() for pid, _ in _calls(log)) == 3:
            os._exit(3)  # on its third share: no answer for it, nor a flush of anything
        return share * 10

    assert map_forked(logged, list(range(8)), 2) == [n * 10 for n in range(8)]
    calls = _calls(log)
    child_shares = [share for pid, share in calls if pid != parent]
    assert len(child_shares) == 3
    assert sorted(share for _, share in calls) == sorted([*range(8), child_shares[-1]])  # only that one twice


def test_every_childs_answers_are_read_at_the_end_not_only_the_first_childs(tmp_path: Path):
    """At the end this process reads each child's pipe until the child exits: the answers of a
    second child, that come then, are kept, not computed again here."""
    parent, log = os.getpid(), tmp_path / "calls"
    log.touch()

    def logged(share: int) -> int:
        _note_call(log, share)
        if os.getpid() == parent:
            # this process holds its first share until both children have claimed one
            children = lambda: {pid for pid, _ in _calls(log)} - {parent}  # noqa: E731
            _wait_for(lambda: len(children()) == 2, "the children never claimed a share each")
        else:
            # each child answers once this process has claimed its two shares, and some time
            # after: the answers come while this process waits for the children
            _wait_for(lambda: sum(pid == parent for pid, _ in _calls(log)) == 2, "the parent never took two")
            time.sleep(0.2)
        return share * 10

    results = list(run_forked(logged, [0, 1, 2, 3], jobs=3))
    assert sorted(results) == [(0, 0), (1, 10), (2, 20), (3, 30)]
    calls = _calls(log)
    assert sorted(share for _, share in calls) == [0, 1, 2, 3]  # computed once each
    assert len({pid for pid, _ in calls}) == 3  # by this process and both children
