"""Running a headless mode (--dump, --stats, --replay --dump) to stdout, as a pipe expects."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .common import fail

if TYPE_CHECKING:
    from ..query import Predicate
    from ..replay.timeline import Event, Timeline
    from ..results.scan import ResultDirectory


def run_headless(
    results: ResultDirectory,
    dump: str | None,
    stats: bool,
    as_json: bool,
    jobs: int | None = None,
    query: str | None = None,
) -> None:
    """``--dump jsonl|csv`` or ``--stats [--json]`` of ``results`` on stdout (of the tasks ``query`` keeps)."""
    from .. import headless
    from ..results.parallel import default_jobs

    jobs = jobs or default_jobs()
    with _to_stdout(results.path):
        predicate = compile_filter(query, results) if query is not None else None
        if stats:
            headless.print_stats(results, as_json, jobs=jobs, predicate=predicate, query=query)
        elif dump == "jsonl":
            headless.write_jsonl(results, sys.stdout.buffer, jobs, predicate)
        else:
            headless.write_csv(results, sys.stdout, jobs, predicate)


def run_tree(results: ResultDirectory, wanted: str, as_json: bool) -> None:
    """``--tree TASK_ID [--json]``: the workflow holding the task, as an indented tree or one JSON document."""
    from .. import headless

    with _to_stdout(results.path):
        store = headless.workflow_store(results)
        task_id = headless.find_task(store, wanted)
        if task_id is None:
            fail(f"--tree {wanted!r}: no task or group in {results.path} has that id (or it starts more than one)")
        if as_json:
            import orjson

            text = orjson.dumps(headless.workflow_json(store, task_id), option=orjson.OPT_INDENT_2).decode()
        else:
            text = headless.workflow_text(store, task_id)
        try:
            sys.stdout.write(text + "\n")
        except OSError as exc:
            raise headless.OutputError(exc) from exc


def compile_filter(query: str, results: ResultDirectory | None = None, **known: Any) -> Predicate | None:
    """``--filter QUERY`` as the inspector's filter compiles it (now: the time of the command); a
    term that means nothing here is a one-line error. ``root:`` reads ``results`` once more first."""
    from ..query import QueryError, compile_query, uses_field

    try:
        compile_query(query, strict=True, **known)  # every term checked before anything is read
    except QueryError as exc:
        fail(f"--filter {query!r}: {exc}")
    if results is not None and "records" not in known and uses_field(query, "root"):
        from ..headless import linked_records

        known["records"] = linked_records(results)
    return compile_query(query, strict=True, **known)


def print_journal_stats(timeline: Timeline, as_json: bool, query: str | None) -> None:
    """``--stats`` of a journal: the counts of its last state, as its replay ends."""
    from .. import headless
    from ..replay.player import Player
    from ..store import Store

    store = Store()
    Player(timeline.events, store).seek_end()
    predicate = None
    if query is not None:
        predicate = compile_filter(query, records=store.records, now=timeline.end)
    with _to_stdout(timeline.path):
        stats = headless.stats_of_records(timeline.path, store.records.values(), predicate, query)
        headless.write_stats(stats, as_json, sys.stdout)


def print_events(path: str, events: list[Event]) -> None:
    """``--replay --dump jsonl``: the timeline, one event a line, in time order."""
    from ..headless import OutputError
    from ..replay.timeline import write_events_jsonl

    with _to_stdout(path):
        try:
            write_events_jsonl(events, sys.stdout.buffer)
        except OSError as exc:  # the events are in memory: only writing them can fail
            raise OutputError(exc) from exc


@contextmanager
def _to_stdout(path: str) -> Iterator[None]:
    """Output ends flushed; a reader that leaves (``| head``) is not an error; a read error
    and a write error (a full disk) are one line each, saying which."""
    from ..headless import OutputError

    try:
        try:
            yield
        except OutputError as exc:
            raise exc.error from None
        except BrokenPipeError:
            raise
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
        sys.stdout.flush()
    except BrokenPipeError:
        # `taskview DIR --dump jsonl | head`: the reader left; that is not an error.
        _drop_stdout()
        sys.exit(0)
    except OSError as exc:
        _drop_stdout()  # what is still buffered cannot go out either: no second complaint at exit
        fail(f"cannot write the output: {exc.strerror or exc}")


def _drop_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
