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
@click.option(
    "--dump",
    type=click.Choice(["jsonl", "csv"]),
    help="Print every task and group file (one JSON object per line, or CSV) and exit.",
)
@click.option("--stats", is_flag=True, help="Print counts per status and the unreadable files, and exit.")
@click.option(
    "--tree",
    "tree_of",
    metavar="TASK_ID",
    help="Print the workflow (chain, group, chord, tasks started by tasks) holding TASK_ID (or a prefix), and exit.",
)
@click.option("--json", "as_json", is_flag=True, help="With --stats or --tree: print JSON.")
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
@click.option("--read-only", is_flag=True, help="Never send or delete anything: no enqueue, revoke or re-enqueue.")
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
    "--log",
    "log_file",
    metavar="FILE",
    help="Append a debug log to FILE, for a bug report (broker passwords masked).",
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
) -> None:
    """Inspect a Celery file-system result directory (result_backend = "file:///...").

    PATH is the directory, or the backend URL as in your Celery config; also a
    .tar, .tar.gz/.tgz or .zip of one, or (with --replay) a --record journal.
    """
    masking = start_log(log_file, broker) if log_file else None
    if as_json and not (stats or tree_of):
        fail("--json goes with --stats or --tree (use --dump jsonl for one line per task)")
    if tree_of is not None and (dump or stats or demo or replay or record_path or query is not None):
        fail("--tree prints one workflow; it does not go with --dump, --stats, --filter, --demo, --replay or --record")
    if dump and stats:
        fail("choose one of --dump and --stats")
    if jobs is not None and not (dump or stats):
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
    if query is not None and not (dump or stats):
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
        run_demo(path, allow_pickle=allow_pickle, poll=poll, read_only=read_only, recorder=recorder, cache=not no_cache)
        return
    if path is None:
        fail("missing PATH: the result directory (or try taskview --demo)")

    from ..results.scan import ResultDirectory

    directory = resolve_path(path)
    if os.path.isfile(directory) or replay:
        from .files import run_file_or_replay

        if record_path is not None:
            fail(f"--record records a live directory; {directory} is a file (an archive or a journal)")
        if tree_of is not None:
            fail(f"--tree reads a directory; {directory} is a file (an archive or a journal)")
        run_file_or_replay(
            directory, replay=replay, dump=dump, stats=stats, as_json=as_json, allow_pickle=allow_pickle, query=query
        )
        return
    check_directory(directory)
    results = ResultDirectory(directory, allow_pickle=allow_pickle)
    if tree_of is not None:
        run_tree(results, tree_of, as_json)
        return
    if dump or stats:
        run_headless(results, dump, stats, as_json, jobs, query)
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
    )
