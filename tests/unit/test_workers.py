"""The workers board (statuses across refreshes, partial answers, hostile replies), the rows with no
file yet (RESERVED, SCHEDULED) in the store, the queue history, and the single-flight inspect.

The reply shapes are those of ``celery inspect`` (Celery 5.x ``Request.info()``, ``stats``); the real
ones are read from real workers in tests/integration/test_workers_brokers.py.
"""

from __future__ import annotations

import socket
import threading
import time

from helpers.worker_replies import W1, W2, replies, request, whole
from taskview.control.app_loading import load_app
from taskview.control.controller import Controller, Outcome
from taskview.control.queues import DepthHistory, QueueDepth
from taskview.control.workers import GONE_AFTER_MISSES, WorkerBoard
from taskview.results.record import TaskRecord
from taskview.store import Store
from taskview.ui.worker_rows import held_rows, queued_summary, sparkline, worker_row


def test_a_refresh_reads_what_each_worker_holds():
    board = WorkerBoard(clock=lambda: 1000.0)
    eta = "2026-12-01T10:00:00+00:00"
    board.update(
        replies(
            {
                W1: whole(
                    active=[request("a1", time_start=1796148755.5, worker_pid=101)],
                    reserved=[request("r1"), request("r2", name="shop.mail")],
                    scheduled=[{"eta": eta, "priority": 6, "request": request("s1")}],
                ),
                W2: whole(pids=(201,)),
            }
        )
    )
    w1 = board.workers[W1]
    assert (w1.status, w1.pool, w1.pool_size, w1.pids) == ("online", "prefork", 2, [101, 102])
    assert (w1.processed, w1.uptime, w1.prefetch) == (10, 3725.0, 8)
    assert w1.queues == ["celery", "reports"] and w1.registered == ["shop.mail", "shop.report"]
    assert [t.task_id for t in w1.active] == ["a1"] and w1.active[0].started == 1796148755.5
    assert w1.active[0].args == "1, 'x', to='a@b.c'" and w1.active[0].queue == "reports"
    assert [(t.task_id, t.name) for t in w1.reserved] == [("r1", "shop.report"), ("r2", "shop.mail")]
    assert w1.scheduled[0].eta == 1796119200.0
    assert board.workers[W2].pool_size == 1  # the processes tell, after a grow or shrink
    assert sorted(board.queued_tasks()) == ["r1", "r2", "s1"]
    assert board.consumed_queues() == {"celery": 2, "reports": 2}
    assert board.lines() == []
    row = worker_row(w1)
    assert row[:8] == (W1, "online", "prefork 2", "1/2", "1", "2", "1", "celery, reports")
    assert row[8:10] == ("10", "8") and row[-1] == "1h02m"


def test_a_silent_worker_is_not_answering_then_gone_and_what_it_held_goes():
    now = [1000.0]
    board = WorkerBoard(clock=lambda: now[0])
    board.update(replies({W1: whole(reserved=[request("r1")]), W2: whole()}))
    for miss in range(1, GONE_AFTER_MISSES + 1):
        now[0] += 5
        board.update(replies({W2: whole()}))
        w1 = board.workers[W1]
        if miss < GONE_AFTER_MISSES:
            assert w1.status == "not answering" and worker_row(w1)[1].startswith("silent ")
            assert board.lines() == [f"{W1} has not answered since {time.strftime('%H:%M:%S', time.localtime(1000))}"]
            assert board.queued_tasks() == {}  # only the workers that answer hold anything now
        else:
            assert w1.status == "gone" and not w1.reserved
            assert board.lines()[0].startswith(f"{W1} is gone: no answer since ")
    board.update(replies({W1: whole(), W2: whole()}))  # back
    assert board.workers[W1].status == "online" and board.lines() == []


def test_a_partial_answer_says_which_and_keeps_the_rest():
    board = WorkerBoard()
    board.update(replies({W1: whole(reserved=[request("r1")])}))
    partial = whole()
    del partial["reserved"], partial["scheduled"]
    board.update(replies({W1: partial}))
    w1 = board.workers[W1]
    assert w1.status == "online" and w1.unanswered == ["reserved", "scheduled"]
    assert board.lines() == [f"{W1} answered in part: no reply to reserved, scheduled in time"]
    assert [t.task_id for t in w1.reserved] == ["r1"]  # the last known, kept
    assert worker_row(w1)[1] == "partial"


def test_a_broker_that_cannot_be_asked_blames_no_worker():
    board = WorkerBoard(clock=lambda: 1000.0)
    board.update(replies({W1: whole()}))
    board.failed("broker unreachable: amqp://guest:****@h//: Connection refused")
    assert board.workers[W1].status == "online"
    assert board.lines() == [
        "broker unreachable: amqp://guest:****@h//: Connection refused (last answer at "
        + time.strftime("%H:%M:%S", time.localtime(1000))
        + ")"
    ]


