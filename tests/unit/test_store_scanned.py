"""A first scan's records taken in bulk (Store.add_scanned), read back in id order, and the
scan's own recent order handed to the table's next sort (adopt_order, has_order, presorted)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from taskview.results.files import GROUP_PREFIX, TASK_PREFIX
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import TaskRecord
from taskview.sources import recent_order
from taskview.sources.recent_order import RecentOrder
from taskview.store import Store, first_sight
from taskview.view.sorting import ordered_ids

_MID_WRITE = Problem(ProblemKind.EMPTY, "empty (being written?)")


def scanned(task_id: str, mtime: float, status: str | None = "SUCCESS", **fields) -> TaskRecord:
    """A record as a first scan sends it: first-sight times set (``first_sight``)."""
    prefix = GROUP_PREFIX if fields.pop("group", False) else TASK_PREFIX
    record = TaskRecord(task_id, prefix, status=status, mtime=mtime, **fields)
    first_sight([record])
    return record


def ids(records: list[TaskRecord]) -> list[str]:
    return [r.task_id for r in records]


def test_a_scanned_batch_counts_indexes_and_orders_every_row_as_adding_each_would():
    store = Store()
    batch = [
        scanned("c", 100.0, "SUCCESS", date_done=90.0, worker="w1"),
        scanned("a", 50.0, "STARTED", worker="w1", running=7),
        scanned("e", 80.0, "PROGRESS", worker="w2", running=(1.0, 4.0)),
        scanned("b", 60.0, None, error=_MID_WRITE),
        scanned("d", 70.0, None, group=True),
        scanned("f", 40.0, "FAILURE", date_done=40.0),
        scanned("g", 45.0, "PENDING"),  # a placeholder no worker has: not to be judged stale
    ]
    assert store.add_scanned(batch) == ["a", "b", "c", "d", "e", "f", "g"]
    assert len(store) == 7
    assert store.counts() == {
        "SUCCESS": 1,
        "STARTED": 1,
        "PROGRESS": 1,
        "unreadable": 1,
        "GROUP": 1,
        "FAILURE": 1,
        "PENDING": 1,
    }
    # The stale check watches the unfinished tasks: running ones, not a group, nor a file mid-write.
    assert store.unfinished == {"a", "e"}
    assert store.started == {"a"}
    assert store.worker_of("e") == "w2"
    assert ids(store.by_id()) == ["a", "b", "c", "d", "e", "f", "g"]
    # A file first read mid-write has no known status yet...
    assert store.known_status("b") is None
    assert store.known_status("c") == "SUCCESS"
    # ... and its first whole read is its first sight (of a task seen by the scan, not a new one),
    # not a change: no history, and no start time for a task found already running.
    assert store.add(TaskRecord("b", TASK_PREFIX, status="PROGRESS", mtime=65.0, running=(1.0, 2.0)))
    assert store.history("b") == [(65.0, "PROGRESS")]
    assert store.records["b"].started is None
    assert store.unfinished == {"a", "b", "e"}
    assert store.counts()["unreadable"] == 0
    # A task the scan found running finishes: a transition, and it leaves the stale check's index.
    assert store.add(TaskRecord("a", TASK_PREFIX, status="SUCCESS", mtime=120.0, date_done=119.0, worker="w1"))
    assert store.history("a") == [(50.0, "STARTED"), (120.0, "SUCCESS")]
    assert store.unfinished == {"b", "e"}
    assert store.counts() == {"SUCCESS": 2, "PROGRESS": 2, "GROUP": 1, "FAILURE": 1, "PENDING": 1}


def test_a_scanned_batch_of_statuses_only_finds_its_unfinished_tasks():
    # No group, no error: the batch's statuses are taken in bulk.
    store = Store()
    store.add_scanned(
        [
            scanned("x", 10.0, "STARTED", worker="w1", running=3),
            scanned("y", 20.0, "SUCCESS", date_done=19.0),
            scanned("z", 30.0, "CHARGING", worker="w2"),  # a custom state: running
            scanned("p", 40.0, "PENDING"),
            scanned("q", 50.0, "GROUP", worker="w3"),  # a task's custom state, named as groups show
        ]
    )
    assert store.unfinished == {"x", "z", "q"}
    assert store.counts() == {"STARTED": 1, "SUCCESS": 1, "CHARGING": 1, "PENDING": 1, "GROUP": 1}


def test_scanned_batches_of_id_ranges_in_any_order_read_back_in_id_order():
    store = Store()
    store.add_scanned([scanned("m", 1.0), scanned("n", 1.0)])
    store.add_scanned([scanned("a", 1.0), scanned("b", 1.0)])
    store.add_scanned([scanned("x", 1.0)])
    store.add_scanned([scanned("d", 1.0), scanned("c", 1.0)])  # not sorted: sorted here
    assert ids(store.by_id()) == ["a", "b", "c", "d", "m", "n", "x"]
    # Ranges that overlap (a scan that is not by id ranges) are merged all the same.
    store.add_scanned([scanned("e", 1.0), scanned("z", 1.0)])
    store.add_scanned([scanned("f", 1.0), scanned("g", 1.0)])
    store.add(TaskRecord("h", TASK_PREFIX, status="STARTED", mtime=5.0), live=True)
    store.remove("m")
    assert ids(store.by_id()) == ["a", "b", "c", "d", "e", "f", "g", "h", "n", "x", "z"]
    assert all(r is store.records[r.task_id] for r in store.by_id())


def test_only_runs_that_do_not_overlap_are_joined_as_they_are():
    store = Store()
    store.add_scanned([scanned("a", 1.0), scanned("k", 1.0)])
    store.add_scanned([scanned("b", 1.0), scanned("c", 1.0)])  # inside a..k
    assert ids(store.by_id()) == ["a", "b", "c", "k"]
    store.add_scanned([scanned("d", 1.0)])
    store.add_scanned([scanned("l", 1.0)])
    assert ids(store.by_id()) == ["a", "b", "c", "d", "k", "l"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["scan", "add", "remove", "sort"]),
            st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True),
        ),
        max_size=25,
    )
)
def test_records_in_id_order_follow_scanned_batches_and_every_change(ops):
    store = Store()
    for op, numbers in ops:
        task_ids = [f"t{n:02d}" for n in numbers]
        if op == "scan":
            store.add_scanned([scanned(task_id, 10.0) for task_id in task_ids])
        elif op == "add":
            for task_id in task_ids:
                store.add(TaskRecord(task_id, TASK_PREFIX, status="STARTED", mtime=20.0), live=True)
        elif op == "remove":
            for task_id in task_ids:
                store.remove(task_id)
        else:
            assert ids(store.by_id()) == sorted(store.records)
    assert ids(store.by_id()) == sorted(store.records)
    assert all(r is store.records[r.task_id] for r in store.by_id())
    assert sum(store.counts().values()) == len(store)


def test_a_task_sent_while_the_scan_runs_is_one_row_when_its_file_is_scanned():
    store = Store()
    store.add_pending("p", "tasks.add", 5.0)
    changed = store.add_scanned([scanned("a", 1.0), scanned("p", 9.0, "SUCCESS", date_done=8.0)])
    assert "a" in changed
    assert len(store) == 2
    assert store.counts() == {"SUCCESS": 2}
    assert store.history("p") == [(5.0, "PENDING"), (9.0, "SUCCESS")]
    assert store.records["p"].name == "tasks.add"  # what it was sent as
    assert ids(store.by_id()) == ["a", "p"]


def test_a_task_removed_then_found_by_the_scan_is_one_row():
    store = Store()
    store.add(TaskRecord("g", TASK_PREFIX, status="STARTED", mtime=1.0))
    store.add(TaskRecord("k", TASK_PREFIX, status="STARTED", mtime=1.0))
    assert ids(store.by_id()) == ["g", "k"]
    store.remove("g")
    store.add_scanned([scanned("a", 2.0), scanned("g", 3.0, "SUCCESS", date_done=3.0)])
    assert ids(store.by_id()) == ["a", "g", "k"]
    assert store.counts() == {"SUCCESS": 2, "STARTED": 1}
    assert store.records["g"].status == "SUCCESS"


def test_the_scans_recent_order_is_the_tables_with_the_tasks_added_meanwhile_put_in_place():
    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0), scanned("c", 20.0)])  # the store's list now
    a, b, c = (store.records[task_id] for task_id in "abc")
    # A scan is under way: its order will come, none is there yet.
    assert store.has_order("last_change", True, coming=True)
    assert not store.has_order("last_change", True)
    store.adopt_order([b, c, a])  # newest change first
    assert store.has_order("last_change", True)
    assert not store.has_order("last_change", False)  # oldest first: a sort of its own
    assert not store.has_order("name", True)
    # Tasks sent outside the scan meanwhile: put in place, ties by the greater id first.
    store.add(TaskRecord("d", TASK_PREFIX, status="STARTED", mtime=20.0), live=True)
    store.add(TaskRecord("0", TASK_PREFIX, status="STARTED", mtime=25.0), live=True)
    assert store.has_order("last_change", True)
    assert ordered_ids(store) == ["b", "0", "d", "c", "a"]
    # The order was the table's, once: the next sort is a sort.
    assert not store.has_order("last_change", True)
    assert store.presorted("last_change", True) is None
    assert ordered_ids(store) == ["b", "0", "d", "c", "a"]
    # The scan's next order covers all it sent; the tasks from outside are put in place again.
    store.add_scanned([scanned("e", 15.0)])
    store.adopt_order([b, c, store.records["e"], a], final=True)
    assert store.has_order("last_change", True)
    assert ordered_ids(store) == ["b", "0", "d", "c", "e", "a"]
    # Done: nothing more is coming.
    assert not store.has_order("last_change", True, coming=True)


def test_the_order_is_taken_only_for_the_newest_change_first():
    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0)])
    store.adopt_order([store.records["b"], store.records["a"]])
    assert store.presorted("last_change", False) is None
    assert store.presorted("id", True) is None
    assert ordered_ids(store, "last_change", False) == ["a", "b"]
    assert ordered_ids(store) == ["b", "a"]


def test_a_task_the_scan_read_twice_breaks_its_order():
    store = Store()
    store.add_scanned([scanned("a", 10.0, "STARTED"), scanned("b", 30.0)])
    store.add_scanned([scanned("a", 40.0, "SUCCESS", date_done=40.0)])  # read again: its place has moved
    store.adopt_order([store.records["b"], store.records["a"]])
    assert not store.has_order("last_change", True)
    assert not store.has_order("last_change", True, coming=True)
    assert store.presorted("last_change", True) is None
    assert ordered_ids(store) == ["a", "b"]


def test_too_many_tasks_outside_the_scan_and_its_order_is_dropped_for_a_sort():
    store = Store()
    store.add_scanned([scanned(f"s{n:03d}", float(n)) for n in range(10)])
    store.adopt_order([store.records[f"s{n:03d}"] for n in range(9, -1, -1)], final=True)
    for n in range(64):  # as many as may be put in place
        store.add(TaskRecord(f"o{n:03d}", TASK_PREFIX, status="STARTED", mtime=100.0 + n), live=True)
    assert store.has_order("last_change", True)
    store.add(TaskRecord("o064", TASK_PREFIX, status="STARTED", mtime=200.0), live=True)
    assert not store.has_order("last_change", True)
    assert store.presorted("last_change", True) is None
    expected = [f"o{n:03d}" for n in range(64, -1, -1)] + [f"s{n:03d}" for n in range(9, -1, -1)]
    assert ordered_ids(store) == expected


def test_a_task_the_scan_found_gone_leaves_the_table_with_its_last_order():
    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0), scanned("c", 20.0)])
    # The scan's last order leaves out the files gone since the listing, which it removes.
    store.adopt_order([store.records["b"], store.records["a"]], final=True)
    store.remove("c")
    assert ordered_ids(store) == ["b", "a"]
    assert store.counts() == {"SUCCESS": 2}


def test_first_sight_times_of_a_scanned_task():
    done = scanned("a", 100.0, "SUCCESS", date_done=90.0)  # its own clock, not a copy's mtime
    assert (done.first_seen, done.last_change, done.started) == (90.0, 90.0, None)
    running = scanned("b", 50.0, "STARTED", running=3)
    assert (running.first_seen, running.last_change, running.started) == (50.0, 50.0, 50.0)
    progress = scanned("c", 60.0, "PROGRESS", date_done=55.0)  # not finished: its file's time
    assert (progress.first_seen, progress.last_change, progress.started) == (60.0, 60.0, None)
    undated = scanned("d", 70.0, "FAILURE")
    assert (undated.first_seen, undated.last_change) == (70.0, 70.0)


def test_tasks_sent_meanwhile_go_first_last_or_between_in_a_long_order():
    store = Store()
    store.add_scanned([scanned(f"s{n:02d}", 10.0 * n) for n in range(1, 11)])  # s01 at 10 ... s10 at 100
    store.adopt_order([store.records[f"s{n:02d}"] for n in range(10, 0, -1)], final=True)
    for task_id, when in (("new", 105.0), ("mid", 55.0), ("old", 5.0), ("s10a", 100.0)):
        store.add(TaskRecord(task_id, TASK_PREFIX, status="STARTED", mtime=when), live=True)
    # Newest change first; s10a and s10 both at 100: the greater id first.
    expected = ["new", "s10a", "s10", "s09", "s08", "s07", "s06", "mid", "s05", "s04", "s03", "s02", "s01", "old"]
    assert ordered_ids(store) == expected


def test_a_file_deleted_during_the_scan_does_not_cost_the_scans_order():
    store = Store()
    store.add(TaskRecord("x", TASK_PREFIX, status="STARTED", mtime=1.0), live=True)
    store.by_id()  # sorted once
    store.remove("x")
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0)])
    store.adopt_order([store.records["b"], store.records["a"]])
    assert store.has_order("last_change", True)
    assert ordered_ids(store) == ["b", "a"]


def test_too_many_tasks_outside_a_scan_not_done_yet_and_its_orders_are_not_taken():
    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0)])
    store.adopt_order([store.records["b"], store.records["a"]])
    for n in range(65):
        store.add(TaskRecord(f"o{n:03d}", TASK_PREFIX, status="STARTED", mtime=100.0 + n), live=True)
    assert not store.has_order("last_change", True)
    assert not store.has_order("last_change", True, coming=True)
    assert ordered_ids(store) == [f"o{n:03d}" for n in range(64, -1, -1)] + ["b", "a"]


def test_after_the_scans_last_order_is_taken_tasks_come_and_go_as_ever():
    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0)])
    store.adopt_order([store.records["b"], store.records["a"]], final=True)
    assert ordered_ids(store) == ["b", "a"]
    store.add(TaskRecord("c", TASK_PREFIX, status="STARTED", mtime=40.0), live=True)
    store.remove("a")
    assert not store.has_order("last_change", True, coming=True)
    assert ordered_ids(store) == ["c", "b"]


def test_a_task_that_changed_or_went_during_the_scan_is_one_row_or_none_in_its_order():
    """The scan's order holds each task as the scan read it: one changed since is in its
    new place once (not twice), one deleted since is not a ghost row."""
    from taskview.view.table_model import TableModel

    store = Store()
    store.add_scanned([scanned("a", 10.0), scanned("b", 30.0), scanned("c", 20.0)])
    a, b, c = (store.records[task_id] for task_id in "abc")
    model = TableModel(store)
    model.sort("name", False)  # the order waits unused while another sort is on
    store.adopt_order([b, c, a], final=True)
    store.add(TaskRecord("c", TASK_PREFIX, status="FAILURE", mtime=40.0, date_done=40.0), live=True)
    store.remove("a")
    model.sort("last_change", True)
    assert [r.task_id for r in model.rows] == ["c", "b"]
    assert model.rows[0].status == "FAILURE" and len(store) == 2


def test_a_scanned_file_of_a_task_sent_meanwhile_says_its_row_changed():
    """A task sent while the scan runs is PENDING in the store; when the scan reads its file, its
    id is among the changed ones (a detail pane open on it is loaded again)."""
    store = Store()
    store.add_pending("p", "tasks.add", 5.0)
    assert sorted(store.add_scanned([scanned("a", 1.0), scanned("p", 9.0, "SUCCESS", date_done=8.0)])) == ["a", "p"]
    assert store.add_scanned([scanned("q", 2.0)]) == ["q"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([1.0, 2.0, 2.5, 3.0, 7.0]), st.integers(0, 60)),
        max_size=80,
        unique_by=lambda pair: pair[1],
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_the_recent_order_of_runs_is_by_time_then_id_both_descending(pairs, runs, by_id):
    # Written out, not from the code's own key: newest time first, and of equal times the
    # greater id first. ``by_id``: each run comes in ascending id order, as a reader's batches do.
    records = [scanned(f"t{n:02d}", when) for when, n in pairs]
    expected = [f"t{n:02d}" for _, n in sorted(pairs, key=lambda pair: (-pair[0], -pair[1]))]
    order = RecentOrder(step=3)
    for k in range(runs):
        run = records[k::runs]
        if by_id:
            order.add(sorted(run, key=lambda record: record.task_id), ids_ascending=True)
        else:
            order.add(run)
        order.step(seconds=0.0)
    merge = order.finishing()
    while merge.step():
        pass
    assert ids(order.done_with(merge)) == expected


def merged_in_pieces(merge) -> list[int]:
    """Step ``merge`` to its end: how many records each step put out."""
    pieces = []
    made = 0
    while True:
        more = merge.step()
        pieces.append(len(merge.out) - made)
        made = len(merge.out)
        if not more:
            return pieces


def test_a_merge_piece_is_about_its_step_however_many_runs_there_are():
    """Each piece is one sort holding the GIL: from 100 runs, the records before the widest run's
    ``step``-th made pieces 30 times the step (24k records at 1M: 30-64 ms the UI could not run)."""
    step = 64
    times = [n * 0.001 for n in range(9000)]
    order = RecentOrder(step=step)
    order.add([scanned(f"o{n:05d}", when) for n, when in enumerate(times[::3])])
    order.step(seconds=1.0)  # the order of the first run, made
    rest = [when for n, when in enumerate(times) if n % 3]
    for k in range(100):  # 100 runs of 60, their times spread among the order's
        order.add([scanned(f"f{k:03d}-{n:02d}", when) for n, when in enumerate(rest[k::100])])
    merge = order.finishing()
    pieces = merged_in_pieces(merge)
    assert len(merge.out) == 3000 + 6000 and max(pieces) <= 2 * step, max(pieces)
    assert len(pieces) >= 9000 // (2 * step)
    assert ids(order.done_with(merge)) == [record.task_id for record in sorted(merge.out, key=lambda r: -r.last_change)]


def test_a_merge_piece_stays_small_when_a_run_is_all_newer_than_the_widest():
    # The widest run's newest record older than every record of another: a pivot from the
    # widest alone would take all of the other into one piece.
    step = 64
    order = RecentOrder(step=step)
    order.add([scanned(f"old{n:04d}", float(n)) for n in range(3000)])
    order.step(seconds=1.0)
    order.add([scanned(f"new{n:04d}", 5000.0 + n) for n in range(1000)])
    order.add([scanned(f"mid{n:04d}", 0.5 + 3 * n) for n in range(500)])
    merge = order.finishing()
    pieces = merged_in_pieces(merge)
    assert len(merge.out) == 4500 and max(pieces) <= 2 * step, max(pieces)
    times = [record.last_change for record in order.done_with(merge)]
    assert times == sorted(times, reverse=True)


def test_a_merge_piece_of_runs_in_bands_of_time_takes_a_few_searches(monkeypatch):
    # Ids that follow time (uuid7, ULIDs): a reader's batches come in bands of time, oldest
    # first. Halving the first of the runs that give the most took one band off the piece a
    # pass: a search in every run for every run, 58,000 a piece at 1M.
    searches = []
    first_after = recent_order._first_after

    def counted(run, lo, pivot):
        searches[-1] += 1
        return first_after(run, lo, pivot)

    monkeypatch.setattr(recent_order, "_first_after", counted)
    step, runs = 64, 40
    order = RecentOrder(step=step)
    order.add([scanned(f"a{n:05d}", float(n)) for n in range(3000)])
    order.step(seconds=1.0)
    for k in range(runs):  # bands of 60, the oldest first, all newer than the order
        order.add([scanned(f"b{k:02d}{n:02d}", 10_000.0 + 100 * k + n) for n in range(60)])
    merge = order.finishing()
    while True:
        searches.append(0)
        if not merge.step():
            break
    assert max(searches) <= 4 * runs, max(searches)
    times = [record.last_change for record in order.done_with(merge)]
    assert len(times) == 3000 + 60 * runs and times == sorted(times, reverse=True)


def test_a_scanned_file_that_is_unreadable_for_good_has_its_status_known_at_once():
    """Only a file caught mid-write waits for its next write: one that is no result at all says
    "unreadable" from the first scan on."""
    store = Store()
    broken = Problem(ProblemKind.NOT_A_RESULT, "not a Celery result")
    cut = Problem(ProblemKind.TRUNCATED, "truncated JSON")
    batch = [
        TaskRecord("broken", TASK_PREFIX, mtime=1.0, error=broken),
        TaskRecord("cut", TASK_PREFIX, mtime=2.0, error=cut),
    ]
    assert store.add_scanned(batch) == ["broken", "cut"]
    assert store.known_status("broken") == "unreadable" and store.known_status("cut") is None
    assert store.counts() == {"unreadable": 2} and not store.unfinished
