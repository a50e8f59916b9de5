"""Running a headless mode (--dump, --stats, --replay --dump) to stdout, as a pipe expects."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from ..text import one_line
from .common import EXIT_CHECK, fail

if TYPE_CHECKING:
    from ..query import Predicate
    from ..replay.timeline import Event, Timeline
    from ..results.scan import ResultDirectory


def run_headless(
    results: ResultDirectory,
    dump: str | None,
    stats: bool | str,
    as_json: bool = False,
    jobs: int | None = None,
    query: str | None = None,
    fail_on: Sequence[str] = (),
) -> None:
    """``--dump jsonl|csv`` or ``--stats [--format text|json|prometheus]`` of ``results`` on stdout
    (of the tasks ``query`` keeps); ``stats`` True or the format. With ``fail_on``
    (``QUERY>N`` each), exit 1 when a query keeps more than N tasks (EXIT_CHECK)."""
    from .. import headless
    from ..results.parallel import default_jobs

    jobs = jobs or default_jobs()
    limits = parse_checks(fail_on)
    figures: dict[str, Any] = {}
    with _to_stdout(results.path):
        predicate = compile_filter(query, results) if query is not None else None
        if stats or limits:
            checks = [_compile_check(text, results) for text, _ in limits]
            output = _output(stats, as_json)
            figures = headless.compute_stats(results, jobs, predicate, query, checks)
            add_checks(figures, limits)
            headless.write_stats(figures, output, sys.stdout)
        elif dump == "jsonl":
            headless.write_jsonl(results, sys.stdout.buffer, jobs, predicate)
        else:
            headless.write_csv(results, sys.stdout, jobs, predicate)
    if limits:
        exit_on_checks(figures, quiet=bool(stats))


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


def _output(stats: bool | str, as_json: bool) -> str | None:
    """The --stats format ("text", "json", "prometheus"); None without --stats (only --fail-on)."""
    if not stats:
        return None
    return "json" if as_json else (stats if isinstance(stats, str) else "text")


def parse_checks(fail_on: Sequence[str]) -> list[tuple[str, int]]:
    """``--fail-on 'QUERY>N'`` each as (QUERY, N); a one-line error for one that is not."""
    limits = []
    for text in fail_on:
        match = _CHECK.fullmatch(text)
        if match is None:
            fail(f"--fail-on {text!r}: give QUERY>N, as in 'status:FAILURE since:15m>10'")
        limits.append((match.group(1).strip(), int(match.group(2))))
    return limits


_CHECK = re.compile(r"(.*?)\s*>\s*(\d+)\s*", re.DOTALL)


def _compile_check(text: str, results: ResultDirectory | None = None, **known: Any) -> Predicate:
    """A --fail-on query as the filter compiles it; an empty one keeps every task."""
    predicate = compile_filter(text, results, flag="--fail-on", **known) if text else None
    return predicate if predicate is not None else _every_task


def _every_task(record: Any) -> bool:
    return True


def add_checks(figures: dict[str, Any], limits: Sequence[tuple[str, int]]) -> None:
    """The --fail-on figures into the stats: each query, its limit, its count, whether it crossed it."""
    counts = figures.pop("check_counts", [])
    if limits:
        figures["checks"] = [
            {"query": text, "limit": limit, "count": count, "crossed": count > limit}
            for (text, limit), count in zip(limits, counts, strict=True)
        ]


def exit_on_checks(figures: dict[str, Any], *, quiet: bool) -> None:
    """Exit EXIT_CHECK when a --fail-on query crossed its limit, saying which on stderr (and, without
    --stats, each check's count on stdout)."""
    crossed = False
    for check in figures.get("checks", []):
        line = f"{check['query'] or '(every task)'}: {check['count']:,} (limit {check['limit']:,})"
        if not quiet:
            click.echo(("FAIL " if check["crossed"] else "ok   ") + line)
        if check["crossed"]:
            crossed = True
            click.echo(f"taskview: --fail-on crossed: {one_line(line)}", err=True)
    if crossed:
        sys.exit(EXIT_CHECK)


def compile_filter(
    query: str, results: ResultDirectory | None = None, flag: str = "--filter", **known: Any
) -> Predicate | None:
    """``--filter QUERY`` as the inspector's filter compiles it (now: the time of the command); a
    term that means nothing here is a one-line error. ``root:`` reads ``results`` once more first."""
    from ..query import QueryError, compile_query, uses_field

    try:
        compile_query(query, strict=True, **known)  # every term checked before anything is read
    except QueryError as exc:
        fail(f"{flag} {query!r}: {exc}")
    if results is not None and "records" not in known and uses_field(query, "root"):
        from ..headless import linked_records

        known["records"] = linked_records(results)
    return compile_query(query, strict=True, **known)


def print_journal_stats(
    timeline: Timeline, as_json: bool, query: str | None, stats: bool | str = True, fail_on: Sequence[str] = ()
) -> None:
    """``--stats`` of a journal: the counts of its last state, as its replay ends."""
    from .. import headless
    from ..replay.player import Player
    from ..store import Store

    limits = parse_checks(fail_on)
    store = Store()
    Player(timeline.events, store).seek_end()
    predicate = None
    if query is not None:
        predicate = compile_filter(query, records=store.records, now=timeline.end)
    checks = [_compile_check(text, records=store.records, now=timeline.end) for text, _ in limits]
    with _to_stdout(timeline.path):
        figures = headless.stats_of_records(timeline.path, store.records.values(), predicate, query, checks)
        add_checks(figures, limits)
        headless.write_stats(figures, _output(stats, as_json), sys.stdout)
    if limits:
        exit_on_checks(figures, quiet=bool(stats))


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
