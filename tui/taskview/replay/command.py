"""The command line for PATHs that are files (archives, journals) and for ``--replay``."""

from __future__ import annotations

import os

from ..cli import _run_headless, check_directory, fail


def run_file_or_replay(
    path: str, *, replay: bool, dump: str | None, stats: bool, as_json: bool, allow_pickle: bool
) -> None:
    from ..results.archive import ArchiveError, ResultArchive, looks_like_archive
    from ..results.scan import ResultDirectory
    from .journal import JournalError, read_journal
    from .timeline import from_results

    results: ResultDirectory | None = None
    if not os.path.exists(path):
        fail(f"no such file or directory: {path}")
    if os.path.isdir(path):
        check_directory(path)
        results = ResultDirectory(path, allow_pickle=allow_pickle)
    elif path.lower().endswith(".jsonl"):
        if not replay:
            fail(f"{path} is a journal (--record): replay it with --replay")
        try:
            timeline = read_journal(path)
        except JournalError as exc:
            fail(str(exc))
    elif looks_like_archive(path):
        try:
            results = ResultArchive(path, allow_pickle=allow_pickle)
        except ArchiveError as exc:
            fail(str(exc))
    else:
        fail(f"not a directory, an archive (.tar, .tar.gz, .tgz, .zip) or a journal (.jsonl): {path}")

    if results is not None:
        if not replay and (dump or stats):
            _run_headless(results, dump, stats, as_json)
            return
        try:
            timeline = from_results(results, "directory" if os.path.isdir(path) else "archive")
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
    if dump:
        _run_headless(timeline, dump, False, False, events=timeline.events)
        return

    from ..ui.app import TaskviewApp

    # An archive opened without --replay shows its last state; the keys still play it.
    TaskviewApp(results, replay=timeline, replay_from_end=not replay).run()  # type: ignore[arg-type]
