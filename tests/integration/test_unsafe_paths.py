"""Every unsafe path has a canary, read through the real CLI (a process per run).

1. A pickle whose unpickling creates a file (the canary), in a result directory, a .tar,
   a .tgz and a .zip of one, and a ``--record`` journal; read by ``--stats``, ``--stats
   --json``, ``--dump jsonl``, ``--dump csv`` and ``--replay --dump jsonl``, with and
   without ``--allow-pickle``.

   What the product promises (README, "--allow-pickle ... trusted dirs only"; cli.py and
   replay/command.py hand the flag to ``ResultDirectory`` and ``ResultArchive`` alike):
   - without ``--allow-pickle`` nothing is ever unpickled, and the pickled task is an
     unreadable row saying ``pickle: not loaded``;
   - ``--allow-pickle`` is the user saying the source is trusted, for an archive exactly
     as for a directory: the pickle is loaded (the canary fires: the proof that these
     tests can fail);
   - a journal is JSON only: nothing in it is ever unpickled, nor is any file it names
     read, with or without ``--allow-pickle``; the modes that need result files
     (``--stats``, ``--dump`` without ``--replay``) refuse a journal with exit code 2.

2. Archives whose members point outside (``..`` and absolute names, symbolic and hard
   links to a secret file, special files) and duplicate member names. taskview reads
   archives in place and never extracts: nothing is created or changed anywhere, the
   secret never shows; a ``..`` or absolute name is read from the member's own bytes
   (its base name is the result file name, as for any member in a folder); a link or a
   special file is an unreadable row, ``not a regular file``; of members sharing a
   result file name the last one in the archive wins (as tar itself extracts them), in
   the place of the first.

3. The headless paths that came later (``--tree``, ``--stats --format prometheus``, ``--fail-on``
   and the dry runs of ``forget``, ``retry`` and ``revoke``) read a result directory holding the
   pickle the same way: never unpickled without ``--allow-pickle``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import run
from helpers.unsafe_inputs import (
    ARCHIVE_KINDS,
    DECOY,
    JOURNAL_TASKS,
    NOT_REGULAR,
    PICKLE_REFUSED,
    PICKLED_ID,
    PLAIN_ID,
    SECRET,
    SOURCE_KINDS,
    TASK_PREFIX,
    Outside,
    duplicate_archive,
    hostile_archive,
    pickled_source,
)

MODES = {
    "stats": ("--stats",),
    "stats-json": ("--stats", "--json"),
    "dump-jsonl": ("--dump", "jsonl"),
    "dump-csv": ("--dump", "csv"),
    "replay-dump": ("--replay", "--dump", "jsonl"),
}


def _task_id(path: str) -> str:
    return path.rsplit(TASK_PREFIX, 1)[1]


def shown(mode: str, stdout: str) -> tuple[int, dict[str, str | None], dict[str, str]]:
    """What a mode's output says: (rows in all, status per task id when the mode names
    readable tasks, error per task id of each unreadable row)."""
    if mode == "stats":
        head, _, tail = stdout.partition("unreadable files:\n")
        total = int(next(line for line in head.splitlines() if line.split()[:1] == ["total"]).split()[1])
        errors = dict(line.strip().split(": ", 1) for line in tail.splitlines())
        return total, {}, {_task_id(path): error for path, error in errors.items()}
    if mode == "stats-json":
        stats = json.loads(stdout)
        return stats["total"], {}, {_task_id(u["file"]): u["error"] for u in stats["unreadable_files"]}
    if mode == "dump-csv":
        rows = [{k: (v or None) for k, v in row.items()} for row in csv.DictReader(io.StringIO(stdout))]
    else:
        rows = [json.loads(line) for line in stdout.splitlines()]
    # A replay's event says "unreadable" where a dump's row has no status.
    statuses = {row["task_id"]: None if row["status"] == "unreadable" else row["status"] for row in rows}
    assert len(statuses) == len(rows), "one row per task"
    return len(rows), statuses, {row["task_id"]: row["error"] for row in rows if row.get("error")}


class Runs:
    """This module's CLI runs, a group at a time: the first case of a group (a source kind,
    say) starts every mode's process at once, in threads, and the group's other cases find
    theirs done (a process is mostly start-up: this halves the module's time). Each run has
    a folder of its own (its own source, canary, world outside), so nothing one run does can
    be put down to another."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._done: dict[str, dict[str, tuple[subprocess.CompletedProcess[str], Any]]] = {}

    def get(
        self,
        group: str,
        modes: Iterable[str],
        mode: str,
        prepare: Callable[[Path, str], tuple[list[str], Path | None, Any]],
    ) -> tuple[subprocess.CompletedProcess[str], Any]:
        """``mode``'s run and context; ``prepare(folder, mode)`` makes a run's files and
        returns (the CLI's arguments, its working directory, a context for the checks)."""
        if group not in self._done:
            setups = {m: prepare(self._factory.mktemp(f"{group}-{m}"), m) for m in modes}
            with ThreadPoolExecutor(len(setups)) as pool:
                started = {m: pool.submit(run, *args, check=False, cwd=cwd) for m, (args, cwd, _) in setups.items()}
            self._done[group] = {m: (started[m].result(), setups[m][2]) for m in setups}
        return self._done[group][mode]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory)