def test_hostile_replies_are_shown_inert_and_never_raise():
    board = WorkerBoard()
    evil = "\x1b]52;c;aGk=\x07evil\x1b[2J"
    odd = {
        "stats": ["not", "a", "dict"],
        "active": [None, 3, {"id": 5}, {"id": "ok", "name": evil, "args": evil, "kwargs": None}],
        "reserved": "nope",
        "scheduled": [{"eta": "yesterday", "request": {"id": "s"}}, {"eta": None, "request": None}],
        "active_queues": [{"name": evil}, {"name": 7}, "x"],
        "registered": [evil, 3],
    }
    board.update(replies({evil: odd}))
    (worker,) = board.workers.values()
    shown = " ".join(worker_row(worker)) + " ".join(t.name + t.args for t in worker.tasks)
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b" in shown
    assert [t.task_id for t in worker.active] == ["ok"] and [t.task_id for t in worker.scheduled] == ["s"]
    assert worker.scheduled[0].eta is None and worker.pool_size is None


def test_held_tasks_are_rows_until_their_file_says():
    store = Store()
    store.add_pending("sent", "shop.report", 10.0)  # taskview sent it: PENDING, no file
    held = {
        "sent": ("RESERVED", "shop.report", W1, "1"),
        "other": ("SCHEDULED", "shop.mail", W1, "eta 10:00:00; 2"),
    }
    assert sorted(store.set_held(held, 20.0)) == ["other", "sent"]
    assert store.get("sent").status == "RESERVED" and store.get("other").status == "SCHEDULED"
    assert store.get("other").args == "eta 10:00:00; 2" and store.get("sent").worker == W1
    assert store.counts() == {"RESERVED": 1, "SCHEDULED": 1}
    assert not store.unfinished and store.stale_candidates() == []  # not started: no stale check
    assert not store.has_file("sent")
    assert store.set_held(held, 25.0) == []  # the same again: nothing changes

    # its file arrives: it says from now on, whatever the workers reported before it
    started = TaskRecord("sent", "celery-task-meta-", status="STARTED", name="shop.report", worker=W1, mtime=30.0)
    assert store.add(started, live=True)
    assert store.has_file("sent") and store.get("sent").status == "STARTED"
    assert [status for _, status in store.history("sent")] == ["PENDING", "RESERVED", "STARTED"]
    assert store.set_held(held, 31.0) == []
    assert store.get("sent").status == "STARTED"

    # no longer held: sent by taskview, back to PENDING; else out of the table
    store.add_pending("mine", "shop.mail", 40.0)
    store.set_held({"mine": ("RESERVED", None, W2, None), **held}, 41.0)
    assert store.get("mine").status == "RESERVED" and store.get("mine").name == "shop.mail"
    assert sorted(store.set_held({}, 50.0)) == ["mine", "other"]
    assert store.get("mine").status == "PENDING" and store.get("other") is None
    assert store.counts() == {"STARTED": 1, "PENDING": 1}


def test_rows_for_the_store_say_the_eta_and_the_summary_the_queues_that_hold_messages():
    from taskview.control.monitor import WorkersReport
    from taskview.control.workers import HeldTask

    eta = float(int(time.time()))  # today: shown as a time of day (another day shows its date)
    queued = {
        "r": HeldTask("r", "shop.report", "reserved", W1, args="1"),
        "s": HeldTask("s", "shop.mail", "scheduled", W1, eta=eta),
    }
    depths = {"reports": QueueDepth("reports", 1200), "mail": QueueDepth("mail", 0), "gone": QueueDepth("gone", None)}
    report = WorkersReport([], queued, {}, depths, {}, 1.0, None)
    rows = held_rows(report)
    assert rows == {
        "r": ("RESERVED", "shop.report", W1, "1"),
        "s": ("SCHEDULED", "shop.mail", W1, "eta " + time.strftime("%H:%M:%S", time.localtime(eta))),
    }
    assert queued_summary(report) == "reports 1,200"
    assert held_rows(WorkersReport([], None, {}, {}, {}, None, "down")) is None  # unknown: rows stay as they are


