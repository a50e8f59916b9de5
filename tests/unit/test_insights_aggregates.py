"""Insights kept by the store as records come, change and go equal a recount from nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from taskview.insights.aggregates import RECENT_SPAN, TICK, Insights, percentile, recount
from taskview.insights.grouping import group_key
from taskview.results.problems import Problem, ProblemKind
from taskview.results.record import Links, TaskRecord
from taskview.store import Store, first_sight

PREFIX = "celery-task-meta-"
IDS = [f"id-{n:02d}" for n in range(12)]
NAMES = [None, "billing.charge", "mail.send", "report.build"]
STATUSES = ["SUCCESS", "FAILURE", "STARTED", "RETRY", "PROGRESS", "REVOKED", "PENDING"]
EXCS = [
    "PaymentDeclined: card {n} declined ({m})",
    "ValueError: bad value: {n}",
    "InventoryError: out of stock, sku-{n}",
    "KeyError: 'user-{n:x}0a0b0c0d'",
]


@st.composite
def records(draw: st.DrawFn) -> TaskRecord:
    task_id = draw(st.sampled_from(IDS))
    status = draw(st.sampled_from(STATUSES))
    mtime = 1_700_000_000.0 + draw(st.integers(0, 3 * RECENT_SPAN))
    if draw(st.integers(0, 9)) == 0:  # a file caught mid-write, or unreadable
        partial = draw(st.booleans())
        problem = Problem(ProblemKind.TRUNCATED if partial else ProblemKind.INVALID, "cut", "")
        return TaskRecord(task_id, PREFIX, mtime=mtime, error=problem)
    done = mtime - draw(st.integers(0, 30)) if status in ("SUCCESS", "FAILURE", "REVOKED") else None
    head: str | Links = PREFIX
    if status in ("FAILURE", "RETRY", "REVOKED") and draw(st.integers(0, 5)):
        template = draw(st.sampled_from(EXCS))
        head = Links(PREFIX, template.format(n=draw(st.integers(0, 9999)), m=draw(st.integers(400, 499))))
    return TaskRecord(task_id, head, status, draw(st.sampled_from(NAMES)), mtime=mtime, date_done=done)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), records(), st.booleans()),
        st.tuples(st.just("remove"), st.sampled_from(IDS), st.just(False)),
        st.tuples(st.just("scan"), st.lists(records(), max_size=6), st.just(False)),
    ),
    max_size=40,
)


def assert_same(kept: Insights, fresh: Insights) -> None:
    assert kept.by_name_status == fresh.by_name_status
    assert kept.names() == fresh.names()
    as_tuples = lambda insights: [  # noqa: E731
        (g.key, g.count, g.first, g.last, g.example, +g.names) for g in insights.groups()
    ]
    assert as_tuples(kept) == as_tuples(fresh)
    assert kept.done_per_minute == fresh.done_per_minute
    assert kept.failed_per_minute == fresh.failed_per_minute
    assert kept.pending == fresh.pending
    if kept._newest_tick == fresh._newest_tick:  # else the finest buckets may cover another window
        for width in (10, 80, 200):
            assert kept.buckets(width) == fresh.buckets(width)
    # The throughput line keeps the last RECENT_SPAN before the newest finish ever seen:
    # over that window, every finish there is counted.
    now = kept._newest_tick * TICK
    bins = RECENT_SPAN // TICK
    assert kept.throughput(now, bins) == fresh.throughput(now, bins)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_kept_aggregates_equal_a_recount(ops: list[tuple[str, object, bool]]) -> None:
    store = Store()
    for op, arg, live in ops:
        if op == "add":
            assert isinstance(arg, TaskRecord)
            store.add(TaskRecord(**{f: getattr(arg, f) for f in arg.__struct_fields__}), live=live)
        elif op == "remove":
            assert isinstance(arg, str)
            store.remove(arg)
        else:
            assert isinstance(arg, list)
            fresh = {r.task_id: r for r in arg if r.task_id not in store}  # a scan: first sights only
            batch = list(fresh.values())
            first_sight(batch)
            store.add_scanned(batch)
        assert_same(store.insights, recount(store.records.values()))


def test_buckets_fit_the_width_and_the_span():
    store = Store()
    for n in range(30):  # a finish every 20 s over 10 minutes, every third one failed
        status = "FAILURE" if n % 3 == 0 else "SUCCESS"
        store.add(TaskRecord(f"t{n}", PREFIX, status, "a", mtime=6000.0 + 20 * n, date_done=6000.0 + 20 * n))
    fine = store.insights.buckets(80)
    assert (fine.size, fine.start, sum(fine.done), sum(fine.failed)) == (10, 6000, 30, 10)
    assert len(store.insights.buckets(30).done) <= 30 and store.insights.buckets(30).size == 30
    store.add(TaskRecord("old", PREFIX, "SUCCESS", "a", mtime=0.0, date_done=0.0))  # the span: 100 minutes
    wide = store.insights.buckets(80)
    assert (wide.size, sum(wide.done), sum(wide.failed)) == (300, 31, 10)
    cut = store.insights.buckets(80, until=3000.0)  # a replay's clock: 50 minutes, by the minute
    assert (cut.size, len(cut.done), sum(cut.done)) == (60, 51, 1)


def test_percentiles_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) is None


def test_runtime_of_a_task_seen_started_then_finished():
    store = Store()
    store.add(TaskRecord("a", PREFIX, "STARTED", "mail.send", mtime=100.0))
    store.add(TaskRecord("a", PREFIX, "SUCCESS", "mail.send", mtime=105.0, date_done=104.5))
    store.add(TaskRecord("b", PREFIX, "SUCCESS", "mail.send", mtime=105.0, date_done=104.0))  # never seen running
    (figures,) = store.insights.names()
    assert (figures.total, figures.finished, figures.runtimes, figures.p50, figures.max) == (2, 2, 1, 4.5, 4.5)
    assert figures.last_done == 104.5


def test_group_keys_take_out_numbers_ids_and_hex():
    a = group_key("PaymentDeclined: card 4242 declined (402)")
    assert a == group_key("PaymentDeclined: card 5555 declined (404)") == "PaymentDeclined: card * declined (*)"
    assert group_key("KeyError: 'order 3f2a9c1e-7b6d-4e8f-9a0b-1c2d3e4f5a6b'") == "KeyError: 'order <id>'"
    assert group_key("OSError: at 0x7f3a2b") == group_key("OSError: at 0xdeadbeef") == "OSError: at <hex>"
    assert group_key("ValueError: bad value") != group_key("TypeError: bad value")
    assert group_key("ValueError") == "ValueError"


def test_a_retry_storm_is_counted_per_name_and_minute():
    store = Store()
    for n in range(5):
        store.add(TaskRecord("r", PREFIX, "RETRY", "flaky", mtime=600.0 + n))
    store.add(TaskRecord("s", PREFIX, "RETRY", "other", mtime=30.0))
    assert store.insights.retry_counts(since=600.0) == {"flaky": 5}
    assert store.insights.last_retry("flaky") == "r"


def test_suspects_stuck_past_p95_unseen_and_retrying():
    from taskview.insights.suspects import suspects

    store = Store()
    for n in range(20):  # mail.send: seen running, done in 2 s
        store.add(TaskRecord(f"m{n}", PREFIX, "STARTED", "mail.send", mtime=1000.0 + n))
        store.add(TaskRecord(f"m{n}", PREFIX, "SUCCESS", "mail.send", mtime=1002.0 + n, date_done=1002.0 + n))
    store.add(TaskRecord("slow", PREFIX, "STARTED", "mail.send", mtime=2000.0))
    store.add(TaskRecord("fine", PREFIX, "STARTED", "mail.send", mtime=2100.0))
    store.add_pending("sent", "mail.send", 2050.0)
    for n in range(5):
        store.add(TaskRecord("flaky", PREFIX, "RETRY", "sync.pull", mtime=2100.0 + n))
    found = suspects(store.insights, store.records, store.unfinished, now=2130.0)
    assert [(s.kind, s.task_id, s.name) for s in found] == [
        ("stuck", "slow", "mail.send"),  # 130 s against a p95 of 2 s (and more than a minute)
        ("retrying", "flaky", "sync.pull"),
        ("unseen", "sent", "mail.send"),
    ]
    assert found[0].p95 == 2.0 and found[1].amount == 5
    store.add(TaskRecord("sent", PREFIX, "STARTED", "mail.send", mtime=2131.0))  # its file came
    assert [s.kind for s in suspects(store.insights, store.records, store.unfinished, now=2132.0)] == [
        "stuck",
        "retrying",
    ]
