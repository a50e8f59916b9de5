"""Marks, bulk plans and their outcome line, and forget's safety rules, on real worker files."""

from __future__ import annotations

import os
from pathlib import Path

from helpers.samples import sample_store
from taskview.control.bulk import execute
from taskview.control.bulk_plan import Done, outcome_line, plan
from taskview.control.forget import remove_files
from taskview.results.record import READY_STATES, TaskRecord
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.view.marks import Marks
from taskview.view.table_model import TableModel


def records_of(directory: Path) -> list[TaskRecord]:
    return [r for batch in ResultDirectory(str(directory)).scan() for r in batch]


def metas_of(directory: Path) -> dict:
    results = ResultDirectory(str(directory))
    found = {}
    for r in records_of(directory):
        full = results.read_full(r.filename)
        found[r.task_id] = full.meta if full is not None else None
    return found


# --- marks ---------------------------------------------------------------------------


def test_marks_survive_sort_filter_and_changes_and_leave_with_a_gone_task():
    store = sample_store()
    model = TableModel(store)
    marks = Marks()
    model.resort()
    model.set_filter(lambda r: r.status == "SUCCESS")
    while model.filtering:
        model.step_filter(1.0)
    successes = len(model.rows)
    assert marks.mark_rows(model.rows) == successes == 12
    model.sort("name", False)
    model.set_filter(None)
    assert len(marks) == successes and all(r.task_id in marks for r in store.records.values() if r.status == "SUCCESS")
    gone = next(iter(marks))
    kept = next(t for t in marks if t != gone)
    store.remove(gone)
    assert marks.drop_gone([gone, kept], store) == 1  # kept is still in the store: still marked
    assert gone not in marks and kept in marks and len(marks) == successes - 1
    assert marks.toggle(kept) is False and kept not in marks
    assert marks.toggle(kept) is True
    assert marks.clear() == successes - 1 and len(marks) == 0


# --- plans -----------------------------------------------------------------------------


def test_revoke_applies_to_unfinished_tasks_and_says_why_it_skips_the_rest():
    records = list(sample_store().records.values())
    bulk = plan("terminate", records)
    assert {t.status for t in bulk.targets} == {"STARTED", "PROGRESS", "GOING_TO_SLEEP", "RETRY"}
    reasons = bulk.skip_reasons()
    assert reasons == {"finished": 16, "a group": 1}
    assert len(bulk.targets) + len(bulk.skipped) == len(records)  # nothing dropped silently
    facts = dict(bulk.facts())
    assert facts["tasks"] == "4 to terminate"
    assert "STARTED 1" in facts["status"] and "sampletasks.sleep 1" in facts["name"]
    assert facts["skipped"] == "finished 16, a group 1"
    assert facts["first"].split() == [t.task_id for t in bulk.targets]


def test_retry_needs_a_stored_name_and_a_finished_or_stale_task(samples: Path):
    records = records_of(samples)
    metas = metas_of(samples)
    bulk = plan("retry", records, metas=metas)
    by_id = {t.task_id: t for t in bulk.targets}
    failure = next(r for r in records if r.exc and r.exc.startswith("ValueError"))
    request = by_id[failure.task_id].request
    assert request is not None and request.name == "sampletasks.fail_builtin"
    assert request.queue == "celery" and request.args == metas[failure.task_id]["args"]
    reasons = {s.task_id: s.reason for s in bulk.skipped}
    no_name = next(r for r in records if r.status == "REVOKED" and r.name is None)
    assert reasons[no_name.task_id] == "no name in its file (result_extended off, or failed before it ran)"
    started = next(r for r in records if r.status == "STARTED")
    assert reasons[started.task_id] == "unfinished"
    assert started.task_id in {t.task_id for t in plan("retry", records, metas=metas, stale={started.task_id}).targets}