def test_queue_history_and_its_sparkline():
    now = [0.0]
    history = DepthHistory(seconds=60, clock=lambda: now[0])
    for ready in (0, 2, 4, 8):
        history.add({"q": QueueDepth("q", ready), "missing": QueueDepth("missing", None)})
        now[0] += 10
    assert history.values("q") == [0, 2, 4, 8] and history.growth("q") == 8
    assert history.values("missing") == [] and history.growth("missing") is None
    now[0] = 75.0
    history.add({"q": QueueDepth("q", 1)})
    assert history.values("q") == [4, 8, 1]  # older than 60 s: gone
    assert sparkline([0, 2, 4, 8], 10) == "▁▃▅█" and sparkline([0, 0], 10) == "▁▁" and sparkline([5] * 30, 4) == "████"


def test_one_inspect_at_a_time_on_a_slow_broker():
    """A broker that accepts and never answers: the second inspect is refused at once, not stacked."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        controller = Controller(load_app(None, f"amqp://guest:pw-x@127.0.0.1:{port}//"), connect_timeout=0.6)
        first: list[object] = []
        asking = threading.Thread(target=lambda: first.append(controller.inspect_workers(0.2)))
        asking.start()
        time.sleep(0.1)
        began = time.monotonic()
        second = controller.inspect_workers(0.2)
        assert time.monotonic() - began < 0.1
        assert isinstance(second, Outcome) and not second.ok
        assert second.message == f"inspect: the last request is still waiting for broker amqp://guest:****@127.0.0.1:{port}//"
        asking.join(10)
        assert isinstance(first[0], Outcome) and "no answer within 0.6 s" in first[0].message
        third = controller.inspect_workers(0.2)  # the first one over: asked again
        assert isinstance(third, Outcome) and "no answer within 0.6 s" in third.message


def test_held_rows_are_placeholders_with_what_the_workers_said():
    """Each held task is looked at, whatever comes before it; rows made for held tasks are
    placeholders (no file), with the name, time and prefix a row needs."""
    store = Store()
    store.add(TaskRecord("filed", "celery-task-meta-", status="STARTED", name="shop.a", worker=W1, mtime=1.0))
    store.add_pending("mine", "shop.mail", 2.0)
    held = {
        "filed": ("RESERVED", "shop.a", W1, None),  # its file says: skipped
        "anon": ("RESERVED", None, W2, None),  # no name known: none
        "other": ("SCHEDULED", "shop.report", W1, "2"),
    }
    assert store.set_held(held, 10.0) == ["anon", "other"]
    other, anon = store.get("other"), store.get("anon")
    assert (other.status, other.name, other.worker, other.mtime, other.prefix) == (
        "SCHEDULED",
        "shop.report",
        W1,
        10.0,
        "celery-task-meta-",
    )
    assert (anon.name, anon.worker, anon.mtime) == (None, W2, 10.0)
    assert store.get("filed").status == "STARTED" and store.has_file("filed")
    assert not store.has_file("other") and not store.has_file("anon") and not store.has_file("unknown")
    # unchanged rows first, then one that changes: every one is looked at
    held = {"anon": ("RESERVED", None, W2, None), "other": ("SCHEDULED", "shop.report", W1, "2")}
    assert store.set_held({**held, "mine": ("RESERVED", "shop.mail", W2, None)}, 20.0) == ["mine"]
    mine = store.get("mine")
    assert (mine.status, mine.name, mine.mtime, mine.prefix) == ("RESERVED", "shop.mail", 20.0, "celery-task-meta-")
    # no longer held: taskview's own task back to PENDING, still a placeholder; the others go
    assert sorted(store.set_held({}, 30.0)) == ["anon", "mine", "other"]
    mine = store.get("mine")
    assert (mine.status, mine.name, mine.mtime, mine.prefix) == ("PENDING", "shop.mail", 30.0, "celery-task-meta-")
    assert not store.has_file("mine") and store.get("other") is None and store.get("anon") is None
    assert store.set_held({}, 31.0) == []  # nothing is held any more: nothing changes
    assert store.counts() == {"STARTED": 1, "PENDING": 1}


def test_a_task_removed_and_read_again_from_its_file_is_no_placeholder_any_more():
    """remove (a forgotten task) drops what the store knew of it: sent by taskview, held by a worker."""
    store = Store()
    store.add_pending("sent", "shop.mail", 1.0)
    store.set_held({"held": ("RESERVED", "shop.report", W1, None)}, 2.0)
    for task_id in ("sent", "held"):
        assert store.remove(task_id) and store.get(task_id) is None
        store.add(TaskRecord(task_id, "celery-task-meta-", status="SUCCESS", mtime=3.0))
        assert store.has_file(task_id), task_id


def test_the_file_of_a_task_taskview_sent_makes_it_filed_with_no_worker_holding_anything():
    store = Store()
    store.add_pending("sent", "shop.mail", 1.0)
    assert not store.has_file("sent")
    store.add(TaskRecord("sent", "celery-task-meta-", status="STARTED", mtime=2.0))
    assert store.has_file("sent")
