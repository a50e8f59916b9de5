"""Stale tasks: unfinished, left behind by a worker that is gone.

A worker killed with SIGKILL leaves its task STARTED forever (FORMAT.md), or in
whatever state it last wrote: PROGRESS, RETRY, any custom state. Two signs tell:
the pool process of a STARTED task no longer exists on this host, or the
task's worker no longer answers ping (two missed pings in a row: a busy worker
can miss one). The store lists the candidates (``Store.stale_candidates``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from ..store import StaleCandidate

_HOSTNAME = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this host (whoever owns it; zombies are dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's: alive
    except (OverflowError, ValueError):
        return False
    # a zombie (dead, not yet reaped by its worker) is not alive
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return True  # no /proc (not Linux), or gone just now: os.kill said it existed


def is_local(worker_hostname: str | None) -> bool:
    """Whether a Celery node name ("name@host") runs on this host."""
    return worker_hostname is not None and worker_hostname.rpartition("@")[2] == _HOSTNAME


def is_stale(worker_hostname: str | None, pid: int | None, ping_replies: Mapping[str, Any] | None) -> bool:
    """Is an unfinished task left behind by a dead worker?

    Stale when its worker runs on this host and its pool process ``pid`` (known
    while it is STARTED) no longer exists, or when ``ping_replies`` (from
    ``Controller.ping``) does not list its worker. ``ping_replies=None`` means
    "not known" (no broker, or the ping failed): only the pid test applies then.
    """
    if pid and is_local(worker_hostname) and isinstance(pid, int) and not pid_alive(pid):
        return True
    if ping_replies is not None and worker_hostname:
        return worker_hostname not in ping_replies
    return False


#: An unfinished task as the check needs it: (task id, worker node name, pool process id or None).
Started = StaleCandidate


class StaleWatch:
    """Which unfinished tasks are stale, judged every few seconds from a ping's replies.

    A busy worker can miss one ping (its main thread blocked by a big result):
    only a worker that missed two pings in a row is gone. Keeps which workers
    missed the last one; call ``check`` from one thread at a time.
    """

    def __init__(self) -> None:
        self._missed: frozenset[str] = frozenset()
        # The last candidates, grouped by (worker, pool process): a directory's
        # unfinished tasks are many, their workers and processes few.
        self._candidates: list[StaleCandidate] | None = None
        self._groups: dict[tuple[str | None, int | None], list[str]] = {}
        # The last judgement of these groups (None: none yet): the stale ones, their tasks.
        self._judged: list[tuple[str | None, int | None]] | None = None
        self._stale: set[str] = set()

    def check(self, started: list[StaleCandidate], replies: Mapping[str, Any] | None) -> set[str]:
        """The ids among ``started`` (``Store.stale_candidates()``) whose worker is gone. ``replies``: the ping's
        ``{worker: reply}``, or None when the broker could not be asked (then only
        the pid test applies: a broker that is down blames no worker).

        Each (worker, pool process) is judged once, whatever number of tasks it holds;
        the same list passed again (nothing changed in the store) is not walked again,
        and the same judgement gives the same set back (do not change it)."""
        if started is not self._candidates:
            groups: dict[tuple[str | None, int | None], list[str]] = {}
            for task_id, worker, pid in started:
                groups.setdefault((worker, pid), []).append(task_id)
            self._candidates, self._groups, self._judged = started, groups, None
        groups = self._groups
        if replies is not None:
            missed = frozenset(w for w, _ in groups if w and w not in replies)
            first_miss = missed - self._missed
            self._missed = missed
            replies = {**replies, **dict.fromkeys(first_miss, {})}  # the benefit of the doubt, once
        stale_groups = [key for key in groups if is_stale(key[0], key[1], replies)]
        if stale_groups != self._judged:
            self._judged = stale_groups
            self._stale = {task_id for key in stale_groups for task_id in groups[key]}
        return self._stale
