"""`taskview PATH --dump/--stats` as a user runs them: real processes, real files."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers.cli import TASKVIEW, dump, run
from helpers.samples import SAMPLE_RESULTS, sample_file
from taskview.headless import DUMP_FIELDS
from taskview.results.scan import ResultDirectory


def test_dump_jsonl_of_sample_results_is_exactly_the_files():
    rows = dump(SAMPLE_RESULTS)
    files = sorted(p.name for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-"))
    assert sorted(Path(r["file"]).name for r in rows) == files
    for row in rows:
        assert tuple(row) == DUMP_FIELDS
        assert row["error"] is None
        raw = json.loads(Path(row["file"]).read_bytes())
        if row["kind"] == "group":
            assert row["status"] is None and row["result"] == raw["result"]
            continue
        assert row["status"] == raw["status"]
        assert row["task_id"] == raw["task_id"]
        if "__type__" not in json.dumps(raw):
            for key in ("result", "traceback", "children", "date_done", "name", "args", "kwargs", "worker"):
                assert row[key] == raw.get(key), key
        assert row["size"] == Path(row["file"]).stat().st_size
        assert row["mtime"] == pytest.approx(Path(row["file"]).stat().st_mtime)


def test_the_lean_dump_path_reads_every_file_like_the_careful_one(tmp_path: Path):
    """--dump reads the common file inline (results/scan.py read_metas); every
    row must be what decoding each file in full gives: sample files of every
    serializer and compression, type tags, numbers beyond 64 bits, bad files."""
    directory = tmp_path / "mixed"
    shutil.copytree(SAMPLE_RESULTS, directory)
    base = json.loads(sample_file("SUCCESS").read_bytes())
    extra = {
        "long-int": json.dumps({**base, "result": 123456789012345678901234}).encode(),
        "long-int-indented": json.dumps({**base, "result": [-12345678901234567890]}, indent=1).encode(),
        "digits-in-text": json.dumps({**base, "result": "12345678901234567890123"}).encode(),
        "tag-and-long-int": json.dumps(
            {**base, "result": [{"__type__": "decimal", "__value__": "1.5"}, 10**20]}
        ).encode(),
        "cut": b'{"status": "SUCC',
        "not-a-dict": b"[1, 2]",
        "empty": b"",
    }
    for task_id, data in extra.items():
        (directory / f"celery-task-meta-{task_id}").write_bytes(data)
    results = ResultDirectory(str(directory))
    careful = {}
    for full in results.read_all():
        meta = full.meta or {}
        careful[full.name.task_id] = (
            {"status": meta.get("status"), "result": meta.get("result"), "args": meta.get("args")},
            full.error,
            full.read.size,
        )
    lean = {}
    for (_kind, task_id, _prefix), _path, _mtime, size, meta, error, _plain in results.read_metas():
        meta = meta or {}
        lean[task_id] = (
            {"status": meta.get("status"), "result": meta.get("result"), "args": meta.get("args")},
            error,
            size,
        )
    assert lean.keys() == careful.keys() and len(lean) > len(extra)
    for task_id, expected in careful.items():
        assert lean[task_id] == expected, task_id
    assert lean["long-int"][0]["result"] == 123456789012345678901234  # exact, not orjson's float
    assert lean["long-int-indented"][0]["result"] == [-12345678901234567890]
    # And the repr of values JSON cannot hold is the same whichever way the file went.
    rows = {row["task_id"]: row for row in dump(directory)}
    assert rows["tag-and-long-int"]["result"] == ["Decimal('1.5')", 10**20]


def test_dump_gives_repr_for_values_json_cannot_hold():
    (row,) = [r for r in dump(SAMPLE_RESULTS) if r["name"] == "sampletasks.typed"]
    values = json.dumps(row["result"])
    assert "datetime.datetime(" in values
    assert "Decimal(" in values
    assert "UUID(" in values


def test_dump_csv_has_the_same_columns_and_json_encoded_values():
    out = run(str(SAMPLE_RESULTS), "--dump", "csv").stdout
    csv.field_size_limit(sys.maxsize)  # the large sample result is one 200 KB cell
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == DUMP_FIELDS
    by_id = {r["task_id"]: r for r in rows}
    add = json.loads(sample_file("sampletasks.add").read_bytes())
    assert json.loads(by_id[add["task_id"]]["result"]) == add["result"]
    assert json.loads(by_id[add["task_id"]]["args"]) == add["args"]
    assert len(rows) == len(dump(SAMPLE_RESULTS))


def test_stats_counts_every_status():
    out = json.loads(run(str(SAMPLE_RESULTS), "--stats", "--json").stdout)
    expected: dict[str, int] = {}
    groups = 0
    for path in SAMPLE_RESULTS.iterdir():
        meta = json.loads(path.read_bytes())
        if path.name.startswith("celery-taskset-meta-"):
            groups += 1
        else:
            expected[meta["status"]] = expected.get(meta["status"], 0) + 1
    assert out["by_status"] == expected
    assert out["groups"] == groups
    assert out["unreadable"] == 0
    assert out["total"] == sum(expected.values()) + groups
    for state in ("SUCCESS", "FAILURE", "RETRY", "REVOKED", "STARTED", "PROGRESS", "GOING_TO_SLEEP"):
        assert out["by_status"].get(state), state
    text = run(str(SAMPLE_RESULTS), "--stats").stdout
    assert "GOING_TO_SLEEP" in text and "total" in text


def test_file_url_as_in_a_celery_config():
    assert dump(f"file://{SAMPLE_RESULTS}") == dump(SAMPLE_RESULTS)
    assert dump(f"file://localhost{SAMPLE_RESULTS}") == dump(SAMPLE_RESULTS)


@pytest.mark.parametrize(
    "args, message",
    [
        (["/nonexistent/results", "--stats"], "no such directory: /nonexistent/results"),
        (["file:///nonexistent/results", "--dump", "jsonl"], "no such directory: /nonexistent/results"),
        ([str(SAMPLE_RESULTS / "README-not-there"), "--stats"], "no such directory"),
        ([__file__, "--stats"], "not a directory"),
        ([str(SAMPLE_RESULTS), "--json"], "--json goes with --stats"),
        ([str(SAMPLE_RESULTS), "--stats", "--dump", "csv"], "choose one of --dump and --stats"),
        ([], "missing PATH: the result directory (or try taskview --demo)"),
        (["--demo", "--stats"], "--demo opens the inspector; it does not go with --dump or --stats"),
        (["--demo", "-b", "redis://127.0.0.1:6379/0"], "--demo runs its own worker and broker"),
        ([str(SAMPLE_RESULTS), "-A", "no_such_project_module"], "cannot load -A no_such_project_module"),
        (["-A", "celery.app.base:Celery"], "cannot load -A celery.app.base:Celery"),
    ],
)
def test_bad_paths_and_flags_give_one_line_and_exit_2(args, message):
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_headless_modes_do_not_import_textual():
    code = (
        "import sys; from taskview.cli import main\n"
        "try:\n    main([sys.argv[1], '--stats'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'celery', 'watchdog')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLE_RESULTS)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_dump_into_a_closed_pipe_is_quiet(tmp_path):
    proc = subprocess.run(
        f"{sys.executable} -m taskview {SAMPLE_RESULTS} --dump jsonl | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stderr == ""


# --- bad and in-between files, in a directory ------------------------------------------------


def test_every_bad_file_is_listed_with_its_reason(samples: Path):
    large = sample_file("sampletasks.large_result").read_bytes()
    bad = {
        "celery-task-meta-empty": b"",
        "celery-task-meta-cut": large[:8192],
        "celery-task-meta-garbage": b"\x00\x17\xfe" + bytes(range(256)),
        "celery-task-meta-list": b"[1, 2]",
        "celery-task-meta-badutf8": b'{"status": "SUCCESS", "result": "\xff"}',
        "celery-task-meta-badgzip": b"\x00celery-compressed\x00application/x-gzip\x00garbage",
    }
    for name, data in bad.items():
        (samples / name).write_bytes(data)
    (samples / "celery-task-meta-adirectory").mkdir()
    (samples / "celery-task-meta-dangling").symlink_to(samples / "nowhere")
    (samples / ".fs-backend-4d1b").write_bytes(b"test value")  # Celery's probe: ignored
    (samples / "notes.txt").write_text("not a result")  # a stranger: ignored
    rows = {r["task_id"]: r for r in dump(samples)}
    assert "4d1b" not in json.dumps(list(rows)) and len(rows) == len(list(SAMPLE_RESULTS.iterdir())) + len(bad) + 2
    assert rows["empty"]["error"] == "empty (being written?)"
    assert rows["cut"]["error"] == "truncated JSON at byte 8192"
    assert rows["garbage"]["error"].startswith("not a Celery result")
    assert rows["list"]["error"] == "not a Celery result: json list, not a mapping"
    assert rows["badutf8"]["error"] == "invalid UTF-8 at byte 33"
    assert rows["badgzip"]["error"].startswith("broken gzip compression")
    assert rows["adirectory"]["error"] == "not a regular file"
    assert rows["dangling"]["error"] == "gone: deleted before it could be read"
    for key in ("empty", "cut", "garbage"):
        assert rows[key]["status"] is None and rows[key]["result"] is None
    stats = json.loads(run(str(samples), "--stats", "--json").stdout)
    assert stats["unreadable"] == len(bad) + 2
    assert stats["unreadable_by_reason"]["truncated JSON"] == 1


def test_pickle_directory_without_and_with_allow_pickle(tmp_path: Path):
    from celery import Celery

    app = Celery(backend=f"file://{tmp_path}", result_serializer="pickle", accept_content=["pickle", "json"])
    app.conf.result_accept_content = ["pickle", "json"]
    app.backend.store_result("p1", {"when": "now"}, "SUCCESS")
    rows = dump(tmp_path)
    assert rows[0]["error"] == (
        "pickle: not loaded (unpickling can run code); pass --allow-pickle if you trust this directory"
    )
    assert rows[0]["status"] is None
    rows = dump(tmp_path, "--allow-pickle")
    assert rows[0]["error"] is None and rows[0]["result"] == {"when": "now"}


def test_a_50_mb_result_is_read(tmp_path: Path):
    from celery import Celery

    app = Celery(backend=f"file://{tmp_path}")
    app.backend.store_result("big", "x" * (50 * 1024 * 1024), "SUCCESS")
    (row,) = dump(tmp_path)
    assert row["error"] is None and len(row["result"]) == 50 * 1024 * 1024
    assert row["size"] > 50 * 1024 * 1024


def test_a_file_deleted_between_listing_and_reading(samples: Path):
    results = ResultDirectory(str(samples))
    listing = results.listing()
    victim, parsed = listing[0]
    (samples / victim).unlink()
    record = results.read_record(victim, parsed)
    assert record is not None and record.error.message == "gone: deleted before it could be read"


def test_an_unreadable_file():
    # As root, permission bits do not stop reads: run taskview as an unprivileged user then
    # (in a directory of its own under /tmp: pytest's tmp_path is private to root).
    tmp_path = Path(tempfile.mkdtemp(prefix="taskview-perm-"))
    shutil.copytree(SAMPLE_RESULTS, tmp_path / "results")
    target = tmp_path / "results"
    victim = next(p for p in target.iterdir())
    victim.chmod(0)
    command = [*TASKVIEW, str(target), "--dump", "jsonl"]
    if os.geteuid() == 0:
        for p in (tmp_path, target):
            p.chmod(p.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
        for p in target.iterdir():
            if p != victim:
                p.chmod(0o644)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/tmp"})
    assert proc.returncode == 0, proc.stderr
    rows = {Path(r["file"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows[victim.name]["error"] == "unreadable: permission denied"
    assert sum(r["error"] is None for r in rows.values()) == len(rows) - 1
    if os.geteuid() == 0:
        # A directory the user may not enter: a clear message, not "no such directory".
        target.chmod(0o700)
        command[-3:] = [str(target), "--stats"]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"taskview: error: cannot read directory (permission denied): {target}"
    shutil.rmtree(tmp_path)


def test_dash_A_finds_the_directory_from_the_apps_result_backend(tmp_path: Path):
    shutil.copytree(SAMPLE_RESULTS, tmp_path / "results")
    (tmp_path / "myproj.py").write_text(
        "from celery import Celery\n"
        f"app = Celery('myproj', broker='amqp://guest:s3cret@127.0.0.1:1//', backend='file://{tmp_path}/results')\n"
    )
    proc = run("-A", "myproj", "--stats", "--json", cwd=tmp_path)
    stats = json.loads(proc.stdout)
    assert stats["directory"] == str(tmp_path / "results") and stats["total"] == len(list(SAMPLE_RESULTS.iterdir()))
    assert "s3cret" not in proc.stdout + proc.stderr
    (tmp_path / "other.py").write_text(
        "from celery import Celery\napp = Celery('other', broker='amqp://guest:s3cret@127.0.0.1:1//', backend='redis://')\n"
    )
    proc = run("-A", "other", "--stats", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "not a file:// directory" in proc.stderr and "s3cret" not in proc.stderr
