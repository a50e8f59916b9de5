"""What the store makes of a task's files over time: unfinished and stale tasks, reads caught
mid-write, names a file lacks, and which clock a row's times come from. Real worker files
(sample_results), some with fields taken out as a worker without result_extended writes them."""

from __future__ import annotations

import json
import os
import shutil
import socket
from datetime import datetime
from pathlib import Path

import pytest

from helpers.samples import SAMPLE_RESULTS, sample_file, sample_store
from taskview.control.stale import StaleWatch
from taskview.query import compile_query
from taskview.replay.journal import JournalWriter, Recorder, read_journal
from taskview.replay.player import Player
from taskview.replay.timeline import from_results
from taskview.results.codec import decode
from taskview.results.files import TASK_PREFIX
from taskview.results.problems import ProblemKind, cut_short
from taskview.results.record import TaskRecord, summarize
from taskview.results.scan import ResultDirectory
from taskview.store import Store

EXTENDED = ("name", "args", "kwargs", "worker", "retries", "queue")


def record(task_id: str, raw: bytes, mtime: float) -> TaskRecord:
    return summarize(task_id, "task", TASK_PREFIX, decode(raw), size=len(raw), mtime=mtime)


def real(name_part: str, *, extended: bool = True, **changes) -> bytes:
    """A real file's bytes; without ``extended``, as a worker with result_extended off writes it."""
    meta = json.loads(sample_file(name_part).read_bytes())
    if not extended:
        for key in EXTENDED:
            meta.pop(key, None)
    meta.update(changes)
    return json.dumps(meta).encode()


STARTED = sample_file('"STARTED"').read_bytes()
PROGRESS = sample_file('"PROGRESS"').read_bytes()
RETRY = sample_file('"RETRY"').read_bytes()
SLEEPY = sample_file('"GOING_TO_SLEEP"').read_bytes()
SUCCESS = sample_file("sampletasks.unicode_result").read_bytes()
REVOKED_QUEUED = (SAMPLE_RESULTS / "celery-task-meta-22902135-1f65-4ca5-93b5-685cc2334b03").read_bytes()
WORKER = "sample-worker@vm"  # the node that wrote the sample files


# --- unfinished tasks, and the stale ones among them ---------------------------------------------


def test_every_unfinished_task_is_indexed_with_its_worker_and_the_pid_of_a_started_one():
    store = sample_store()
    short = {task_id[:8]: (worker, pid) for task_id, worker, pid in store.stale_candidates()}
    # By hand, from the files: STARTED, PROGRESS, RETRY and GOING_TO_SLEEP; not SUCCESS, FAILURE,
    # REVOKED or the group file.
    assert short == {
        "a7a30b8b": (WORKER, json.loads(STARTED)["result"]["pid"]),
        "85b97412": (WORKER, None),
        "de710576": (WORKER, None),
        "de6fc830": (WORKER, None),
    }
    assert {i[:8] for i in store.unfinished} == set(short)
    assert {i[:8] for i in store.started} == {"a7a30b8b"}
    store.add_pending("sent", "proj.job", 2000.0)  # sent by taskview: no worker has it yet
    store.add(record("cut", STARTED[:30], 2000.0))  # read mid-write: not a state yet
    assert "sent" not in store.unfinished and "cut" not in store.unfinished


def test_a_custom_state_written_without_result_extended_keeps_the_worker_its_start_named():
    store = Store()
    store.add(record("t", real('"STARTED"', extended=False), 1000.0))  # result: {pid, hostname}
    assert store.stale_candidates() == [("t", WORKER, json.loads(STARTED)["result"]["pid"])]
    store.add(record("t", real('"PROGRESS"', extended=False), 1001.0))  # names no worker
    assert store.get("t").worker is None and store.worker_of("t") == WORKER
    assert store.stale_candidates() == [("t", WORKER, None)]  # the pid was the STARTED write's
    store.add(record("t", real('"RETRY"', extended=False), 1002.0))
    assert store.stale_candidates() == [("t", WORKER, None)]
    store.add(record("t", SUCCESS, 1003.0))
    assert "t" not in store.unfinished and store.stale_candidates() == []


