"""Stale STARTED tasks: a pool process that is gone, a worker that missed two pings in a row."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from taskview.control.stale import StaleWatch, is_stale, pid_alive


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_is_stale():

    here = f"w1@{socket.gethostname()}"
    elsewhere = "w1@some-other-host.invalid"
    gone = dead_pid()
    assert not pid_alive(gone) and pid_alive(os.getpid())
    replies = {here: {"ok": "pong"}, elsewhere: {"ok": "pong"}}

    assert is_stale(here, gone, replies)  # its pool process died, even if the worker answers
    assert is_stale(here, gone, None)  # no ping needed for that
    assert not is_stale(here, os.getpid(), replies)
    assert not is_stale(here, os.getpid(), None)
    assert not is_stale(elsewhere, gone, replies)  # another host's pid says nothing here
    assert is_stale(elsewhere, gone, {here: {}})  # its worker did not answer ping
    assert is_stale(elsewhere, None, {})
    assert not is_stale(elsewhere, None, None)  # ping unknown: not stale
    assert not is_stale(None, None, {})  # no worker recorded: cannot tell


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # not reaped yet: a zombie once it exits

    deadline = time.monotonic() + 5
    while pid_alive(proc.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, 0)  # still in the process table
    proc.wait()


def test_a_worker_is_gone_only_after_two_missed_pings_in_a_row():
    """A busy worker can miss one ping (a big result blocks its main thread): its tasks
    turn stale at the second miss in a row, and an answer in between starts it over."""
    watch = StaleWatch()
    busy, fine = "busy@host.invalid", "fine@host.invalid"
    started = [("t1", busy, None), ("t2", fine, None), ("t3", busy, None)]
    assert watch.check(started, {busy: {}, fine: {}}) == set()
    assert watch.check(started, {fine: {}}) == set()  # busy's first miss: the benefit of the doubt
    assert watch.check(started, {fine: {}}) == {"t1", "t3"}  # its second in a row
    assert watch.check(started, {fine: {}}) == {"t1", "t3"}  # and every one after
    assert watch.check(started, {busy: {}, fine: {}}) == set()  # it answers again
    assert watch.check(started, {fine: {}}) == set()  # a new first miss
    assert watch.check(started, {busy: {}, fine: {}}) == set()
    assert watch.check(started, {fine: {}}) == set()  # misses that are not in a row never count


def test_a_broker_that_cannot_be_asked_blames_no_worker():
    watch = StaleWatch()
    started = [("t1", "w@host.invalid", None)]
    assert watch.check(started, {}) == set()
    assert watch.check(started, None) == set()  # unknown: neither a miss nor an answer
    assert watch.check(started, {}) == {"t1"}  # the miss before the unknown still counts


def test_a_dead_pool_process_is_stale_at_once_whatever_the_ping_says():
    watch = StaleWatch()
    here = f"w1@{socket.gethostname()}"
    started = [("t1", here, dead_pid()), ("t2", here, os.getpid())]
    assert watch.check(started, {here: {}}) == {"t1"}
    assert watch.check(started, None) == {"t1"}
