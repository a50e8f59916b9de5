"""Stale STARTED tasks: a pool process that is gone, a worker that missed two pings in a row."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from taskview.control.stale import StaleWatch, is_local, is_stale, pid_alive


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


def test_a_process_of_another_user_is_alive():
    if os.geteuid() != 0:
        assert pid_alive(1)  # init: another user's (or ours), alive either way
        return
    parent = os.getpid()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code
        try:
            os.setuid(65534)  # nobody: os.kill(parent, 0) is refused, the parent is alive
            os._exit(0 if pid_alive(parent) else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_pid_no_process_can_have_is_not_alive():
    assert not pid_alive(2**40)


def test_a_process_whose_name_holds_a_parenthesis_is_read_from_the_last_one(tmp_path):
    # /proc/PID/stat is "PID (comm) STATE ...": a command named "a) Z b" must not read as a zombie.
    import shutil

    odd = tmp_path / "a) Z b"
    odd.symlink_to(shutil.which("sleep"))
    proc = subprocess.Popen([str(odd), "60"])
    try:
        assert b") Z " in Path(f"/proc/{proc.pid}/stat").read_bytes()
        assert pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_without_proc_a_process_os_kill_finds_is_alive(monkeypatch):
    import taskview.control.stale as stale

    def no_proc(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(stale, "open", no_proc, raising=False)  # not Linux: no /proc
    assert pid_alive(os.getpid())


def test_the_host_of_a_node_name_is_after_its_last_at():
    host = socket.gethostname()
    assert is_local(f"celery@{host}") and is_local(f"w@x@{host}")
    assert not is_local(f"celery@{host}.invalid") and not is_local(None) and not is_local(host + "@x")


def test_asking_whether_a_pool_process_is_alive_sends_it_no_signal():
    """The stale check looks at workers' pool processes: asking must never disturb one."""
    # Every signal a process may be sent, at its default action (whatever this one ignores).
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "for s in signal.valid_signals():\n"
            "    try: signal.signal(s, signal.SIG_DFL)\n"
            "    except (OSError, ValueError): pass\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        assert pid_alive(child.pid)
        time.sleep(0.2)
        assert child.poll() is None  # still running, as it was
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_each_worker_and_pool_process_is_judged_once_however_many_tasks_it_holds(monkeypatch):
    """A big directory's unfinished tasks come from a few workers and processes: a check
    asks about each of those once, and a list it saw before is not walked again."""
    from taskview.control import stale as stale_module

    here = f"w1@{socket.gethostname()}"
    gone, alive = dead_pid(), os.getpid()
    asked: list[int] = []

    def counting_pid_alive(pid: int) -> bool:
        asked.append(pid)
        return pid_alive(pid)

    monkeypatch.setattr(stale_module, "pid_alive", counting_pid_alive)
    started = [(f"d{n}", here, gone) for n in range(500)] + [(f"a{n}", here, alive) for n in range(500)]
    started += [(f"e{n}", "w2@host.invalid", None) for n in range(500)]
    watch = StaleWatch()
    assert watch.check(started, {here: {}}) == {f"d{n}" for n in range(500)}
    assert sorted(asked) == sorted([gone, alive])
    assert watch.check(started, {here: {}}) == {f"d{n}" for n in range(500)} | {f"e{n}" for n in range(500)}
    # A new list (the store changed) is grouped again: the tasks that finished are gone from it.
    fewer = started[:10] + started[500:510] + started[1000:1010]
    judged = watch.check(fewer, {here: {}, "w2@host.invalid": {}})
    assert judged == {f"d{n}" for n in range(10)}
    assert watch.check(fewer, {here: {}, "w2@host.invalid": {}}) is judged  # the same judgement: no new set
    assert watch.check(fewer, {here: {}}) is judged  # w2's first miss: still the same
    assert watch.check(fewer, {here: {}}) == judged | {f"e{n}" for n in range(10)}  # its second
