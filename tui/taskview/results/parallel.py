"""Spread a headless scan over the machine's cores with fork.

Reading a result directory is mostly system calls (open, read, close per file)
and parsing, and both scale across cores: two processes read a directory in
about the time one takes for half of it. The work is cut into more shares than
processes, and each process claims the next share when it finishes one, so a
process slowed by the machine's other work does not hold the rest up. Children
send back small JSON results (their bulky output goes to spill files, see
headless.py). A share a failed child did not finish is redone in the parent:
nothing is lost, only time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson

T = TypeVar("T")
R = TypeVar("R")

#: Below this many files the fork costs more than it saves.
MIN_FILES_TO_SPLIT = 5000
MAX_JOBS = 4
#: Shares per process: enough that the processes finish close together, few
#: enough that each share's fixed costs (a spill file, a message) stay small.
SHARES_PER_JOB = 8
MIN_SHARE = 2000
#: The queue of shares is written into a pipe before anyone reads it: 2 bytes a
#: share within PIPE_BUF, so that write neither blocks nor splits.
MAX_SHARES = 2048


def default_jobs() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def split(items: Sequence[T], jobs: int) -> list[Sequence[T]]:
    """``items`` in contiguous shares, in order, for ``jobs`` processes to claim
    (one share when one process should do it all)."""
    if jobs <= 1 or len(items) < MIN_FILES_TO_SPLIT or not hasattr(os, "fork"):
        return [items]
    count = max(jobs, min(jobs * SHARES_PER_JOB, len(items) // MIN_SHARE))
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]


def map_forked(func: Callable[[T], R], shares: Sequence[T], jobs: int | None = None) -> list[R]:
    """``[func(share) for share in shares]``, by ``run_forked``."""
    results: list[Any] = [None] * len(shares)
    for index, result in run_forked(func, shares, jobs):
        results[index] = result
    return results


def run_forked(func: Callable[[T], R], shares: Sequence[T], jobs: int | None = None) -> Iterator[tuple[int, R]]:
    """``(index, func(share))`` for every share, as they finish, computed by this
    process and ``jobs - 1`` forked children (default: one per share), each
    claiming the next share when it finishes one.

    Finished shares are given between the shares this process computes, so the
    caller can use each early (headless.py copies spills out as they complete).
    ``func``'s results must be JSON-able: they cross a pipe as JSON (no pickle).
    """
    count = len(shares)
    if count > MAX_SHARES:
        raise ValueError(f"{count} shares: at most {MAX_SHARES}")
    jobs = count if jobs is None else max(1, min(jobs, count))
    if jobs <= 1:
        for index, share in enumerate(shares):
            yield index, func(share)
        return
    done = [False] * count
    claims_read, claims_write = os.pipe()
    # The queue of work: every share's number, two bytes each, written at once.
    # Reads of two bytes from a pipe are whole, so each number goes to one reader.
    os.write(claims_write, b"".join(index.to_bytes(2, "little") for index in range(count)))
    os.close(claims_write)
    children: dict[int, _Child] = {}
    try:
        for _ in range(jobs - 1):
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                break  # fewer processes: the others claim more
            if pid == 0:  # the child: never returns into the caller's code
                os.close(read_end)
                _child_main(func, shares, claims_read, write_end)
            os.close(write_end)
            os.set_blocking(read_end, False)
            children[read_end] = _Child(pid)
        for index in _claims(claims_read):
            result = func(shares[index])
            done[index] = True
            yield index, result
            for finished in _collect(children, wait=False):
                done[finished[0]] = True
                yield finished
        for finished in _collect(children, wait=True):
            done[finished[0]] = True
            yield finished
        for index in range(count):
            if not done[index]:  # claimed by a child that failed on it
                yield index, func(shares[index])
    finally:
        os.close(claims_read)
        for read_end, child in children.items():  # the parent stopped early (e.g. a closed stdout)
            try:
                os.kill(child.pid, 9)
                os.waitpid(child.pid, 0)
            except OSError:
                pass
            os.close(read_end)


class _Child:
    """A forked child as the parent sees it: its pid and what it has sent so far."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pending = b""  # the start of a line still being written


def _child_main(func: Callable[[T], R], shares: Sequence[T], claims: int, answers: int) -> None:
    """Claim shares until none is left, one JSON line per finished share; then exit."""
    try:
        with os.fdopen(answers, "wb", buffering=0) as pipe:
            for index in _claims(claims):
                result = func(shares[index])
                pipe.write(orjson.dumps([index, result], option=orjson.OPT_APPEND_NEWLINE))
    except BaseException:  # noqa: BLE001 - the share it was on is redone by the parent
        pass
    finally:
        os._exit(0)


def _collect(children: dict[int, _Child], *, wait: bool) -> Iterator[tuple[int, Any]]:
    """Shares the children have finished: what their pipes hold now, or (``wait``)
    everything until each has exited."""
    for read_end in list(children):
        child = children[read_end]
        if wait:
            os.set_blocking(read_end, True)
        while True:
            try:
                data = os.read(read_end, 1 << 16)
            except BlockingIOError:
                break
            if not data:  # the child exited
                del children[read_end]
                os.close(read_end)
                os.waitpid(child.pid, 0)
                break
            *lines, child.pending = (child.pending + data).split(b"\n")
            for line in lines:
                index, result = orjson.loads(line)
                yield index, result


def _claims(claims: int) -> Iterator[int]:
    """Share numbers taken from the queue until it is empty."""
    while len(taken := os.read(claims, 2)) == 2:
        yield int.from_bytes(taken, "little")