# --- 1. the pickle canary ------------------------------------------------------------

#: (source kind, mode): every mode for result files; a journal only replays.
READINGS = [(kind, mode) for kind in SOURCE_KINDS if kind != "journal" for mode in MODES] + [("journal", "replay-dump")]


@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow-pickle"])
@pytest.mark.parametrize("kind, mode", READINGS)
def test_a_pickle_is_loaded_only_with_allow_pickle_and_never_from_a_journal(
    runs: Runs, kind: str, mode: str, allow: bool
):
    def prepare(folder: Path, mode: str) -> tuple[list[str], None, Path]:
        canary = folder / "canary"
        source = pickled_source(kind, folder / "source", canary)
        return [str(source), *MODES[mode], *(["--allow-pickle"] if allow else [])], None, canary

    modes = [m for k, m in READINGS if k == kind]
    proc, canary = runs.get(f"pickle-{kind}-{'allow' if allow else 'default'}", modes, mode, prepare)
    assert proc.returncode == 0, proc.stderr
    total, statuses, errors = shown(mode, proc.stdout)
    if kind == "journal":
        # Every line read as the JSON it is: statuses as written, the pickle's text an inert string.
        assert not canary.exists(), "a journal line was unpickled"
        assert statuses == {t: None if s == "unreadable" else s for t, s in JOURNAL_TASKS.items()}
        assert list(errors) == ["evil-error"]
        return
    assert total == 2 and PLAIN_ID not in errors and statuses.get(PLAIN_ID, "SUCCESS") == "SUCCESS"
    if allow:
        assert canary.exists(), "--allow-pickle loads the pickle: the canary fires, so this test can fail"
        assert PICKLED_ID not in errors and statuses.get(PICKLED_ID, "SUCCESS") == "SUCCESS"
    else:
        assert not canary.exists(), f"unpickled by {kind} {mode}"
        assert errors[PICKLED_ID].startswith(PICKLE_REFUSED) and statuses.get(PICKLED_ID) is None
        assert "--allow-pickle" in errors[PICKLED_ID]


def test_a_journal_is_counted_by_stats_and_refused_by_dump_and_never_unpickles(tmp_path: Path):
    """--stats counts a journal's last state (its JSON lines only: nothing in one is ever
    unpickled or read from the files it names); --dump says to replay it."""
    canary = tmp_path / "canary"
    journal = pickled_source("journal", tmp_path / "source", canary)
    stats = run(str(journal), "--stats", "--allow-pickle", check=False)
    assert stats.returncode == 0 and stats.stderr == "" and "total" in stats.stdout, stats
    dump = run(str(journal), "--dump", "jsonl", "--allow-pickle", check=False)
    assert dump.returncode == 2 and dump.stdout == "" and "--replay" in dump.stderr, dump
    assert not canary.exists()


