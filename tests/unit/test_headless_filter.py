"""`--dump` and `--stats` with `--filter`, a journal's `--stats`, and output that cannot be written:
the command as a user runs it, on the real sample files."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.archives import make_archive
from helpers.cli import TASKVIEW, dump, run
from helpers.samples import SAMPLE_RESULTS
from taskview.replay.journal import JournalWriter

GROUP = ["17f17c67", "425892a2", "5e31192e"]


def short_ids(rows: list[dict]) -> list[str]:
    return sorted(r["task_id"][:8] for r in rows)


def test_dump_jsonl_and_csv_keep_what_the_filter_keeps():
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "exc:InventoryError")) == ["0ed8f19c"]
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "group:056abda1")) == GROUP
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "parent:b8a2 -exc:x")) == ["1ea9c393", "c4be014b", "e6a0babd"]
    # root: follows parents through every file of the directory.
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "root:b8a2")) == ["1ea9c393", "b8a2018c", "c4be014b", "e6a0babd"]
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "kind:group")) == ["056abda1"]
    assert short_ids(dump(SAMPLE_RESULTS, "--filter", "since:2026-11-25T21:59:31+00:00 status:REVOKED")) == ["22902135"]
    assert dump(SAMPLE_RESULTS, "--filter", "exc:PaymentDeclined") == []
    out = run(str(SAMPLE_RESULTS), "--dump", "csv", "--filter", "status:FAILURE").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["task_id"][:8] for r in rows) == ["0ed8f19c", "3c37fbe2"]
    # The same rows as without a filter, only fewer.
    everything = {r["task_id"]: r for r in dump(SAMPLE_RESULTS)}
    assert all(everything[r["task_id"]] == r for r in dump(SAMPLE_RESULTS, "--filter", "status:FAILURE,RETRY"))


def test_an_archive_is_filtered_the_same(tmp_path: Path):
    archive = make_archive(tmp_path / "results.tgz")
    assert short_ids(dump(archive, "--filter", "group:056a")) == GROUP


def test_stats_count_what_the_filter_keeps():
    text = run(str(SAMPLE_RESULTS), "--stats", "--filter", "exc:Error").stdout
    assert "filter: exc:Error" in text
    stats = json.loads(run(str(SAMPLE_RESULTS), "--stats", "--json", "--filter", "exc:Error").stdout)
    assert stats["filter"] == "exc:Error" and stats["total"] == 5
    assert stats["by_status"] == {"FAILURE": 2, "REVOKED": 2, "RETRY": 1}
    assert stats["groups"] == 0 and stats["unreadable"] == 0
    unfiltered = json.loads(run(str(SAMPLE_RESULTS), "--stats", "--json").stdout)
    assert "filter" not in unfiltered and unfiltered["total"] == 21


def test_unreadable_files_are_filtered_as_the_inspector_shows_them(tmp_path: Path):
    directory = tmp_path / "results"
    shutil.copytree(SAMPLE_RESULTS, directory)
    (directory / "celery-task-meta-cut").write_bytes(b'{"status": "SUCC')
    stats = json.loads(run(str(directory), "--stats", "--json", "--filter", "status:unreadable").stdout)
    assert stats["total"] == 1 and stats["unreadable"] == 1 and stats["unreadable_by_reason"] == {"truncated JSON": 1}
    assert short_ids(dump(directory, "--filter", "status:unreadable")) == ["cut"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--filter", "status:FAILURE"], "--filter goes with --dump or --stats"),
        (["--dump", "jsonl", "--filter", "since:yesterday"], "not a time"),
        (["--stats", "--filter", "stale"], "live inspector"),
        (["--replay", "--dump", "jsonl", "--filter", "status:FAILURE"], "--filter does not go with --replay"),
    ],
)
def test_a_filter_that_cannot_be_is_one_line_and_exit_2(args, message):
    proc = run(str(SAMPLE_RESULTS), *args, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr


def journal(path: Path) -> Path:
    """A --record journal: a task that started, progressed and failed; one that succeeded, then went."""
    lines = []
    for n, (task_id, old, new, result) in enumerate(
        [
            ("t1", None, "STARTED", {"pid": 1, "hostname": "w@h"}),
            ("t2", None, "SUCCESS", 3),
            ("t1", "STARTED", "PROGRESS", {"current": 1, "total": 2}),
            ("t1", "PROGRESS", "FAILURE", {"exc_type": "PaymentDeclined", "exc_message": ["card"]}),
            ("t3", None, "RETRY", {"exc_type": "ConnectionError", "exc_message": ["503"]}),
        ]
    ):
        done = f"1970-01-01T00:01:{40 + n}+00:00" if new in ("SUCCESS", "FAILURE") else None  # at the write
        meta = {"status": new, "result": result, "task_id": task_id, "date_done": done, "name": "proj.pay"}
        lines.append(
            {"time": 100.0 + n, "task_id": task_id, "kind": "task", "file": "celery-task-meta-" + task_id}
            | {"old": old, "new": new, "live": True, "size": 10, "error": None, "meta": meta}
        )
    lines.append({"time": 110.0, "task_id": "t2", "old": "SUCCESS", "new": None, "live": True})
    writer = JournalWriter(str(path))
    writer.write(lines)
    writer.close()
    return path


def test_stats_of_a_journal_count_its_last_state(tmp_path: Path):
    path = journal(tmp_path / "session.jsonl")
    stats = json.loads(run(str(path), "--stats", "--json").stdout)
    assert stats["total"] == 2 and stats["by_status"] == {"FAILURE": 1, "RETRY": 1}  # t2's file went
    assert stats["directory"] == str(path)
    assert "FAILURE" in run(str(path), "--stats").stdout
    stats = json.loads(run(str(path), "--stats", "--json", "--filter", "exc:PaymentDeclined").stdout)
    assert stats["total"] == 1 and stats["by_status"] == {"FAILURE": 1}
    # Its clock is the journal's end: t1's failure (at 103) was 7 s before it.
    stats = json.loads(run(str(path), "--stats", "--json", "--filter", "since:7s").stdout)
    assert stats["by_status"] == {"FAILURE": 1, "RETRY": 1}
    # What else works on a journal is said, and it works.
    proc = run(str(path), "--dump", "csv", check=False)
    assert proc.returncode == 2 and "--replay --dump jsonl" in proc.stderr and "--stats" in proc.stderr
    assert len(run(str(path), "--replay", "--dump", "jsonl").stdout.splitlines()) == 6


@pytest.mark.parametrize(
    "args",
    [
        ["--dump", "jsonl"],
        ["--dump", "csv"],
        ["--stats"],
        ["--stats", "--json"],
        ["--replay", "--dump", "jsonl"],
        ["--dump", "jsonl", "--filter", "status:SUCCESS"],
    ],
)
def test_output_that_cannot_be_written_says_so(args):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [*TASKVIEW, str(SAMPLE_RESULTS), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert proc.returncode == 2
    assert proc.stderr == "taskview: error: cannot write the output: No space left on device\n"


def test_output_that_cannot_be_written_is_an_output_error_when_several_processes_read(monkeypatch):
    """The shares' spills are copied out with sendfile: its failure is the output's too."""
    from taskview import headless
    from taskview.results import parallel
    from taskview.results.scan import ResultDirectory

    monkeypatch.setattr(parallel, "MIN_FILES_TO_SPLIT", 4)  # the 21 sample files in shares
    monkeypatch.setattr(parallel, "MIN_SHARE", 4)
    results = ResultDirectory(str(SAMPLE_RESULTS))
    assert len(headless._shares(results, 2)) > 1
    with open("/dev/full", "wb", buffering=0) as full, pytest.raises(headless.OutputError) as raised:
        headless.write_jsonl(results, full, 2)
    assert raised.value.error.strerror == "No space left on device"
    with io.TextIOWrapper(open("/dev/full", "wb", buffering=0), write_through=True) as full:
        with pytest.raises(headless.OutputError):
            headless.write_csv(results, full, 2)
