"""The ``taskview`` command: parse PATH and flags, then run the inspector or a headless mode.

Headless modes import nothing of Textual; the app is imported only when needed.
``common`` holds what every part shares (the one-line error, PATH checks),
``headless_run`` the headless modes, ``files`` archives, journals and --replay,
``live`` the inspector's own setup (broker, demo worker, journal, log).
"""

from __future__ import annotations

import os

import click

from .common import EXIT_USAGE, check_directory, fail, resolve_path
from .headless_run import run_headless, run_tree
from .live import connect, open_recorder, run_demo, run_live, start_log

__all__ = ["EXIT_USAGE", "check_directory", "fail", "main", "resolve_path"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", metavar="[PATH]", required=False)
@click.argument("command", metavar="[revoke|retry|forget QUERY]", nargs=-1)
@click.option(
    "--dump",
    type=click.Choice(["jsonl", "csv"]),
    help="Print every task and group file (one JSON object per line, or CSV) and exit.",
)
@click.option(
    "--stats",
    is_flag=True,
    help="Print counts per status, per task name and per error group, and the unreadable files, and exit.",
)
@click.option(
    "--tree",
    "tree_of",
    metavar="TASK_ID",
    help="Print the workflow (chain, group, chord, tasks started by tasks) holding TASK_ID (or a prefix), and exit.",
)
@click.option("--json", "as_json", is_flag=True, help="With --stats or --tree: print JSON (--stats: --format json).")
@click.option(
    "--format",
    "stats_format",
    type=click.Choice(["text", "json", "prometheus"]),
    help="With --stats: text (default), json, or prometheus (the text exposition format, for node_exporter's "
    "textfile collector).",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="'QUERY>N'",
    help="Exit 1 when more than N tasks match QUERY (the filter language: 'status:FAILURE since:15m>10'); "
    "repeatable; with or without --stats. Exit 2: bad input.",
)
@click.option(
    "--filter",
    "query",
    metavar="QUERY",
    help="With --dump or --stats: only the tasks QUERY keeps (the inspector's filter: status:FAILURE since:1h ...).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes reading files for --dump and --stats (default: one per CPU, up to 4).",
)
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Decode pickled results. Unpickling runs code: only for directories you trust.",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Poll every SECONDS instead of inotify (for NFS/CIFS, where other hosts' writes raise no events).",
)
@click.option("-A", "--app", "app_spec", metavar="MODULE[:ATTR]", help="Your Celery app, as with `celery -A`.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL for enqueue and revoke (default: $CELERY_BROKER_URL).")
@click.option(
    "--demo",
    is_flag=True,
    help="Start an embedded worker (no server needed) writing into PATH, or a fresh temporary directory.",
)
@click.option(
    "--read-only", is_flag=True, help="Never send or delete anything: no enqueue, revoke, re-enqueue or forget."
)
@click.option(
    "--replay",
    is_flag=True,
    help="Play PATH's history (a directory, an archive, or a --record journal) instead of watching it.",
)
@click.option(
    "--record",
    "record_path",
    metavar="FILE",
    help="While watching, append every change seen to FILE (JSONL), for --replay later.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Do not keep or use the index of a big directory's first scan in the cache directory "
    "(~/.cache/taskview, or $XDG_CACHE_HOME/taskview), which lets a reopen read only the files that changed.",
)
@click.option(
    "--workers-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="With a broker: ask the workers what they hold, and the queues their sizes, every SECONDS "
    "(0: never; w shows them).",
)
@click.option(
    "--log",
    "log_file",
    metavar="FILE",
    help="Append a debug log to FILE, for a bug report (broker passwords masked).",
)
@click.option("--terminate", is_flag=True, help="With revoke: also stop a running task (SIGTERM).")
@click.option("--kill", is_flag=True, help="With revoke: also stop a running task with SIGKILL.")
@click.option("--dry-run", is_flag=True, help="With revoke, retry or forget: list what would be done, do nothing.")
@click.option("--yes", is_flag=True, help="With revoke, retry or forget: act without asking.")
@click.option(
    "--include-unfinished",
    is_flag=True,
    help="With forget: also remove the files of unfinished and unreadable tasks (only finished ones otherwise).",
)
@click.version_option(package_name="taskview")
def main(
    path: str | None,
    dump: str | None,
    stats: bool,
    as_json: bool,
    query: str | None,
    jobs: int | None,
    allow_pickle: bool,
    poll: float | None,
    app_spec: str | None,
    broker: str | None,
    demo: bool,
    read_only: bool,
    replay: bool,
    record_path: str | None,
    no_cache: bool = False,
    log_file: str | None = None,
    tree_of: str | None = None,
    stats_format: str | None = None,
    fail_on: tuple[str, ...] = (),
    command: tuple[str, ...] = (),
    terminate: bool = False,
    kill: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    include_unfinished: bool = False,
    workers_every: float = 5.0,
) -> None:
    """Inspect a Celery file-system result directory (result_backend = "file:///...").

    PATH is the directory, or the backend URL as in your Celery config; also a
    .tar, .tar.gz/.tgz or .zip of one, or (with --replay) a --record journal.

    After PATH, an action on every task a filter QUERY keeps, for scripts and cron:
    revoke QUERY [--terminate|--kill], retry QUERY, forget QUERY [--include-unfinished];
    with --dry-run it lists, with --yes it acts. Exit codes: 0 done, 1 some failed,
    2 usage error, 3 nothing matched (or nothing the action applies to).
    """
    masking = start_log(log_file, broker) if log_file else None
    if path is not None and path in _ACTIONS and app_spec and not os.path.exists(path):
        command = (path, *command)  # taskview -A proj forget QUERY: the app's own directory
        path = None
    action = _bulk_action(command, terminate, kill, dry_run, yes, include_unfinished)
    if action is not None:
        others = (dump, stats, fail_on, tree_of is not None, demo, replay, record_path is not None, query is not None)
        if any(others):
            fail(
                f"{command[0]} does not go with --dump, --stats, --fail-on, --tree, --demo, --replay, --record "
                "or --filter"
            )
        if read_only and not dry_run:
            fail(f"--read-only: {command[0]} refused (--dry-run lists what it would do)")
    if as_json and not (stats or tree_of):
        fail("--json goes with --stats or --tree (use --dump jsonl for one line per task)")
    if tree_of is not None and (dump or stats or fail_on or demo or replay or record_path or query is not None):
        fail(
            "--tree prints one workflow; it does not go with --dump, --stats, --fail-on, --filter, --demo, "
            "--replay or --record"
        )
    if stats_format is not None and not stats:
        fail("--format goes with --stats")
    if as_json and stats_format not in (None, "json"):
        fail(f"--json is --format json; it does not go with --format {stats_format}")
    if fail_on and (dump or demo or replay or record_path is not None):
        fail("--fail-on goes with --stats, or alone (it does not go with --dump, --demo, --replay or --record)")
    output: bool | str = (stats_format or ("json" if as_json else "text")) if stats else False
    if dump and stats:
        fail("choose one of --dump and --stats")
    if jobs is not None and not (dump or stats or fail_on):
        fail("--jobs goes with --dump or --stats (the inspector reads with one thread)")
    if demo and (dump or stats):
        fail("--demo opens the inspector; it does not go with --dump or --stats")
    if demo and (app_spec or broker):
        fail("--demo runs its own worker and broker; it does not go with -A or -b")
    if record_path is not None and (replay or dump or stats):
        fail("--record records a live session; it does not go with --replay, --dump or --stats")
    if replay and (demo or stats or dump == "csv"):
        fail(
            "--replay does not go with --demo, --stats or --dump csv "
            "(--replay --dump jsonl prints the events; a journal's --stats counts its end)"
        )
    if query is not None and replay:
        fail("--filter does not go with --replay (--dump and --stats take it; in a replay, press / and type it)")
    if query is not None and not (dump or stats or fail_on):
        fail("--filter goes with --dump or --stats (in the inspector, press / and type it)")
    controller = None
    if path is None and app_spec and not demo:
        # taskview -A proj: the directory is the app's own file:// result backend.
        controller = connect(app_spec, broker, read_only)
        backend = str(controller.app.conf.result_backend or "") if controller is not None else ""
        if not backend.startswith("file://"):
            fail(f"-A {app_spec}: its result_backend is not a file:// directory; give PATH")
        path = backend
    if demo:
        recorder = open_recorder(record_path) if record_path is not None else None
        run_demo(
            path,
            allow_pickle=allow_pickle,
            poll=poll,
            read_only=read_only,
            recorder=recorder,
            cache=not no_cache,
            workers_every=workers_every,
        )
        return
    if path is None:
        fail("missing PATH: the result directory (or try taskview --demo)")

    from ..results.scan import ResultDirectory

    directory = resolve_path(path)
    if action is not None and os.path.isfile(directory):
        fail(f"{command[0]} acts on a live directory; {directory} is a file (an archive or a journal)")
    if os.path.isfile(directory) or replay:
        from .files import run_file_or_replay

        if record_path is not None:
            fail(f"--record records a live directory; {directory} is a file (an archive or a journal)")
        if tree_of is not None:
            fail(f"--tree reads a directory; {directory} is a file (an archive or a journal)")
        run_file_or_replay(
            directory,
            replay=replay,
            dump=dump,
            stats=output,
            as_json=False,
            allow_pickle=allow_pickle,
            query=query,
            fail_on=fail_on,
        )
        return
    check_directory(directory)
    results = ResultDirectory(directory, allow_pickle=allow_pickle)
    if action is not None:
        from .bulk_run import run_bulk

        if controller is None and action != "forget" and not dry_run:
            controller = connect(app_spec, broker, read_only)
        if masking is not None and controller is not None:
            masking.add_urls(controller.broker_urls)
        run_bulk(
            results,
            action,
            command[1],
            controller=controller,
            dry_run=dry_run,
            yes=yes,
            include_unfinished=include_unfinished,
        )
        return
    if tree_of is not None:
        run_tree(results, tree_of, as_json)
        return
    if dump or stats or fail_on:
        run_headless(results, dump, output, False, jobs, query, fail_on)
        return

    if controller is None:
        controller = connect(app_spec, broker, read_only)
    if masking is not None and controller is not None:
        masking.add_urls(controller.broker_urls)  # -A: the app's own configuration may hold a password
    recorder = open_recorder(record_path) if record_path is not None else None
    run_live(
        results,
        poll=poll,
        controller=controller,
        recorder=recorder,
        own_tasks=app_spec is not None,
        cache=not no_cache,
        workers_every=workers_every,
    )


_ACTIONS = ("revoke", "retry", "forget")


def _bulk_action(
    command: tuple[str, ...], terminate: bool, kill: bool, dry_run: bool, yes: bool, include_unfinished: bool
) -> str | None:
    """The bulk action of ``PATH ACTION QUERY`` (revoke, terminate, kill, retry, forget), or None."""
    if not command:
        if terminate or kill or dry_run or yes or include_unfinished:
            fail("--terminate, --kill, --dry-run, --yes and --include-unfinished go with revoke, retry or forget")
        return None
    word = command[0]
    if word not in _ACTIONS:
        fail(f"unknown action {word!r} after PATH: revoke, retry or forget (then a filter QUERY)")
    if len(command) != 2:
        fail(f"{word} takes one filter QUERY, quoted: taskview DIR {word} 'status:FAILURE since:1h'")
    if (terminate or kill) and word != "revoke":
        fail("--terminate and --kill go with revoke")
    if terminate and kill:
        fail("choose one of --terminate and --kill")
    if include_unfinished and word != "forget":
        fail("--include-unfinished goes with forget")
    if dry_run and yes:
        fail("choose one of --dry-run and --yes")
    if word == "revoke":
        return "kill" if kill else "terminate" if terminate else "revoke"
    return word
