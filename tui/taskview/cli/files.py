"""PATHs that are files (archives, journals), and ``--replay`` of anything."""

from __future__ import annotations

import os

from .common import check_directory, fail
from .headless_run import print_events, print_journal_stats, run_headless


def run_file_or_replay(
    path: str,
    *,
    replay: bool,
    dump: str | None,
    stats: bool | str,
    as_json: bool,
    allow_pickle: bool,
    query: str | None = None,
    fail_on: tuple[str, ...] = (),
) -> None:
    from ..replay.journal import JournalError, read_journal
    from ..replay.timeline import Timeline, from_results
    from ..results.archive import ArchiveError, ResultArchive, looks_like_archive
    from ..results.scan import ResultDirectory

    results: ResultDirectory | None = None
    timeline: Timeline
    if not os.path.exists(path):
        fail(f"no such file or directory: {path}")
    if os.path.isdir(path):
        check_directory(path)
        results = ResultDirectory(path, allow_pickle=allow_pickle)
    elif path.lower().endswith(".jsonl"):
        if not (replay or stats or fail_on):
            fail(
                f"{path} is a journal (--record): replay it with --replay, print its events with "
                "--replay --dump jsonl, or count its last state with --stats"
            )
        try:
            timeline = read_journal(path)
        except JournalError as exc:
            fail(str(exc))
        if stats or fail_on:
            print_journal_stats(timeline, as_json, query, stats, fail_on)
            return
    elif looks_like_archive(path):
        try:
            results = ResultArchive(path, allow_pickle=allow_pickle)
        except ArchiveError as exc:
            fail(str(exc))
    else:
        fail(f"not a directory, an archive (.tar, .tar.gz, .tgz, .zip) or a journal (.jsonl): {path}")

    if results is not None:
        if not replay and (dump or stats or fail_on):
            run_headless(results, dump, stats, as_json, query=query, fail_on=fail_on)
            return
        try:
            timeline = from_results(results, "directory" if os.path.isdir(path) else "archive")
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}")
    if dump:
        print_events(timeline.path, timeline.events)
        return

    from ..ui.app import TaskviewApp

    # An archive opened without --replay shows its last state; the keys still play it.
    TaskviewApp.for_replay(timeline, from_end=not replay).run()