# --- 2. archives whose members point outside -----------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ARCHIVE_KINDS)
def test_hostile_member_names_and_links_are_read_in_place_never_followed(runs: Runs, kind: str, mode: str):
    def prepare(folder: Path, mode: str) -> tuple[list[str], Path, tuple]:
        outside = Outside(folder)
        archive, expected = hostile_archive(kind, outside)
        # The command runs where ../ names would land, were anything extracted.
        return [str(archive), *MODES[mode]], outside.cwd, (outside, archive, expected, outside.tree())

    proc, (outside, archive, expected, before) = runs.get(f"hostile-{kind}", MODES, mode, prepare)
    assert proc.returncode == 0, proc.stderr
    # Nothing written, changed or removed anywhere a member's name or link could lead.
    assert outside.tree() == before
    assert not outside.absolute.parent.exists() and outside.strays() == []
    # Nothing read from outside: neither the secret (links) nor the decoys (.. names).
    assert SECRET not in proc.stdout + proc.stderr and DECOY not in proc.stdout + proc.stderr
    total, statuses, errors = shown(mode, proc.stdout)
    assert total == len(expected)
    assert errors == {task_id: NOT_REGULAR for task_id, how in expected.items() if how == NOT_REGULAR}
    if statuses:
        assert statuses == {t: ("SUCCESS" if how != NOT_REGULAR else None) for t, how in expected.items()}
    if mode == "dump-jsonl":
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert {r["task_id"]: r["result"] for r in rows if r["error"] is None} == {
            t: "inside" for t, how in expected.items() if how != NOT_REGULAR
        }
        assert all(r["file"].startswith(f"{archive}/") for r in rows)  # named inside the archive


DUPLICATE_MODES = ["dump-jsonl", "replay-dump"]


@pytest.mark.parametrize("mode", DUPLICATE_MODES)
@pytest.mark.parametrize("kind", ARCHIVE_KINDS)
def test_duplicate_member_names_the_last_wins_in_the_first_ones_place(runs: Runs, kind: str, mode: str):
    def prepare(folder: Path, mode: str) -> tuple[list[str], None, Path]:
        archive = duplicate_archive(kind, folder, Outside(folder).secret)
        return [str(archive), *MODES[mode]], None, archive

    proc, archive = runs.get(f"duplicates-{kind}", DUPLICATE_MODES, mode, prepare)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout
    total, statuses, errors = shown(mode, proc.stdout)
    # One row per result file name: dup's last member (REVOKED), shadow's last (a link: not followed).
    assert total == 3 and errors == {"shadow": NOT_REGULAR}
    if mode == "dump-jsonl":
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert [r["task_id"] for r in rows] == ["dup", "other", "shadow"]  # archive order, each at its first
        assert (rows[0]["status"], rows[0]["result"], rows[0]["file"]) == (
            "REVOKED",
            "last",
            f"{archive}/a/celery-task-meta-dup",
        )
    else:
        assert statuses == {"dup": "REVOKED", "other": "SUCCESS", "shadow": None}


# --- 3. the later headless paths ------------------------------------------------------

LATER_MODES = {
    "tree": ("--tree", PICKLED_ID),
    "tree-json": ("--tree", PLAIN_ID, "--json"),
    "stats-prometheus": ("--stats", "--format", "prometheus"),
    "fail-on": ("--fail-on", "status:SUCCESS>5"),
    "forget-dry-run": ("forget", "status:SUCCESS", "--dry-run"),
    "retry-dry-run": ("retry", "status:SUCCESS", "--dry-run"),
    "revoke-dry-run": ("revoke", "--dry-run", "--", "-status:SUCCESS"),  # a query starting with -: after --
}


@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow-pickle"])
@pytest.mark.parametrize("mode", LATER_MODES)
def test_the_later_headless_paths_unpickle_only_with_allow_pickle(runs: Runs, mode: str, allow: bool):
    def prepare(folder: Path, mode: str) -> tuple[list[str], None, Path]:
        canary = folder / "canary"
        source = pickled_source("directory", folder / "source", canary)
        args = list(LATER_MODES[mode])
        if "--" in args:  # options before the end of them
            at = args.index("--")
            args[at:at] = ["--allow-pickle"] if allow else []
        else:
            args += ["--allow-pickle"] if allow else []
        return [str(source), *args], None, canary

    proc, canary = runs.get(f"later-{'allow' if allow else 'default'}", LATER_MODES, mode, prepare)
    assert proc.returncode == 0, proc.stderr  # --fail-on: 1 SUCCESS is not more than 5
    if allow:
        assert canary.exists(), f"--allow-pickle loads the pickle through {mode}: the canary fires (this test can fail)"
    else:
        assert not canary.exists(), f"unpickled by {mode}"
        if mode == "tree":
            assert "unreadable" in proc.stdout and PICKLED_ID in proc.stdout