def test_forget_takes_finished_tasks_and_groups_unless_told_to_take_unfinished_ones():
    records = list(sample_store().records.values())
    bulk = plan("forget", records)
    assert {t.status for t in bulk.targets} == {"SUCCESS", "FAILURE", "REVOKED", "GROUP"}
    assert bulk.skip_reasons() == {"unfinished": 4}
    assert all(r.status not in READY_STATES for r in records if r.task_id in {s.task_id for s in bulk.skipped})
    everything = plan("forget", records, include_unfinished=True)
    assert len(everything.targets) == len(records) and not everything.skipped
    pending = Store()
    pending.add_pending("sent-just-now", "x", 1.0)
    assert plan("forget", pending.records.values(), include_unfinished=True).skip_reasons() == {"no file yet": 1}


def test_the_outcome_line_counts_done_skipped_failed_and_cancelled():
    records = list(sample_store().records.values())
    bulk = plan("revoke", [r for r in records if r.kind == "task"])
    done = [Done(t.task_id, t.name, True) for t in bulk.targets]
    assert outcome_line(bulk, done) == "revoked 4, skipped 16 finished, failed 0"
    done[0] = Done(done[0].task_id, None, False, "broker unreachable")
    done[1] = Done(done[1].task_id, None, False, "cancelled", cancelled=True)
    assert outcome_line(bulk, done) == "revoked 2, skipped 16 finished, failed 1, cancelled 1"
    mixed = plan("revoke", records)
    assert outcome_line(mixed, []) == "revoked 0, skipped 17 (finished 16, a group 1), failed 0"


def test_execute_stops_between_batches_when_cancelled(samples: Path):
    bulk = plan("forget", records_of(samples))
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2  # two batches, then Esc

    progress: list[tuple[int, int]] = []
    done = execute(bulk, directory=str(samples), batch=3, cancelled=cancelled, progress=lambda *p: progress.append(p))
    assert [d.ok for d in done[:6]] == [True] * 6 and all(d.cancelled for d in done[6:])
    assert progress == [(3, len(bulk.targets)), (6, len(bulk.targets))]
    assert len(list(samples.iterdir())) == len(records_of(samples)) == 21 - 6


# --- forget's safety: each rule, and a test that fails without it -----------------------


def listed(path: Path) -> tuple[str, int, float]:
    st = os.lstat(path)
    return path.name, st.st_size, st.st_mtime


def test_forget_removes_a_result_file_exactly_as_listed(samples: Path):
    victim = next(samples.iterdir())
    assert list(remove_files(str(samples), [listed(victim)])) == [(True, "")]
    assert not victim.exists()


def test_forget_never_removes_a_file_that_changed_after_it_was_listed(samples: Path):
    grown, touched = sorted(samples.iterdir())[:2]
    entries = [listed(grown), listed(touched)]
    with grown.open("ab") as fh:
        fh.write(b" ")  # one byte more
    os.utime(touched, ns=(0, os.stat(touched).st_mtime_ns + 1000))  # the same size, 1 µs later
    outcomes = list(remove_files(str(samples), entries))
    assert outcomes == [(False, "changed since it was listed: kept")] * 2
    assert grown.exists() and touched.exists()


def test_forget_never_removes_a_file_without_a_result_files_name(samples: Path):
    stranger = samples / "notes.txt"
    stranger.write_bytes(b"mine")
    assert list(remove_files(str(samples), [listed(stranger)])) == [(False, "not a result file's name: kept")]
    assert stranger.exists()


def test_forget_never_follows_a_symlink_out_of_the_directory(tmp_path: Path, samples: Path):
    outside = tmp_path / "precious"
    outside.write_bytes(b"{}")
    link = samples / "celery-task-meta-link"
    link.symlink_to(outside)
    assert list(remove_files(str(samples), [listed(link)])) == [(False, "not a regular file (a link?): kept")]
    assert link.is_symlink() and outside.exists()


def test_forget_never_reaches_outside_the_directory_through_a_path(tmp_path: Path, samples: Path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"{}")
    (samples / "celery-task-meta-x").mkdir()  # a name that starts as a result's, then climbs out
    name = "celery-task-meta-x/../../victim"
    st = os.lstat(victim)
    outcomes = list(remove_files(str(samples), [(name, st.st_size, st.st_mtime)]))
    assert outcomes == [(False, "not a name inside the directory: kept")]
    assert victim.exists()
