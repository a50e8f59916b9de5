"""Replay without a screen: timelines from files and journals, the player, --replay --dump, --record errors."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.cli import run
from helpers.samples import SAMPLE_RESULTS
from taskview.replay.journal import JournalWriter, read_journal
from taskview.replay.player import SPEEDS, Player
from taskview.replay.timeline import Event, from_results
from taskview.results.files import TASK_PREFIX
from taskview.results.record import TaskRecord
from taskview.results.scan import ResultDirectory
from taskview.store import Store
from taskview.view.sorting import ordered_ids


def test_timeline_of_sample_results_in_time_order(samples: Path):
    # Unfinished tasks get their file's mtime: give each one its own, an hour later.
    unfinished = {}
    for n, path in enumerate(sorted(samples.iterdir())):
        meta = json.loads(path.read_bytes())
        if meta.get("date_done") is None:
            when = 1_800_000_000.0 + n
            os.utime(path, (when, when))
            unfinished[path.name.split("-meta-")[1]] = when
    timeline = from_results(ResultDirectory(str(samples)))
    events = timeline.events
    assert len(events) == len(list(samples.iterdir()))
    assert [e.time for e in events] == sorted(e.time for e in events)
    for event in events:
        meta = json.loads((samples / event.record.filename).read_bytes())
        if event.task_id in unfinished:
            assert (event.source, event.time) == ("mtime", unfinished[event.task_id])
        else:
            assert event.source == "date_done"
            assert event.record.date_done == event.time
        assert event.status == (meta.get("status") or "GROUP")
    assert timeline.start == events[0].time and timeline.end == max(unfinished.values())


def test_replay_dump_jsonl_prints_events_in_time_order():
    lines = run(str(SAMPLE_RESULTS), "--replay", "--dump", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len([p for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-")])
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    for row in rows:
        assert {"time", "task_id", "status", "name", "old"} <= set(row)
    add = next(r for r in rows if r["name"] == "sampletasks.add")
    assert add["status"] == "SUCCESS" and add["source"] == "date_done"


# --- journals ------------------------------------------------------------------------


def journal_line(when: float, task_id: str, old, new, meta=None, **extra) -> dict:
    line = {
        "time": when,
        "task_id": task_id,
        "kind": "task",
        "file": TASK_PREFIX + task_id,
        "old": old,
        "new": new,
        "live": True,
        "size": 10,
        "error": None,
        "meta": meta,
    }
    line.update(extra)
    return line


def write_journal(path: Path, lines: list[dict]) -> None:
    writer = JournalWriter(str(path))
    writer.write(lines)
    writer.close()


def test_a_journal_written_then_read_keeps_every_state(tmp_path: Path):
    journal = tmp_path / "session.jsonl"
    states = [
        ("STARTED", {"pid": 1, "hostname": "w@h"}),
        ("PROGRESS", {"current": 1, "total": 3}),
        ("RETRY", {"exc_type": "ConnectionError", "exc_message": ["503"], "exc_module": "builtins"}),
        ("SUCCESS", 42),
    ]
    lines, old = [], None
    for n, (status, result) in enumerate(states):
        meta = {"status": status, "result": result, "task_id": "t1", "date_done": None, "name": "proj.job"}
        lines.append(journal_line(100.0 + n, "t1", old, status, meta))
        old = status
    lines.append(journal_line(105.0, "t1", "SUCCESS", None))  # the file went away
    write_journal(journal, lines)
    timeline = read_journal(str(journal))
    assert [(e.time, e.status, e.old) for e in timeline.events] == [
        (100.0, "STARTED", None),
        (101.0, "PROGRESS", "STARTED"),
        (102.0, "RETRY", "PROGRESS"),
        (103.0, "SUCCESS", "RETRY"),
        (105.0, None, "SUCCESS"),
    ]
    assert timeline.events[1].record.progress == (1.0, 3.0)
    assert timeline.events[0].meta["result"] == {"pid": 1, "hostname": "w@h"}
    player = Player(timeline.events, Store())
    player.seek(4)
    assert [s for _, s in player.store.history("t1")] == ["STARTED", "PROGRESS", "RETRY", "SUCCESS"]
    player.step()
    assert "t1" not in player.store
    dumped = [json.loads(x) for x in run(str(journal), "--replay", "--dump", "jsonl").stdout.splitlines()]
    assert [(d["status"], d["old"]) for d in dumped][:2] == [("STARTED", None), ("PROGRESS", "STARTED")]


def test_a_torn_last_line_is_ignored_with_a_notice(tmp_path: Path):
    journal = tmp_path / "killed.jsonl"
    write_journal(journal, [journal_line(1.0, "a", None, "STARTED", {"status": "STARTED", "task_id": "a"})])
    with open(journal, "ab") as out:
        out.write(b'{"time": 2.0, "task_id": "a", "old": "STARTED", "new": "SUCC')
    timeline = read_journal(str(journal))
    assert [e.status for e in timeline.events] == ["STARTED"]
    assert any("last line is cut" in n for n in timeline.notices)
    proc = run(str(journal), "--replay", "--dump", "jsonl")
    assert len(proc.stdout.splitlines()) == 1


def test_a_file_that_is_no_journal_is_one_line_and_exit_2(tmp_path: Path):
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text("hello\nworld\n")
    proc = run(str(bogus), "--replay", "--dump", "jsonl", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not a taskview journal" in proc.stderr
    proc = run(str(bogus), "--dump", "jsonl", check=False)
    assert proc.returncode == 2 and "replay it with --replay" in proc.stderr


def test_record_flags_that_do_not_go_together(tmp_path: Path):
    for args in (["--replay"], ["--dump", "jsonl"], ["--stats"]):
        proc = run(str(SAMPLE_RESULTS), "--record", str(tmp_path / "j.jsonl"), *args, check=False)
        assert proc.returncode == 2 and "does not go with" in proc.stderr, proc.stderr
    proc = run(str(SAMPLE_RESULTS), "--record", str(tmp_path / "missing" / "j.jsonl"), check=False)
    assert proc.returncode == 2 and "--record: cannot write" in proc.stderr
    proc = run(str(SAMPLE_RESULTS), "--record", str(tmp_path), check=False)
    assert proc.returncode == 2 and "--record: cannot write" in proc.stderr
    assert not (tmp_path / "j.jsonl").exists()


# --- the player ----------------------------------------------------------------------

STATUSES = ["STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE", None]


@st.composite
def timelines(draw) -> list[Event]:
    count = draw(st.integers(0, 25))
    events, when = [], 1000.0
    for _ in range(count):
        when += draw(st.sampled_from([0.0, 0.001, 0.5, 3.0, 600.0]))
        task_id = draw(st.sampled_from(["a", "b", "c", "d"]))
        status = draw(st.sampled_from(STATUSES))
        if status is None:
            events.append(Event(when, task_id, None, None, source="journal", live=True))
            continue
        record = TaskRecord(
            task_id,
            TASK_PREFIX,
            status=status,
            mtime=when,
            running=(draw(st.integers(0, 3)), 3.0) if status == "PROGRESS" else None,
            date_done=when if status in ("SUCCESS", "FAILURE") else None,
        )
        events.append(Event(when, task_id, status, record, source="journal", live=draw(st.booleans())))
    return events


def snapshot(store: Store) -> tuple:
    rows = {
        task_id: tuple(getattr(r, slot) for slot in TaskRecord.__struct_fields__)
        for task_id, r in store.records.items()
    }
    return rows, {k: list(v) for k, v in store.transitions.items()}, store.counts(), ordered_ids(store, "time", True)


def forward_to(events: list[Event], position: int) -> Store:
    """A fresh replay of the first ``position`` events, on records no other player touched."""
    store = Store()
    Player(copy.deepcopy(events), store).seek(position)
    return store


moves = st.lists(
    st.one_of(
        st.tuples(st.just("seek"), st.integers(-2, 30)),
        st.tuples(st.sampled_from(["step", "back", "start", "end", "toggle", "faster", "slower"]), st.just(0)),
        st.tuples(st.just("advance"), st.floats(0, 700)),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(timelines(), moves)
def test_any_moves_leave_the_store_a_forward_replay_gives(events: list[Event], steps):
    player = Player(events, Store())
    for move, arg in steps:
        if move == "seek":
            player.seek(arg)
        elif move == "advance":
            player.advance(arg)
        else:
            getattr(player, {"start": "seek_start", "end": "seek_end"}.get(move, move))()
        assert 0 <= player.position <= len(events)
        assert snapshot(player.store) == snapshot(forward_to(events, player.position))
        applied = events[: player.position]
        if applied:
            assert player.clock >= applied[-1].time
        if move == "advance" and player.position < len(events) and player.speed != SPEEDS[-1]:
            # Everything up to the clock has happened, nothing after it.
            assert player.clock < events[player.position].time or not player.playing


def test_advance_plays_events_as_their_time_comes():
    events = [
        Event(t, f"t{t:g}", "SUCCESS", TaskRecord(f"t{t:g}", TASK_PREFIX, status="SUCCESS"))
        for t in (0.0, 1.0, 10.0, 100.0)
    ]
    player = Player(events, Store())
    player.toggle()
    assert player.advance(0.5) == {"t0"}  # the first event is at the start
    assert player.advance(0.6) == {"t1"}
    player.faster()  # 2x
    assert player.advance(4.0) == set() and player.clock == 9.1
    assert player.advance(0.5) == {"t10"}
    player.speed_index = len(SPEEDS) - 1  # max: gaps skipped
    assert player.advance(0.1) == {"t100"} and not player.playing and player.at_end
    assert player.toggle() is None and player.position == 0  # play at the end starts over


def test_the_journal_is_on_disk_after_each_batch_without_a_close(tmp_path: Path):
    """A session killed with SIGKILL never closes its journal: each batch must be flushed as it goes."""
    import time

    journal = tmp_path / "live.jsonl"
    writer = JournalWriter(str(journal))
    try:
        for n in range(3):
            writer.write([journal_line(float(n), f"t{n}", None, "STARTED", {"status": "STARTED", "task_id": f"t{n}"})])
            deadline = time.monotonic() + 5
            while journal.read_bytes().count(b"\n") < n + 1:
                assert time.monotonic() < deadline, "batch not flushed"
                time.sleep(0.01)
        assert [e.task_id for e in read_journal(str(journal)).events] == ["t0", "t1", "t2"]
    finally:
        writer.close()


def test_at_max_speed_the_clock_jumps_with_the_events():
    times = [float(t) for t in range(0, 1000, 5)]  # 200 events: max speed takes several ticks
    events = [Event(t, f"t{t:g}", "SUCCESS", TaskRecord(f"t{t:g}", TASK_PREFIX, status="SUCCESS")) for t in times]
    player = Player(events, Store())
    player.speed_index = len(SPEEDS) - 1
    player.toggle()
    player.advance(0.1)
    assert 0 < player.position < len(events) and player.clock == events[player.position - 1].time


def test_times_no_calendar_holds_are_refused_not_crashed_on(tmp_path: Path):
    import io
    import tarfile

    from taskview.results.archive import ResultArchive
    from taskview.ui.widgets.timeline_bar import moment

    journal = tmp_path / "j.jsonl"
    good = {"time": 1000.0, "task_id": "a", "new": "SUCCESS", "meta": {"status": "SUCCESS", "result": 1}}
    journal.write_text(json.dumps(good) + "\n" + json.dumps({**good, "task_id": "b", "time": 1e300}) + "\n")
    timeline = read_journal(str(journal))
    assert [e.task_id for e in timeline.events] == ["a"] and "1 journal lines not understood" in timeline.notices[0]
    assert moment(1e300) == "1e+300 s"
    archive = tmp_path / "r.tar"
    with tarfile.open(archive, "w", format=tarfile.GNU_FORMAT) as tar:
        data = (SAMPLE_RESULTS / sorted(os.listdir(SAMPLE_RESULTS))[0]).read_bytes()
        info = tarfile.TarInfo(sorted(os.listdir(SAMPLE_RESULTS))[0])
        info.size, info.mtime = len(data), 10**20
        tar.addfile(info, io.BytesIO(data))
    results = ResultArchive(str(archive))
    assert [r.mtime for batch in results.scan() for r in batch] == [0.0]


async def test_a_journal_the_disk_refuses_is_said_once_and_the_inspector_goes_on(samples: Path):
    from helpers.pilot import summary_text, wait_until
    from taskview.replay.journal import Recorder
    from taskview.ui.app import TaskviewApp

    app = TaskviewApp(ResultDirectory(str(samples)), recorder=Recorder(JournalWriter("/dev/full")))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "recording stopped" in summary_text(app), timeout=10)
        assert "/dev/full" in summary_text(app) and len(app.inspector.store) == len(os.listdir(samples))
