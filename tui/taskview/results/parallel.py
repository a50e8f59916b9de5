"""Spread a headless scan over the machine's cores with fork.

Reading a result directory is mostly system calls (open, read, close per file)
and parsing, and both scale across cores: two processes read a directory in
about the time one takes for half of it. The parent takes the first share
itself; children take the rest and send back small JSON results (their bulky
output goes to spill files, see headless.py). A child that fails has its share
redone in the parent: nothing is lost, only time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson

T = TypeVar("T")
R = TypeVar("R")

#: Below this many files the fork costs more than it saves.
MIN_FILES_TO_SPLIT = 5000
MAX_JOBS = 4


def default_jobs() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def split(items: Sequence[T], jobs: int) -> list[Sequence[T]]:
    """``items`` in ``jobs`` contiguous shares (fewer for small inputs), in order."""
    if jobs <= 1 or len(items) < MIN_FILES_TO_SPLIT or not hasattr(os, "fork"):
        return [items]
    size = -(-len(items) // jobs)
    return [items[i : i + size] for i in range(0, len(items), size)]


def map_forked(func: Callable[[T], R], shares: Sequence[T]) -> list[R]:
    """``[func(share) for share in shares]``, the shares after the first in forked children.

    ``func``'s results must be JSON-able (they cross a pipe as JSON: no pickle).
    """
    children: list[tuple[int, int, T]] = []
    try:
        for share in shares[1:]:
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read_end)
                os.close(write_end)
                raise
            if pid == 0:  # the child: never returns into the caller's code
                os.close(read_end)
                try:
                    payload = orjson.dumps({"ok": func(share)})
                except BaseException as exc:  # noqa: BLE001 - reported, the parent redoes the share
                    payload = orjson.dumps({"error": repr(exc)})
                try:
                    with os.fdopen(write_end, "wb") as pipe:
                        pipe.write(payload)
                finally:
                    os._exit(0)
            os.close(write_end)
            children.append((pid, read_end, share))
        results = [func(shares[0])] if shares else []
        while children:
            pid, read_end, share = children[0]
            with os.fdopen(read_end, "rb") as pipe:
                data = pipe.read()
            del children[0]  # its pipe is closed: nothing left for the cleanup below
            os.waitpid(pid, 0)
            try:
                answer = orjson.loads(data)
            except orjson.JSONDecodeError:
                answer = {"error": "no answer"}
            results.append(answer["ok"] if "ok" in answer else func(share))
        return results
    finally:
        for pid, read_end, _share in children:  # the parent failed (e.g. a closed stdout): stop them
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
            os.close(read_end)