def test_stale_watch_judges_every_unfinished_task_not_only_started_ones():
    """A worker killed mid-task leaves PROGRESS, RETRY or a custom state as surely as STARTED."""
    here = socket.gethostname()
    gone, alive = f"gone@{here}", f"alive@{here}"
    store = Store()
    store.add(record("progress", real('"PROGRESS"', worker=gone), 1000.0))
    store.add(record("retry", real('"RETRY"', worker=gone), 1000.0))
    store.add(record("custom", real('"GOING_TO_SLEEP"', worker=alive), 1000.0))
    # A STARTED task on this host whose pool process is gone: stale at once, whatever the ping says.
    dead = os.fork()
    if dead == 0:  # pragma: no cover - the child only exits
        os._exit(0)
    os.waitpid(dead, 0)
    started = json.loads(STARTED)
    started["result"] = {"pid": dead, "hostname": alive}
    started["worker"] = alive
    store.add(record("started", json.dumps(started).encode(), 1000.0))
    watch = StaleWatch()
    replies = {alive: {"ok": "pong"}}
    assert watch.check(store.stale_candidates(), replies) == {"started"}  # gone missed one ping: not yet
    assert watch.check(store.stale_candidates(), replies) == {"started", "progress", "retry"}
    assert watch.check(store.stale_candidates(), None) == {"started"}  # no broker: only the pid test


def test_the_stale_set_is_the_stores_and_filters_see_each_judgement():
    store = sample_store()
    progress = next(i for i, r in store.records.items() if r.status == "PROGRESS")
    started = next(i for i, r in store.records.items() if r.status == "STARTED")
    done = next(i for i, r in store.records.items() if r.status == "SUCCESS")
    stale_filter = compile_query("stale", stale=store.stale)
    status_filter = compile_query("status:stale,FAILURE", stale=store.stale)
    not_stale = compile_query("-stale", stale=store.stale)
    assert not any(stale_filter(r) for r in store.records.values())
    seen = store.stale
    # Finished tasks are never stale: only unfinished ids are taken.
    assert store.set_stale({progress, started, done}) == {progress, started}
    assert store.stale is seen and store.stale == {progress, started}
    assert {r.task_id for r in store.records.values() if stale_filter(r)} == {progress, started}
    assert {r.task_id for r in store.records.values() if status_filter(r)} == {progress, started} | {
        i for i, r in store.records.items() if r.status == "FAILURE"
    }
    assert not not_stale(store.get(progress)) and not_stale(store.get(done))
    assert store.set_stale({progress, started}) == set()  # nothing changed
    assert store.set_stale({started}) == {progress}
    # A task that finishes, or whose file goes, is stale no more.
    store.add(record(started, SUCCESS, 5000.0))
    assert started not in store.stale and started not in store.unfinished
    store.set_stale({progress})
    store.remove(progress)
    assert store.stale == set() and progress not in store.unfinished


# --- reads caught mid-write -----------------------------------------------------------------------


def test_a_first_read_mid_write_is_not_history_and_does_not_cost_the_runtime():
    """Celery writes in place: the first read of a new file is often empty or cut."""
    store = Store()
    assert store.add(record("t", b"", 1000.0), live=True)  # shown as it is meanwhile
    assert store.get("t").error.kind is ProblemKind.EMPTY and store.counts() == {"unreadable": 1}
    assert store.add(record("t", PROGRESS[:40], 1000.0), live=True)  # still being written
    assert store.add(record("t", PROGRESS, 1000.5), live=True)
    assert store.counts() == {"PROGRESS": 1}
    # The insights count the whole read in place of the reads mid-write, not beside them.
    assert store.insights.by_name_status == {("sampletasks.progress", "PROGRESS"): 1}
    assert "t" not in store.transitions  # no "unreadable -> PROGRESS"
    assert store.history("t") == [(1000.5, "PROGRESS")]
    progress = store.get("t")
    assert progress.first_seen == progress.last_change == 1000.5
    assert progress.started == 1000.5  # a new file while watching: the task started then
    store.add(record("t", SUCCESS, 1010.0), live=True)
    done = store.get("t")
    assert done.runtime == pytest.approx(done.date_done - 1000.5)
    assert store.history("t") == [(1000.5, "PROGRESS"), (1010.0, "SUCCESS")]


def test_a_first_read_mid_write_in_the_first_scan_is_not_a_start():
    store = Store()
    store.add(record("t", b"", 1000.0))  # the first scan caught it being written
    store.add(record("t", PROGRESS, 1001.0), live=True)  # whole at the next write
    assert store.get("t").started is None and store.history("t") == [(1001.0, "PROGRESS")]
    store.add(record("s", STARTED[:20], 1000.0))
    store.add(record("s", STARTED, 1001.0), live=True)
    assert store.get("s").started == 1001.0  # a STARTED write is the start, whenever seen


