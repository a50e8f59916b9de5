"""What every part of the command line shares: the one-line error, and PATH as a user types it."""

from __future__ import annotations

import os
import stat
import sys
from typing import NoReturn

import click

#: The exit code of every input a user can get wrong (and of a directory that cannot be read).
EXIT_USAGE = 2
#: The exit code of ``--fail-on QUERY>N`` when a query keeps more than N tasks.
EXIT_CHECK = 1


def fail(message: str) -> NoReturn:
    """A one-line error on stderr and exit code 2: for every input a user can get wrong."""
    from ..debug_log import log
    from ..text import one_line

    click.echo(f"taskview: error: {one_line(message)}", err=True)
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
    """Exit with a one-line error unless ``path`` is a directory taskview can read."""
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
