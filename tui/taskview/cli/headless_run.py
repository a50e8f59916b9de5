"""Running a headless mode (--dump, --stats, --replay --dump) to stdout, as a pipe expects."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .common import fail

if TYPE_CHECKING:
    from ..replay.timeline import Event
    from ..results.scan import ResultDirectory


def run_headless(
    results: ResultDirectory, dump: str | None, stats: bool, as_json: bool, jobs: int | None = None
) -> None:
    """``--dump jsonl|csv`` or ``--stats [--json]`` of ``results`` on stdout."""
    from .. import headless
    from ..results.parallel import default_jobs

    jobs = jobs or default_jobs()
    with _to_stdout(results.path):
        if stats:
            headless.print_stats(results, as_json, jobs=jobs)
        elif dump == "jsonl":
            headless.write_jsonl(results, sys.stdout.buffer, jobs)
        else:
            headless.write_csv(results, sys.stdout, jobs)


def print_events(path: str, events: list[Event]) -> None:
    """``--replay --dump jsonl``: the timeline, one event a line, in time order."""
    from ..replay.timeline import write_events_jsonl

    with _to_stdout(path):
        write_events_jsonl(events, sys.stdout.buffer)


@contextmanager
def _to_stdout(path: str) -> Iterator[None]:
    """Output ends flushed; a reader that leaves (``| head``) is not an error; a read error is one line."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # `taskview DIR --dump jsonl | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