def test_a_file_that_stays_cut_is_still_shown_cut_short():
    store = Store()
    cut = record("t", PROGRESS[:40], 1000.0)
    store.add(cut, live=True)
    settled = record("t", PROGRESS[:40], 1000.0)
    settled.error = cut_short(settled.error, 3.0)  # what the tail sends after it settles
    assert store.add(settled, live=True)
    assert store.get("t").error.kind is ProblemKind.CUT_SHORT and store.counts() == {"unreadable": 1}
    assert store.history("t") == [(1000.0, "unreadable")] and store.known_status("t") == "unreadable"
    # A task whose good state was seen keeps it in its history when its file stays cut.
    store.add(record("u", PROGRESS, 1000.0))
    later = record("u", PROGRESS[:40], 1005.0)
    later.error = cut_short(later.error, 3.0)
    store.add(later)
    assert [s for _, s in store.history("u")] == ["PROGRESS", "unreadable"]


def test_the_journal_does_not_record_reads_mid_write(tmp_path: Path):
    path = tmp_path / "session.jsonl"
    store, recorder = Store(), Recorder(JournalWriter(str(path)))

    def apply(*records: TaskRecord, live: bool = True) -> None:
        batch = list(records)
        olds = recorder.before(store, batch, [])
        changed = store.add_many(batch, live=live)
        recorder.after(store, olds, batch, changed, [], live=live)

    apply(record("t", b"", 1000.0))
    apply(record("t", PROGRESS[:40], 1000.0))
    apply(record("t", PROGRESS, 1000.5))
    apply(record("t", SUCCESS, 1010.0))
    apply(record("gone", b"", 1011.0))
    olds = recorder.before(store, [], ["gone"])
    store.remove("gone")
    recorder.after(store, olds, [], [], ["gone"], live=True)  # never whole: its going is no event either
    recorder.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["task_id"], line["old"], line["new"]) for line in lines] == [
        ("t", None, "PROGRESS"),
        ("t", "PROGRESS", "SUCCESS"),
    ]
    replayed = Store()
    Player(read_journal(str(path)).events, replayed).seek_end()
    assert replayed.history("t") == store.history("t")


# --- what a file lacks ----------------------------------------------------------------------------


def test_a_task_taskview_sent_keeps_its_name_when_revoked_in_the_queue():
    """Celery writes a revoked queued task's file without name, args, worker (real file)."""
    meta = json.loads(REVOKED_QUEUED)
    assert meta["status"] == "REVOKED" and "name" not in meta
    task_id = meta["task_id"]
    store = Store()
    store.add_pending(task_id, "proj.billing.charge", 1000.0)
    store.add(record(task_id, REVOKED_QUEUED, 1001.0), live=True)
    revoked = store.get(task_id)
    assert (revoked.status, revoked.name) == ("REVOKED", "proj.billing.charge")
    assert revoked.exc == "TaskRevokedError: revoked"
    assert [r.task_id for r in store.records.values() if compile_query("name:billing")(r)] == [task_id]


def test_a_task_seen_with_its_name_keeps_it_and_its_args_and_links_when_revoked():
    meta = json.loads(REVOKED_QUEUED)
    task_id = meta["task_id"]
    store = Store()
    waiting = real('"RETRY"', task_id=task_id, group_id="g-1")  # with result_extended: name, args
    store.add(record(task_id, waiting, 1000.0))
    before = store.get(task_id)
    assert before.name == "sampletasks.retry_twice" and before.args is not None and before.group_id == "g-1"
    store.add(record(task_id, REVOKED_QUEUED, 1001.0))
    revoked = store.get(task_id)
    assert (revoked.status, revoked.name, revoked.args) == ("REVOKED", before.name, before.args)
    assert revoked.group_id == "g-1" and revoked.exc == "TaskRevokedError: revoked"
    # Never seen with a name: none to keep.
    fresh = Store()
    fresh.add(record(task_id, REVOKED_QUEUED, 1001.0))
    assert fresh.get(task_id).name is None


# --- which clock a row's times come from ----------------------------------------------------------


def date_done(path: Path) -> float | None:
    text = json.loads(path.read_bytes()).get("date_done")
    return None if text is None else datetime.fromisoformat(text).timestamp()


