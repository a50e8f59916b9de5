"""The pace of the table's redraws under live changes: a trickle twice a second, a flood (more than
~133 changes a second) every 0.15 s, a change after a quiet moment at once. Driven by a hand-moved clock."""

from __future__ import annotations

from taskview.view.refresh_pace import RefreshPace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_change_and_one_after_a_quiet_moment_are_due_at_once():
    clock = Clock()
    pace = RefreshPace(clock)
    pace.changed(1)
    assert pace.due()
    pace.shown()
    clock.now += 0.5  # quiet for half a second
    pace.changed(1)
    assert pace.due()


def test_a_trickle_waits_half_a_second_between_redraws():
    clock = Clock()
    pace = RefreshPace(clock)
    pace.shown()
    for n in range(1, 15):  # 14 changes in 0.49 s: no flood
        clock.now = 1000.0 + n * 0.035
        pace.changed(1)
        assert not pace.due()
    clock.now = 1000.5
    assert pace.due()  # 0.5 s since the last redraw


def test_a_flood_is_shown_every_0_15_s_and_counts_from_the_last_redraw():
    clock = Clock()
    pace = RefreshPace(clock)
    pace.shown()
    pace.changed(19)
    clock.now = 1000.150390625  # (a binary fraction: 0.15 s and a little more, exactly)
    assert not pace.due()  # 19 waiting: a trickle's pace
    pace.changed(1)
    assert pace.due()  # 20 waiting after 0.15 s
    clock.now = 1000.140625
    assert not pace.due() and pace.due(early=0.01)  # a timer firing 10 ms early still finds it due
    pace.shown()
    pace.changed(100)
    assert not pace.due()  # the count starts again at the redraw, and so does the time
    clock.now = 1000.296875  # 0.15625 s later
    assert pace.due()


def test_a_steady_stream_below_a_flood_is_a_trickle_however_many_changes_wait():
    """20 changes in 0.15 s is a flood (~133 a second); 70 a second is not, even once 20 or more
    have waited: it is redrawn twice a second, not every 0.29 s."""
    clock = Clock()
    pace = RefreshPace(clock)
    pace.shown()
    for n in range(1, 35):  # 70 a second
        clock.now = 1000.0 + n / 70
        pace.changed(1)
        assert not pace.due()
    clock.now = 1000.25
    pace.changed(33)  # 67 waiting after 0.25 s: 268 a second, a flood
    assert pace.due()
    clock.now = 1000.5
    pace.shown()
    clock.now = 1000.8
    pace.changed(39)
    assert not pace.due()  # 39 in 0.3 s (130 a second): not yet
    pace.changed(1)
    assert pace.due()


def test_a_redraw_that_took_long_waits_four_times_as_long_before_the_next():
    """The workflows view's rows built again over a big store (a quarter of a second at 100k
    tasks): the next redraw, flood or trickle, waits until at most a fifth of the time went to them."""
    clock = Clock()
    pace = RefreshPace(clock)
    pace.shown(cost=0.3)
    pace.changed(10_000)  # a flood
    clock.now = 1001.19
    assert not pace.due()
    clock.now = 1001.2
    assert pace.due()
    pace.shown(cost=0.001)  # a cheap one: the usual pace again
    pace.changed(1)
    clock.now = 1001.5
    assert not pace.due()
    clock.now = 1001.7
    assert pace.due()


def test_quiet_for_is_the_time_since_the_last_redraw():
    clock = Clock()
    pace = RefreshPace(clock)
    assert pace.quiet_for() > 1e9  # never redrawn
    pace.shown()
    clock.now += 2.5
    assert pace.quiet_for() == 2.5
