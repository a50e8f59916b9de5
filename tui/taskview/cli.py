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
@click.argument("path", metavar="PATH")
@click.option(
    "--dump",
    type=click.Choice(["jsonl", "csv"]),
    help="Print every task and group file (one JSON object per line, or CSV) and exit.",
)
@click.option("--stats", is_flag=True, help="Print counts per status and the unreadable files, and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --stats: print JSON.")
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
@click.version_option(package_name="taskview")
def main(path: str, dump: str | None, stats: bool, as_json: bool, allow_pickle: bool, poll: float | None) -> None:
    """Inspect a Celery file-system result directory (result_backend = "file:///...").

    PATH is the directory, or the backend URL as in your Celery config.
    """
    if as_json and not stats:
        fail("--json goes with --stats (use --dump jsonl for one line per task)")
    if dump and stats:
        fail("choose one of --dump and --stats")
    directory = resolve_path(path)
    check_directory(directory)

    from .results.scan import ResultDirectory

    results = ResultDirectory(directory, allow_pickle=allow_pickle)
    if dump or stats:
        _run_headless(results, dump, stats, as_json)
        return

    from .ui.app import TaskviewApp

    TaskviewApp(results, poll_interval=poll).run()


def _run_headless(results: object, dump: str | None, stats: bool, as_json: bool) -> None:
    from . import headless

    try:
        if stats:
            headless.print_stats(results, as_json)  # type: ignore[arg-type]
        elif dump == "jsonl":
            headless.write_jsonl(results, sys.stdout.buffer)  # type: ignore[arg-type]
        else:
            headless.write_csv(results, sys.stdout)  # type: ignore[arg-type]
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