def test_a_copied_directory_shows_when_tasks_finished_not_when_it_was_copied(tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE_RESULTS, copy, copy_function=shutil.copyfile)  # mtimes: now, the copy's
    skewed = copy / "celery-task-meta-3c37fbe2-d3ac-4667-ba10-386321d91912"
    done = date_done(skewed)
    os.utime(skewed, (done - 3600, done - 3600))  # written by a host whose clock is an hour behind
    store = Store()
    for batch in ResultDirectory(str(copy)).scan():
        store.add_many(batch)
    for path in copy.iterdir():
        row = store.get(path.name.rpartition("meta-")[2])
        finished = date_done(path)
        expected = finished if finished is not None else path.stat().st_mtime
        assert (row.first_seen, row.last_change) == (expected, expected), path.name
    assert store.get(skewed.name.rpartition("meta-")[2]).last_change == done
    # A replay of the copy (its events at date_done, else mtime) gives the rows the same times.
    replayed = Store()
    Player(from_results(ResultDirectory(str(copy))).events, replayed).seek_end()
    assert {i: (r.first_seen, r.last_change) for i, r in replayed.records.items()} == {
        i: (r.first_seen, r.last_change) for i, r in store.records.items()
    }


def test_changes_seen_while_watching_take_the_time_of_their_write():
    store = Store()
    store.add(record("t", STARTED, 1000.0))
    store.add(record("t", SUCCESS, 1012.0), live=True)  # date_done in 2026-11: another clock
    done = store.get("t")
    assert done.first_seen == 1000.0 and done.last_change == 1012.0
    assert store.history("t") == [(1000.0, "STARTED"), (1012.0, "SUCCESS")]
    sample = sample_store()
    assert all(r.last_change == r.date_done for r in sample.records.values() if r.date_done is not None)


def test_a_started_file_rewritten_by_another_pool_process_is_judged_by_the_new_one():
    """A retry's next try can start in another process; the RETRY between may go unread."""
    store = Store()
    first = json.loads(STARTED)
    store.add(record("t", json.dumps(first).encode(), 1000.0))
    first["result"]["pid"] += 1  # same length, same row
    store.add(record("t", json.dumps(first).encode(), 1005.0))
    assert store.stale_candidates() == [("t", WORKER, first["result"]["pid"])]


def test_a_date_done_without_a_zone_is_utc_whatever_the_local_zone(monkeypatch):
    """Celery up to 5.3 wrote date_done from utcnow(), without a zone (FORMAT.md)."""
    import time

    with_zone = json.loads(SUCCESS)["date_done"]  # 2026-11-25T21:59:30.256143+00:00, Celery 5.7
    old_style = real("sampletasks.unicode_result", date_done=with_zone.removesuffix("+00:00"))
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        store = Store()
        store.add(record("new", SUCCESS, 2000.0))
        store.add(record("old", old_style, 2000.0))
        assert store.get("old").date_done == store.get("new").date_done == datetime.fromisoformat(with_zone).timestamp()
        assert store.get("old").last_change == store.get("new").last_change
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_unfinished_version_moves_only_when_an_unfinished_task_comes_changes_or_goes():
    """The stale check makes its candidates again only when it moved: a quiet directory's
    unfinished tasks are not walked every few seconds."""
    store = Store()

    def moves(change) -> bool:  # type: ignore[no-untyped-def]
        before = store.unfinished_version
        change()
        return store.unfinished_version != before

    assert not moves(lambda: store.add(record("done", SUCCESS, 1.0)))  # finished from the start
    assert moves(lambda: store.add(record("t", STARTED, 2.0)))
    assert moves(lambda: store.add(record("t", PROGRESS, 3.0)))  # still unfinished, its pool process unknown now
    assert moves(lambda: store.add(record("t", SUCCESS, 4.0))) and "t" not in store.unfinished
    assert moves(lambda: store.add(record("u", RETRY, 5.0)))
    assert moves(lambda: store.remove("u"))
    assert not moves(lambda: store.remove("done"))
    assert not moves(lambda: store.add(record("done", SUCCESS, 6.0)))  # a finished task read again


def test_the_same_stale_judgement_changes_nothing():
    store = Store()
    store.add(record("t", STARTED, 1.0))
    store.add(record("u", PROGRESS, 1.0))
    assert store.set_stale({"t", "gone-meanwhile"}) == {"t"}
    assert store.set_stale({"t"}) == set() and store.stale == {"t"}
    assert store.set_stale({"u"}) == {"t", "u"} and store.stale == {"u"}
    store.add(record("u", SUCCESS, 2.0))  # finished: no longer stale
    assert store.stale == set() and store.set_stale({"u"}) == set()
