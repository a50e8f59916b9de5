"""``taskview DIR revoke|retry|forget QUERY``: a bulk action from a script or cron, with --dry-run.

The tasks are those the filter QUERY keeps, as ``--dump --filter`` selects them;
what the action applies to and what it skips is ``control.bulk_plan.plan``, carried
out by ``control.bulk.execute``. Nothing is done without ``--yes`` (or a "y" typed
at a terminal); ``--dry-run`` only lists.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .common import EXIT_USAGE, fail

if TYPE_CHECKING:
    from ..control.controller import Controller
    from ..results.scan import ResultDirectory

#: Exit codes of a bulk action (EXIT_USAGE, 2, for what a user got wrong).
EXIT_DONE = 0  # every task it applied to was done (or --dry-run)
EXIT_PARTIAL = 1  # some (or all) failed, or it was interrupted
EXIT_NOTHING = 3  # nothing matched, or nothing matched that the action applies to
#: How many lines of skipped or failed tasks are printed after the outcome.
SHOWN = 20


def out(line: str, *, err: bool = False) -> None:
    """One line: names, ids and reasons come from files (made inert)."""
    from ..text import one_line

    click.echo(one_line(line), err=err)


def run_bulk(
    results: ResultDirectory,
    action: str,
    query: str,
    *,
    controller: Controller | None,
    dry_run: bool,
    yes: bool,
    include_unfinished: bool,
) -> None:
    """Plan ``action`` on what ``query`` keeps, print it, and (with ``yes``) carry it out; exits."""
    from ..control.bulk import audit, execute
    from ..control.bulk_plan import detail_lines, outcome_line, plan
    from ..debug_log import log
    from ..headless import matching_records
    from .headless_run import compile_filter

    predicate = compile_filter(query, results)
    try:
        records = matching_records(results, predicate)
    except OSError as exc:
        fail(f"cannot read {results.path}: {exc.strerror or exc}")
    metas = None
    if action == "retry":
        metas = {}
        for r in records:
            full = results.read_full(r.filename)
            metas[r.task_id] = full.meta if full is not None else None
    bulk = plan(action, records, metas=metas, include_unfinished=include_unfinished)
    head = f"{action} {query!r} in {results.path}: {len(records):,} matched"
    out(head)
    for label, value in bulk.facts():
        out(f"  {label:<8} {value}")
    if dry_run:
        for t in bulk.targets:
            out(f"would {action:<9} {t.task_id}  {t.status}  {t.name or '?'}")
        for s in bulk.skipped:
            out(f"skip {s.task_id}  {s.status}  {s.name or '?'}: {s.reason}")
        out(f"dry run: {len(bulk.targets):,} would be {bulk.verb}, nothing sent or removed")
        sys.exit(EXIT_DONE)
    if not bulk.targets:
        out("nothing to do: " + ("no task matched" if not records else "the action applies to none of them"))
        sys.exit(EXIT_NOTHING)
    if action != "forget" and controller is None:
        fail(f"{action} needs a broker: -A proj, -b URL or CELERY_BROKER_URL (--dry-run lists without one)")
    if not yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            fail(f"{action} of {len(bulk.targets):,} tasks not done: add --yes to act (or --dry-run to list)")
        if not click.confirm(f"{action} {len(bulk.targets):,} tasks?", default=False):
            out("nothing done")
            sys.exit(EXIT_USAGE)
    log.info("bulk %s %r: %d tasks, %d skipped", action, query, len(bulk.targets), len(bulk.skipped))
    try:
        done = execute(bulk, controller=controller, directory=results.path)
    except KeyboardInterrupt:
        out("interrupted: some may have been done", err=True)
        sys.exit(EXIT_PARTIAL)
    audit(bulk, done, controller.broker_display if controller is not None and action != "forget" else None)
    out(outcome_line(bulk, done))
    problems = [line for line in detail_lines(bulk, done) if not line.startswith(bulk.verb)]
    for line in problems[:SHOWN]:
        out("  " + line)
    if len(problems) > SHOWN:
        out(f"  … {len(problems) - SHOWN:,} more")
    sys.exit(EXIT_DONE if all(d.ok for d in done) else EXIT_PARTIAL)
