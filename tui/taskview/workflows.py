"""Workflows: which tasks belong together (chains, groups, chords, tasks started by tasks), without Textual.

Celery's files hold the links and nothing else: a task's ``parent_id`` and ``group_id``,
its ``children`` (the tasks it started, as ``Links.children``), a saved group's members
(``celery-taskset-meta-*``). The store feeds ``WorkflowIndex`` each record as it comes,
changes or goes (``add``, ``replace``, ``remove``); the index keeps only the way down that
the records do not hold themselves: for every task or group named as a parent or group,
the tasks naming it (one string where there is one, a list where more). The way up is in
the records. Trees are made when asked, so a child before its parent, a parent naming
children that have no file yet, a task listing itself (a retry) and cycles cost nothing
while files arrive, and every answer is as of now.

Nodes of a tree: a task with a file, a group (its taskset file, or only its members' group
ids), or a task with no file (named as a child or a parent: ``PENDING``, as Celery itself
answers for an id it knows nothing of). A chord's body names the header's group (Celery 5.6
and newer) and a parent that wrote no file (``celery.chord_unlock``): it shows under the group,
after its members.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import compress
from operator import ne
from typing import NamedTuple, cast

from .results.files import GROUP_PREFIX, TASK_PREFIX
from .results.record import READY_STATES, Links, TaskRecord, display_status

#: Node kinds.
TASK = "task"
GROUP = "group"
MISSING = "missing"  # named by another task, no file (yet): PENDING
#: A node's role under its parent.
BODY = "body"  # a chord's body, under its header's group

#: The deepest a tree is walked (a chain of this many links is cut there).
MAX_DEPTH = 1000


class Node(NamedTuple):
    node_id: str
    kind: str  # TASK, GROUP or MISSING
    role: str = ""  # BODY, or ""
    named: tuple[object, ...] = ()  # a group's members as its starter's children name them


class WorkflowIndex:
    """The way down from every task or group that others name: kept as records come and go."""

    def __init__(self, records: Mapping[str, TaskRecord]) -> None:
        self.records = records
        # id -> the tasks naming it as parent or group: a str for one (most), a list for more.
        self._down: dict[str, str | list[str]] = {}
        self._roots: dict[str, str] = {}  # node -> root, when _roots_known (but below _dirty)
        self._roots_known = False
        # Nodes whose way up may have changed since the roots were worked out (a parent after its
        # children, a group's member, a file gone): their roots and those of the nodes below them
        # are worked out again, not every root (under a stream of chords, twice a second).
        self._dirty: set[str] = set()
        # Nodes whose root changed since the last ``take_root_changes`` (a view moves only their
        # workflows); None: every root was worked out anew since, which ones changed is not known.
        self._root_changes: set[str] | None = None

    # --- fed by the store -------------------------------------------------------------

    def add(self, record: TaskRecord) -> None:
        head = record.prefix_or_links
        task_id = record.task_id
        if type(head) is Links and (head.parent_id is not None or head.group_id is not None or head.children):
            # Its own root, those below it (named before it) and its group's are worked out when next
            # asked for: a new task at a workflow's end (a chain's next link) is one walk up.
            self._link(task_id, head)
        elif task_id in self._down:
            self._mark(task_id)  # the file of a task named before: its children's way up goes on through it

    def add_many(self, records: Iterable[TaskRecord]) -> None:
        self.forget_roots()  # a scan's batch: worked out again all at once
        for record in records:
            head = record.prefix_or_links
            if type(head) is Links:
                self._link(record.task_id, head)

    def replace(self, old: TaskRecord, new: TaskRecord) -> None:
        before, after = old.prefix_or_links, new.prefix_or_links
        if before is after:
            return
        b = before if type(before) is Links else None
        a = after if type(after) is Links else None
        if (b and (b.parent_id, b.group_id)) == (a and (a.parent_id, a.group_id)):
            return  # the same way up (a chain's link that finished names its next: children are not indexed)
        if b is not None:
            self._unlink(old.task_id, b)
        if a is not None:
            self._link(new.task_id, a)

    def remove(self, record: TaskRecord) -> None:
        head = record.prefix_or_links
        if type(head) is Links:
            self._unlink(record.task_id, head)
        else:
            self._mark(record.task_id)  # a file gone: its children's way up may skip it now

    def forget_roots(self) -> None:
        """No root known: all are worked out again when next asked for."""
        self._roots_known = False
        self._roots = {}
        self._dirty.clear()
        self._root_changes = None

    def _link(self, task_id: str, links: Links) -> None:
        self._touch(task_id, links)
        down = self._down
        for up in (links.parent_id, links.group_id):
            if up is None:
                continue
            there = down.get(up)
            if there is None:
                down[up] = task_id
            elif isinstance(there, str):
                if there != task_id:
                    down[up] = [there, task_id]
            elif task_id not in there[-4:]:
                there.append(task_id)

    def _unlink(self, task_id: str, links: Links) -> None:
        self._touch(task_id, links)
        down = self._down
        for up in (links.parent_id, links.group_id):
            if up is None or (there := down.get(up)) is None:
                continue
            if isinstance(there, str):
                if there == task_id:
                    del down[up]
            else:
                while task_id in there:
                    there.remove(task_id)
                if len(there) == 1:
                    down[up] = there[0]
                elif not there:
                    del down[up]

    def _touch(self, task_id: str, links: Links) -> None:
        """``task_id``'s way up changes, and so may its group's (where the group's members came from)."""
        self._mark(task_id)
        if links.group_id is not None:
            self._mark(links.group_id)

    def _mark(self, node_id: str) -> None:
        if self._roots_known:  # else all are worked out when asked for
            self._dirty.add(node_id)
            if len(self._dirty) > self._most_to_work_out():
                self.forget_roots()  # a long while with the view closed: all at once when opened

    def _most_to_work_out(self) -> int:
        """Past this many nodes to work out again, all roots are (pointer jumping, in C)."""
        return max(1000, len(self.records) // 8)

    # --- the way up ------------------------------------------------------------------

    def naming(self, node_id: str) -> list[str]:
        """The tasks naming ``node_id`` as their parent or group."""
        there = self._down.get(node_id)
        if there is None:
            return []
        return [there] if type(there) is str else list(there)

    def has_members(self, node_id: str) -> bool:
        return node_id in self._down

    def parent_of(self, node_id: str) -> str | None:
        """One step up: the task that started it, else its group, else None (a root)."""
        records = self.records
        record = records.get(node_id)
        head = record.prefix_or_links if record is not None else None
        if type(head) is Links and not head.prefix.endswith(GROUP_PREFIX):
            parent, group = head.parent_id, head.group_id
            if parent is not None and (group is None or parent in records):
                return parent
            return group  # a chord's body (its parent is the unlock task, no file), a member of a group
        if record is not None and type(head) is not Links and not head.endswith(GROUP_PREFIX):  # type: ignore[union-attr]
            return None  # a task that names no parent nor group (most)
        return self._group_up(node_id)

    def _group_up(self, group_id: str) -> str | None:
        """A group's way up: where its first member came from (a task that started it, a chain's link)."""
        records = self.records
        there = self._down.get(group_id)
        for member in (there,) if isinstance(there, str) else there or ():
            found = records.get(member)
            if found is not None and found.group_id == group_id and found.parent_id in records:
                return found.parent_id
        return None

    def known_roots(self) -> dict[str, str]:
        """The root of every node that has one above it (node -> root; any other node is its own),
        worked out again after the links changed: those of the nodes at and below a change, or all
        when there are many of them."""
        if self._roots_known and self._dirty:
            below = self._below(self._dirty, limit=self._most_to_work_out())
            if below is None:
                self._roots_known = False
            else:
                memo = self._roots
                was = [memo.pop(node_id, node_id) for node_id in below]
                for node_id in below:
                    self.root_of(node_id, memo)
                get = memo.get
                if any(get(root, root) != root for root in map(get, below, below)):
                    # A walk up cut at MAX_DEPTH (two changes in a chain longer than that) stopped at a
                    # node that has a root itself: worked out all at once instead, one root a workflow.
                    self._roots_known = False
                elif (changes := self._root_changes) is not None:
                    changes.update(compress(below, map(ne, was, map(memo.get, below, below))))
                    if len(changes) > self._most_to_work_out():
                        self._root_changes = None
        if not self._roots_known:
            self._roots, self._roots_known = self._all_roots(), True
            self._root_changes = None
        self._dirty.clear()
        return self._roots

    def take_root_changes(self) -> set[str] | None:
        """The nodes whose root changed since the last take, the roots known as of now; None when every
        root was worked out anew since (or never taken): then any may have."""
        self.known_roots()
        changes, self._root_changes = self._root_changes, set()
        return changes

    def _below(self, nodes: Iterable[str], limit: int) -> list[str] | None:
        """``nodes`` and every node whose way up goes through one of them: the tasks naming a node, and
        the group of each (its way up is where its members came from); None past ``limit`` nodes.
        Each comes after the one it was found under: worked out in this order, a walk up from one
        stops at the next node (a chain longer than a walk goes, MAX_DEPTH, is worked out whole)."""
        found = dict.fromkeys(nodes)
        todo = list(found)
        records = self.records
        while todo:
            for named in self.naming(todo.pop()):
                record = records.get(named)
                group = record.group_id if record is not None else None
                for node_id in (named, group):
                    if node_id is not None and node_id not in found:
                        found[node_id] = None
                        todo.append(node_id)
            if len(found) > limit:
                return None
        return list(found)

    def _all_roots(self) -> dict[str, str]:
        """Every node's root at once: each node's next one up (``parent_of``, in comprehensions), then
        ``settle``."""
        records, group_prefix = self.records, GROUP_PREFIX
        ups = {
            task_id: (
                head.parent_id
                if head.parent_id is not None and (head.group_id is None or head.parent_id in records)
                else head.group_id
            )
            for task_id, record in records.items()
            if type(head := record.prefix_or_links) is Links
            and (head.parent_id is not None or head.group_id is not None)
            and not head.prefix.endswith(group_prefix)
        }
        roots = cast("dict[str, str]", ups)  # no value is None (the condition above)
        # A group's way up: where its members came from (a task that started it, a chain's link),
        # the first member's as ``parent_of`` finds it, so that both ways give a node one root.
        started = {
            head.group_id
            for record in records.values()
            if type(head := record.prefix_or_links) is Links
            and head.group_id is not None
            and head.parent_id is not None
            and head.parent_id in records
        }
        groups = {
            group: up
            for group in started
            if ((there := records.get(group)) is None or there.kind == "group")  # not a task's own id
            and (up := self._group_up(group)) is not None
        }
        return settle(roots, groups)

    def root_of(self, node_id: str, memo: dict[str, str] | None = None) -> str:
        """The first node of ``node_id``'s workflow (itself when it stands alone); a cycle ends where it
        closes. ``memo``: roots known (of this version of the links; by default ``known_roots``), added to."""
        if memo is None:
            memo = self.known_roots()
        known = memo.get(node_id)
        if known is not None:
            return known
        parent_of, records, group_prefix = self.parent_of, self.records, GROUP_PREFIX
        path = [node_id]
        seen: set[str] | None = None
        current = node_id
        while True:
            record = records.get(current)
            head = record.prefix_or_links if record is not None else None
            if type(head) is Links and not head.prefix.endswith(group_prefix):  # parent_of's common case, inline
                up = head.parent_id
                group = head.group_id
                if up is None or (group is not None and up not in records):
                    up = group
            else:
                up = parent_of(current)
            if up is None:
                break
            known = memo.get(up)
            if known is not None:
                current = known
                break
            if len(path) > 8:  # long, or a cycle: remember where it has been
                if seen is None:
                    seen = set(path)
                if up in seen or len(path) > MAX_DEPTH:
                    break
                seen.add(up)
            elif up in path:
                break
            path.append(up)
            current = up
        for step in path:
            if step != current:  # a node that is its own root is left out, as known_roots leaves it
                memo[step] = current
        return current

    def kind_of(self, node_id: str) -> str:
        record = self.records.get(node_id)
        if record is not None:
            return GROUP if record.kind == "group" else TASK
        for member in self.naming(node_id):
            found = self.records.get(member)
            if found is not None and found.group_id == node_id:
                return GROUP
        return MISSING

    def node(self, node_id: str) -> Node:
        return Node(node_id, self.kind_of(node_id))

    # --- the way down ----------------------------------------------------------------

    def children(self, node: Node) -> list[Node]:
        """The nodes right under ``node``, in the order Celery names them, then the others by id."""
        records = self.records
        node_id = node.node_id
        out: list[Node] = []
        seen = {node_id}

        def emit(child: Node) -> None:
            if child.node_id not in seen:
                seen.add(child.node_id)
                out.append(child)

        record = records.get(node_id)
        named: tuple[object, ...] = record.links.children if record is not None and record.links is not None else ()
        if node.kind == GROUP:
            named = named or node.named
        for child in named:
            if type(child) is str:
                emit(Node(child, TASK if child in records else MISSING))
            elif type(child) is tuple:
                emit(Node(child[0], GROUP, "", child[1]))
        others = sorted(self.naming(node_id))
        bodies: list[Node] = []
        if node.kind == GROUP:
            parents = Counter(records[m].parent_id for m in others if m in records)
            for member in others:
                found = records.get(member)
                if found is None or found.group_id != node_id:
                    continue  # it names this group as its parent: not a member
                parent = found.parent_id
                if parent is not None and parent not in records and parents[parent] == 1 and len(others) > 1:
                    bodies.append(Node(member, TASK, BODY))
                else:
                    emit(Node(member, TASK))
            for body in bodies:
                emit(body)
            return out
        for child_id in others:
            found = records.get(child_id)
            if found is None:
                continue
            group = found.group_id
            if found.parent_id == node_id and group is not None and group != node_id:
                emit(Node(group, GROUP))  # started a group: its members go under it
            elif found.parent_id == node_id:
                emit(Node(child_id, TASK))
        return out

    def walk(self, root: str) -> Iterator[tuple[Node, int]]:
        """Every node of ``root``'s tree, depth first, with its depth; each node once (cycles cut)."""
        start = self.node(root)
        seen = {root}
        stack: list[tuple[Node, int]] = [(start, 0)]
        while stack:
            node, depth = stack.pop()
            yield node, depth
            if depth >= MAX_DEPTH:
                continue
            below = [child for child in self.children(node) if child.node_id not in seen]
            seen.update(child.node_id for child in below)
            stack.extend((child, depth + 1) for child in reversed(below))

    def record_of(self, node: Node) -> TaskRecord:
        """The node's record: its file's, else one made for it (a group without a file, PENDING)."""
        record = self.records.get(node.node_id)
        if record is not None:
            return record
        if node.kind == GROUP:
            return TaskRecord(node.node_id, GROUP_PREFIX)
        return TaskRecord(node.node_id, TASK_PREFIX, status="PENDING")

    def unfinished(self, root: str) -> tuple[list[str], int]:
        """(the ids of the tasks of ``root``'s workflow not finished yet, those with no file yet too:
        a chain's links to come can be revoked before they start; how many tasks it has)."""
        found: list[str] = []
        total = 0
        for node, _ in self.walk(root):
            if node.kind == GROUP:
                continue
            total += 1
            record = self.records.get(node.node_id)
            if record is None or record.status not in READY_STATES:
                found.append(node.node_id)
        return found, total

    def is_workflow_root(self, node_id: str) -> bool:
        """Whether ``node_id`` heads a workflow of more than itself."""
        if self.parent_of(node_id) is not None:
            return False
        record = self.records.get(node_id)
        links = record.links if record is not None else None
        return node_id in self._down or (links is not None and bool(links.children))

    def summary(self, root: str) -> WorkflowSummary:
        return summarize_workflow(self.record_of(node) for node, _ in self.walk(root))


def settle(ups: dict[str, str], groups: dict[str, str]) -> dict[str, str]:
    """Every node's root, from each node's next one up (``ups``: a task's parent, else its group) and
    each group's (``groups``: where its members came from, the group's own way up whether or not a task
    goes up through it); a node with no way up is its own root (left out, but where a cycle closes).

    Pointer jumping: at each pass a node not at its root yet takes its up's up, doubling the jump, a few
    passes in C over dicts rather than a walk in Python from each of 100k tasks. A cycle, which never
    settles, is walked (ending where it closes, as ``WorkflowIndex.root_of`` does). ``ups`` is changed."""
    for node_id in set(groups).difference(ups):
        ups[node_id] = groups[node_id]
    # The nodes others name (a chain's links but its last, the groups) first, then every node: its up's root.
    inner = {node_id: ups[node_id] for node_id in set(ups.values()).intersection(ups)}
    moving = {node_id: up for node_id, up in inner.items() if up in inner and up != node_id}
    for _ in range(12):  # 2**12 links deep
        if not moving:
            break
        inner.update({node_id: inner[up] for node_id, up in moving.items()})
        moving = {node_id: up for node_id in moving if (up := inner[node_id]) in inner and up != node_id}
    # A cycle settles on nodes naming themselves, or never settles: its nodes are walked, once for them all.
    unsettled = [node_id for node_id, up in inner.items() if up == node_id or up in inner]
    if unsettled:
        walked: dict[str, str] = {}
        for node_id in unsettled:
            inner[node_id] = _walk_up(ups, node_id, walked)
        inner = {node_id: inner.get(up, up) for node_id, up in inner.items()}  # those below a cycle
    return {node_id: inner.get(up, up) for node_id, up in ups.items()}


def _walk_up(ups: dict[str, str], node_id: str, memo: dict[str, str]) -> str:
    path, seen, current = [node_id], {node_id}, node_id
    while True:
        up = ups.get(current)
        if up is None or up in seen:
            break
        known = memo.get(up)
        if known is not None:
            current = known
            break
        path.append(up)
        seen.add(up)
        current = up
    for step in path:
        memo[step] = current
    return current


#: How bad a member's state is, for a workflow's state at a glance (the worst wins).
_BADNESS = {"FAILURE": 5, "unreadable": 4, "REVOKED": 3, "PENDING": 1, "SUCCESS": 0}
RUNNING = 2  # any other state: STARTED, RETRY, PROGRESS, custom ones


@dataclass
class WorkflowSummary:
    """What a workflow's root row and detail show: counts, span, slowest member, worst state."""

    tasks: int = 0
    done: int = 0  # finished: SUCCESS, FAILURE, REVOKED
    by_status: Counter[str] = field(default_factory=Counter)
    first_start: float | None = None
    last_finish: float | None = None
    slowest: TaskRecord | None = None
    state: str = "SUCCESS"  # the worst member's
    last_change: float | None = None  # its latest change (what a sort by CHANGED orders it by)

    @property
    def running(self) -> int:
        return sum(n for status, n in self.by_status.items() if _badness(status) == RUNNING)

    @property
    def span(self) -> float | None:
        if self.first_start is None or self.last_finish is None or self.done < self.tasks:
            return None
        return max(0.0, self.last_finish - self.first_start)

    def slowest_text(self) -> str | None:
        """``add 3.2 s``: the slowest member's name (its function's) and runtime, when one is known."""
        slowest = self.slowest
        if slowest is None or slowest.runtime is None:
            return None
        name = (slowest.name or slowest.task_id[:8]).rsplit(".", 1)[-1]
        return f"{name} {slowest.runtime:.1f} s"

    def text(self) -> str:
        """``7/10 done · 1 FAILURE · 2 running · 1 PENDING``"""
        parts = [f"{self.done}/{self.tasks} done"]
        for status in ("FAILURE", "REVOKED", "unreadable"):
            if self.by_status[status]:
                parts.append(f"{self.by_status[status]} {status}")
        if self.running:
            parts.append(f"{self.running} running")
        if self.by_status["PENDING"]:
            parts.append(f"{self.by_status['PENDING']} PENDING")
        return " · ".join(parts)


def _badness(status: str) -> int:
    return _BADNESS.get(status, RUNNING)


def summarize_workflow(records: Iterable[TaskRecord]) -> WorkflowSummary:
    summary = WorkflowSummary()
    worst = -1
    slowest = -1.0
    for record in records:
        if record.kind == "group":
            continue  # a group is its members
        status = display_status(record)
        summary.tasks += 1
        summary.by_status[status] += 1
        if record.status in READY_STATES and record.error is None:
            summary.done += 1
        bad = _badness(status)
        if bad > worst:
            worst, summary.state = bad, status
        start = record.started if record.started is not None else record.first_seen
        if status != "PENDING" and start is not None:
            if summary.first_start is None or start < summary.first_start:
                summary.first_start = start
        if record.date_done is not None and (summary.last_finish is None or record.date_done > summary.last_finish):
            summary.last_finish = record.date_done
        changed = record.last_change
        if changed is not None and (summary.last_change is None or changed > summary.last_change):
            summary.last_change = changed
        runtime = record.runtime
        if runtime is not None and runtime > slowest:
            slowest, summary.slowest = runtime, record
    return summary


__all__ = [
    "BODY",
    "GROUP",
    "MISSING",
    "TASK",
    "Node",
    "WorkflowIndex",
    "WorkflowSummary",
    "settle",
    "summarize_workflow",
]
