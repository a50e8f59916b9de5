"""The inspector's setup: the broker to act through, the --demo worker, the --record journal, the --log file."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from .common import check_directory, fail, resolve_path

if TYPE_CHECKING:
    from ..control.controller import Controller
    from ..debug_log import MaskSecrets
    from ..replay.journal import Recorder
    from ..results.scan import ResultDirectory


def run_live(
    results: ResultDirectory,
    *,
    poll: float | None,
    controller: Controller | None,
    recorder: Recorder | None,
    own_tasks: bool = False,
    cache: bool = True,
    workers_every: float = 5.0,
) -> None:
    """The live inspector on ``results`` until the user quits; the journal closed after.
    ``own_tasks``: ``n`` offers the app's own tasks (``-A``), not the demo tasks; ``cache``:
    keep a big directory's scan index in the user's cache directory (not with --allow-pickle)."""
    from ..sources.scan_index import cache_dir
    from ..sources.tail import DirectoryTail

    # The directory's watch begun while the UI is imported and started (~0.4 s): the first
    # scan then starts as soon as the UI is up. Not with --record: the journal watches what
    # the tail reads.
    index_dir = cache_dir() if cache else None
    tail = None
    if recorder is None:
        tail = DirectoryTail(results, poll_interval=poll, cache_dir=index_dir)
        tail.prepare()
    try:
        from ..ui.app import TaskviewApp

        TaskviewApp(
            results,
            poll_interval=poll,
            controller=controller,
            recorder=recorder,
            own_tasks=own_tasks,
            cache_dir=index_dir,
            workers_every=workers_every,
            tail=tail,
        ).run()
    finally:
        if tail is not None:
            tail.stop()  # stopped by the UI as it ends, unless it never began
        if recorder is not None:
            recorder.close()


def open_recorder(record_path: str) -> Recorder:
    """The journal for --record, opened now so a path that cannot be written fails before the UI starts."""
    from ..replay.journal import JournalWriter, Recorder

    try:
        return Recorder(JournalWriter(record_path))
    except OSError as exc:
        fail(f"--record: cannot write {record_path}: {exc.strerror or exc}")


def start_log(path: str, broker: str | None) -> MaskSecrets:
    """--log FILE: the debug log, started before anything else can fail."""
    from importlib.metadata import version

    from .. import debug_log

    try:
        masking = debug_log.start(path, [broker, os.environ.get("CELERY_BROKER_URL")])
    except OSError as exc:
        fail(f"cannot write the log file {path}: {exc.strerror or exc}")
    debug_log.log.info(
        "taskview %s, Python %s: taskview %s", version("taskview"), sys.version.split()[0], " ".join(sys.argv[1:])
    )
    return masking


def connect(app_spec: str | None, broker: str | None, read_only: bool) -> Controller | None:
    """A Controller for -A / -b / $CELERY_BROKER_URL, or None when none is given."""
    if not (app_spec or broker or os.environ.get("CELERY_BROKER_URL")):
        return None
    from ..control.app_loading import ControlSetupError, load_app
    from ..control.controller import Controller

    try:
        celery_app = load_app(app_spec, broker)
    except ControlSetupError as exc:
        fail(str(exc))
    if celery_app is None:
        return None
    return Controller(celery_app, read_only=read_only)


def run_demo(
    path: str | None,
    *,
    allow_pickle: bool,
    poll: float | None,
    read_only: bool,
    recorder: Recorder | None = None,
    cache: bool = True,
    workers_every: float = 5.0,
) -> None:
    """--demo: an embedded worker writing into PATH (or a fresh temporary directory), and the inspector on it."""
    import shutil
    import tempfile

    from ..control.controller import Controller
    from ..control.embedded import EmbeddedWorker, EmbeddedWorkerError, install_cleanup_handlers
    from ..results.scan import ResultDirectory

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
        if path is None:
            shutil.rmtree(directory, ignore_errors=True)  # ours, and nothing was written in it
        fail(f"the demo worker did not start: {exc}")
    install_cleanup_handlers()  # SIGTERM/SIGHUP stop the worker too; atexit covers the rest
    try:
        controller = Controller(worker.app, read_only=read_only)
        run_live(
            ResultDirectory(directory, allow_pickle=allow_pickle),
            poll=poll,
            controller=controller,
            recorder=recorder,
            cache=cache,
            workers_every=workers_every,
        )
    finally:
        worker.stop()
    click.echo(f"taskview: demo worker stopped; the results stay in {directory}", err=True)
