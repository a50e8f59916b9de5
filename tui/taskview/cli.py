"""The ``taskview`` command: parse PATH and flags, then run the app or a headless mode.

Headless modes import nothing of Textual; the app is imported only when needed.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

EXIT_USAGE = 2


def fail(message: str) -> NoReturn:
    """A one-line error on stderr and exit code 2: for every input a user can get wrong."""
    from .text import one_line

    click.echo(f"taskview: error: {one_line(message)}", err=True)
    from .debug_log import log

    log.error("exit %d: %s", EXIT_USAGE, message)  # with --log, the reason is in it
    sys.exit(EXIT_USAGE)


def resolve_path(raw: str) -> str:
    """A directory path from PATH as typed, or as copied from ``result_backend``."""
    if raw.startswith("file://"):
        # Celery's own parsing (FilesystemBackend._find_path): file://localhost/abs,
        # file:///abs, and file://rel relative to the current directory.
        from urllib.parse import unquote

        path = raw[16:] if raw.startswith("file://localhost/") else raw[7:]
        path = unquote(path)
        if not path:
            fail(f"{raw!r} names no directory")
        return path
    return raw


def check_directory(path: str) -> None:
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        fail(f"no such directory: {path}")
    except PermissionError:
        fail(f"cannot read directory (permission denied): {path}")
    except OSError as exc:
        fail(f"cannot read directory ({exc.strerror or exc}): {path}")
    if not stat.S_ISDIR(mode):
        fail(f"not a directory: {path}")
    if not os.access(path, os.R_OK | os.X_OK):
        fail(f"cannot read directory (permission denied): {path}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", metavar="[PATH]", required=False)
@click.option(
    "--dump",
    type=click.Choice(["jsonl", "csv"]),
    help="Print every task and group file (one JSON object per line, or CSV) and exit.",
)
@click.option("--stats", is_flag=True, help="Print counts per status and the unreadable files, and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --stats: print JSON.")
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
@click.option(
    "-b", "--broker", metavar="URL", help="Broker URL for enqueue and revoke (default: $CELERY_BROKER_URL)."
)
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
    jobs: int | None,
    allow_pickle: bool,
    poll: float | None,
    app_spec: str | None,
    broker: str | None,
    demo: bool,
    read_only: bool,
    replay: bool,
    record_path: str | None,
    log_file: str | None = None,
) -> None:
    """Inspect a Celery file-system result directory (result_backend = "file:///...").

    PATH is the directory, or the backend URL as in your Celery config; also a
    .tar, .tar.gz/.tgz or .zip of one, or (with --replay) a --record journal.
    """
    masking = _start_log(log_file, broker) if log_file else None
    if as_json and not stats:
        fail("--json goes with --stats (use --dump jsonl for one line per task)")
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
        fail("--replay does not go with --demo, --stats or --dump csv (--replay --dump jsonl prints the events)")
    controller = None
    if path is None and app_spec and not demo:
        # taskview -A proj: the directory is the app's own file:// result backend.
        controller = _connect(app_spec, broker, read_only)
        backend = str(controller.app.conf.result_backend or "") if controller is not None else ""
        if not backend.startswith("file://"):
            fail(f"-A {app_spec}: its result_backend is not a file:// directory; give PATH")
        path = backend
    if path is None and not demo:
        fail("missing PATH: the result directory (or try taskview --demo)")

    from .results.scan import ResultDirectory

    if demo:
        recorder = _recorder(record_path) if record_path is not None else None
        _run_demo(path, allow_pickle=allow_pickle, poll=poll, read_only=read_only, recorder=recorder)
        return
    directory = resolve_path(path)  # type: ignore[arg-type]
    if os.path.isfile(directory) or replay:
        from .replay.command import run_file_or_replay

        if record_path is not None:
            fail(f"--record records a live directory; {directory} is a file (an archive or a journal)")
        run_file_or_replay(directory, replay=replay, dump=dump, stats=stats, as_json=as_json, allow_pickle=allow_pickle)
        return
    check_directory(directory)
    results = ResultDirectory(directory, allow_pickle=allow_pickle)
    if dump or stats:
        _run_headless(results, dump, stats, as_json, jobs)
        return

    if controller is None:
        controller = _connect(app_spec, broker, read_only)
    if masking is not None and controller is not None:
        masking.add_urls(controller.broker_urls)  # -A: the app's own configuration may hold a password
    recorder = _recorder(record_path) if record_path is not None else None
    from .ui.app import TaskviewApp

    try:
        TaskviewApp(results, poll_interval=poll, controller=controller, recorder=recorder).run()
    finally:
        if recorder is not None:
            recorder.close()


def _recorder(record_path: str):  # type: ignore[no-untyped-def]
    """The journal for --record, opened now so a path that cannot be written fails before the UI starts."""
    from .replay.journal import JournalWriter, Recorder

    try:
        return Recorder(JournalWriter(record_path))
    except OSError as exc:
        fail(f"--record: cannot write {record_path}: {exc.strerror or exc}")


def _start_log(path: str, broker: str | None):  # type: ignore[no-untyped-def]
    from importlib.metadata import version

    from . import debug_log

    try:
        masking = debug_log.start(path, [broker, os.environ.get("CELERY_BROKER_URL")])
    except OSError as exc:
        fail(f"cannot write the log file {path}: {exc.strerror or exc}")
    debug_log.log.info("taskview %s, Python %s: taskview %s", version("taskview"), sys.version.split()[0], " ".join(sys.argv[1:]))
    return masking


def _connect(app_spec: str | None, broker: str | None, read_only: bool):  # type: ignore[no-untyped-def]
    """A Controller for -A / -b / $CELERY_BROKER_URL, or None when none is given."""
    if not (app_spec or broker or os.environ.get("CELERY_BROKER_URL")):
        return None
    from .control.connection import ControlSetupError, Controller, load_app

    try:
        celery_app = load_app(app_spec, broker)
    except ControlSetupError as exc:
        fail(str(exc))
    if celery_app is None:
        return None
    return Controller(celery_app, read_only=read_only)


def _run_demo(path: str | None, *, allow_pickle: bool, poll: float | None, read_only: bool, recorder=None) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    from .control.connection import Controller
    from .control.embedded import EmbeddedWorker, EmbeddedWorkerError, install_cleanup_handlers
    from .results.scan import ResultDirectory
    from .ui.app import TaskviewApp

    if path is None:
        directory = tempfile.mkdtemp(prefix="taskview-demo-")
    else:
        directory = resolve_path(path)
        os.makedirs(directory, exist_ok=True)
        check_directory(directory)
    click.echo(f"taskview: starting a demo worker writing into {directory} …", err=True)
    try:
        worker = EmbeddedWorker(directory).start()
    except EmbeddedWorkerError as exc:
        fail(f"the demo worker did not start: {exc}")
    install_cleanup_handlers()  # SIGTERM/SIGHUP stop the worker too; atexit covers the rest
    try:
        controller = Controller(worker.app, read_only=read_only)
        TaskviewApp(
            ResultDirectory(directory, allow_pickle=allow_pickle), poll_interval=poll, controller=controller, recorder=recorder
        ).run()
    finally:
        worker.stop()
        if recorder is not None:
            recorder.close()
    click.echo(f"taskview: demo worker stopped; the results stay in {directory}", err=True)


def _run_headless(  # type: ignore[no-untyped-def]
    results: object, dump: str | None, stats: bool, as_json: bool, jobs: int | None = None, events=None
) -> None:
    from . import headless
    from .results.parallel import default_jobs

    jobs = jobs or default_jobs()
    try:
        if events is not None:  # --replay --dump jsonl: the timeline
            from .replay.timeline import write_events_jsonl

            write_events_jsonl(events, sys.stdout.buffer)
        elif stats:
            headless.print_stats(results, as_json, jobs=jobs)  # type: ignore[arg-type]
        elif dump == "jsonl":
            headless.write_jsonl(results, sys.stdout.buffer, jobs)  # type: ignore[arg-type]
        else:
            headless.write_csv(results, sys.stdout, jobs)  # type: ignore[arg-type]
        sys.stdout.flush()
    except BrokenPipeError:
        # `taskview DIR --dump jsonl | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        fail(f"cannot read {results.path}: {exc.strerror or exc}")  # type: ignore[attr-defined]


if __name__ == "__main__":  # pragma: no cover
    main()
