"""The task table as workflows: one row a workflow, opened into its tree (no Textual).

Made from the table model's rows (sorted, filtered): a workflow comes where its first task
in that order comes, so a sort orders workflows by their best member, and a filter keeps
the workflows of the tasks it keeps; opened, a workflow shows those tasks and their
ancestors (a group or a parent on the way). Roots are worked out all at once after a scan
(a toggle at 100k tasks walks each task's way up once), then again only where links changed
(``WorkflowIndex.known_roots``). A closed workflow's row and its summary are made when drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter, indexOf
from typing import cast, overload

from ..query import Predicate
from ..results.record import TaskRecord
from ..store import Store
from ..workflows import BODY, GROUP, MISSING, Node, WorkflowIndex, WorkflowSummary
from .sorting import comes_before

_task_id = attrgetter("task_id")


@dataclass(slots=True)
class TreeRow:
    record: TaskRecord  # the node's file's record, or one made for it (a group, PENDING)
    depth: int
    guide: str  # "│  ├─ ": the tree's lines before the node
    expandable: bool
    expanded: bool
    root: str  # the workflow's first node
    kind: str  # TASK, GROUP, MISSING
    role: str  # BODY or ""

    @property
    def label(self) -> str:
        """What the name column shows after the guide and the marker."""
        record = self.record
        if self.kind == GROUP:
            return "group"
        return record.name or ("(no file yet)" if self.kind == MISSING else "")

    @property
    def marker(self) -> str:
        """What goes between the guide and the label: open or closed, and a chord body's role."""
        role = "chord body: " if self.role == BODY else ""
        if not self.expandable:
            return role
        return ("▾ " if self.expanded else "▸ ") + role


class TreeRows(Sequence[TreeRow]):
    """A build's rows. A closed workflow's row is made when first asked for: at 30 tasks a second
    the rows are built again twice a second, and of thousands of workflows a screenful is drawn."""

    __slots__ = ("_rows", "_make")

    def __init__(self, rows: list[TreeRow | None], make: Callable[[int], TreeRow]) -> None:
        self._rows = rows  # None: a closed workflow's row, not made yet
        self._make = make  # the row at a place, made

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, at: int) -> TreeRow: ...
    @overload
    def __getitem__(self, at: slice) -> list[TreeRow]: ...
    def __getitem__(self, at: int | slice) -> TreeRow | list[TreeRow]:
        if isinstance(at, slice):
            return [self[place] for place in range(*at.indices(len(self._rows)))]
        row = self._rows[at]
        if row is None:
            row = self._rows[at] = self._make(at % len(self._rows))
        return row

    def __iter__(self) -> Iterator[TreeRow]:
        return (self[at] for at in range(len(self._rows)))

    def replace(self, start: int, end: int, rows: list[TreeRow]) -> None:
        """Rows [start, end) are these now."""
        self._rows[start:end] = rows


class WorkflowTree:
    """Rows of workflows over a store, opened and closed by node id."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index: WorkflowIndex = store.workflows
        #: Workflows opened (root ids), and nodes inside them closed again.
        self.expanded: set[str] = set()
        self.folded: set[str] = set()
        self.rows = TreeRows([], self._closed_row)
        self.records: list[TaskRecord] = []  # the rows' records, for the table
        self._order: list[str] = []  # the roots, in the order of the last build
        self._root_records: list[TaskRecord] = []  # each root's record, in that order (the closed rows')
        self._matched: set[str] | None = None  # with a filter: the tasks it keeps
        # With a filter: the nodes to show, the matches and, in the workflows of _ways_kept (those
        # opened), the nodes on the way to them: a closed workflow shows none of its nodes, and
        # walking up from every match of a big directory cost more than the rest of a build.
        self._keep: set[str] | None = None
        self._ways_kept: set[str] = set()
        self._summaries: dict[str, WorkflowSummary] = {}
        # What the last build was made for ((sort key, reverse), filter), and each workflow's first row
        # then, by root and by task: a build for the same moves only the workflows of tasks that changed.
        self._made_for: tuple[tuple[str, bool], Predicate | None] | None = None
        self._first: dict[str, TaskRecord] = {}
        self._first_of: dict[str, str] = {}
        self._before: Callable[[TaskRecord, TaskRecord], bool] | None = None  # that sort's order of two rows

    # --- building -------------------------------------------------------------------

    def root_of(self, node_id: str) -> str:
        return self.index.root_of(node_id)

    def build(
        self,
        source: Sequence[TaskRecord],
        filtered: bool,
        *,
        changed: set[str] | None = None,
        sort: tuple[str, bool] | None = None,
        predicate: Predicate | None = None,
    ) -> list[TaskRecord]:
        """The rows for ``source`` (the table model's rows, in order); ``filtered``: a filter chose them.

        ``changed``: the tasks whose rows changed since the last build (``TableModel.take_row_changes``),
        the rest as they were, ``source`` sorted by ``sort`` (key, reverse) and filtered by ``predicate``
        as it was then: only the workflows of those tasks are moved, where that can be told from them."""
        memo = self.index.known_roots()  # every node's root, but those of nodes that are their own
        moved = self.index.take_root_changes()
        self._summaries = {}
        if (
            changed is not None
            and moved is not None
            and sort is not None
            and (sort, predicate) == self._made_for
            and filtered == (predicate is not None)
            and self._move(changed, moved, memo, predicate)
        ):
            self._keep = self._matched
            self._ways_kept = set()
            return self._assemble()
        ids: list[str] = list(map(_task_id, source))
        roots = list(map(memo.get, ids, ids))
        self._order = order = list(dict.fromkeys(roots))  # each workflow where its first task is
        found = list(map(self.store.records.get, order))  # a root's record: its file's, mostly
        if None in found:
            found = [
                self._root_record(root) if record is None else record for root, record in zip(order, found, strict=True)
            ]
        self._root_records = cast("list[TaskRecord]", found)
        self._matched = self._keep = set(ids) if filtered else None  # one set until a way is kept
        self._ways_kept = set()
        self._first, self._first_of, self._made_for, self._before = {}, {}, None, None
        if sort is not None and filtered == (predicate is not None):
            self._made_for, self._before = (sort, predicate), comes_before(*sort)
            # Each workflow's first task: the last one met walking from the end.
            self._first = dict(zip(reversed(roots), reversed(source), strict=True))
            self._first_of = dict(zip(map(_task_id, self._first.values()), self._first, strict=True))
        return self._assemble()

    def _move(
        self,
        touched: set[str],
        moved: set[str],
        memo: dict[str, str],
        predicate: Predicate | None,
    ) -> bool:
        """Move the workflows of ``touched`` (tasks whose rows changed) and ``moved`` (nodes whose root
        changed) to where their first tasks are now; False, nothing changed, where that cannot be told
        without a walk of every row (a workflow's first task went or sorts later now, and none of its
        other tasks changed to come before it).

        A workflow's tasks that did not change sort as they did, after its first one: its first task
        is still that one, or one of those that changed (or it is gone, its tasks all under another)."""
        first, first_of, records, matched = self._first, self._first_of, self.store.records, self._matched
        before = self._before
        assert before is not None
        changed = touched | moved

        def is_row(task_id: str, record: TaskRecord) -> bool:
            if matched is None:
                return True  # every task in the store is a row
            assert predicate is not None
            return predicate(record) if task_id in touched else task_id in matched

        best: dict[str, TaskRecord] = {}  # the first of each workflow's changed tasks that are rows
        for task_id in changed:
            record = records.get(task_id)
            if record is None or not is_row(task_id, record):
                continue
            root = memo.get(task_id, task_id)
            there = best.get(root)
            if there is None or before(record, there):
                best[root] = record
        now: dict[str, TaskRecord | None] = {}  # the workflows whose first task changed: it now (None: gone)
        for task_id in changed:
            headed = first_of.get(task_id)
            if headed is None or headed in now:
                continue
            was, found = first[headed], best.get(headed)
            if memo.get(headed, headed) != headed:  # under another root now, and so is every task under it
                if found is not None:
                    return False
                now[headed] = None
            elif found is not None and not before(was, found):  # where its first task was, or before
                if found is not was:
                    now[headed] = found
            else:
                return False  # its first task went or sorts later: which comes first now takes a walk
        for root, record in best.items():
            if root not in now and ((there := first.get(root)) is None or before(record, there)):
                now[root] = record
        order, root_records = self._order, self._root_records
        for root in now:
            gone = first.get(root)
            if gone is not None:
                at = self._where(root)
                del order[at], root_records[at]
                del first[root], first_of[gone.task_id]
        for root, record in now.items():
            if record is not None:
                at = self._place(record)
                order.insert(at, root)
                root_records.insert(at, self._root_record(root))
                first[root] = record
                first_of[record.task_id] = root
        # A root's own record changed (its file, or what its members say it is: a group): its closed row's.
        for root in {memo.get(node_id, node_id) for node_id in changed}:
            if root in first and root not in now:
                root_records[self._where(root)] = self._root_record(root)
        if matched is not None:
            assert predicate is not None
            for task_id in touched:
                record = records.get(task_id)
                if record is not None and predicate(record):
                    matched.add(task_id)
                else:
                    matched.discard(task_id)
        return True

    def _place(self, record: TaskRecord) -> int:
        """Where a workflow whose first task is ``record`` goes in the order (a binary search)."""
        order, first, before = self._order, self._first, self._before
        assert before is not None
        lo, hi = 0, len(order)
        while lo < hi:
            mid = (lo + hi) // 2
            if before(first[order[mid]], record):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _where(self, root: str) -> int:
        """The place of ``root`` in the order: where its first task sorts, when the order was made
        with the first tasks known (``_first``)."""
        order, first = self._order, self._first
        if root in first:
            at = self._place(first[root])
            if at < len(order) and order[at] == root:
                return at
        return order.index(root)

    def _root_record(self, root: str) -> TaskRecord:
        """The record of a closed workflow's row: its root's file's, or one made for it (a group, a task
        with no file yet)."""
        record = self.store.records.get(root)
        return record if record is not None else self.index.record_of(self.index.node(root))

    def _assemble(self) -> list[TaskRecord]:
        """A row a workflow, made when drawn (TreeRows), and the rows of those opened, in place.
        With none opened, the rows' records are the roots' own list (no pass over every workflow)."""
        order, index, records = self._order, self.index, self._root_records
        rows: list[TreeRow | None] = [None] * len(records)
        first = self._first
        opened = {root for root in self.expanded if root in first} if first else self.expanded.intersection(order)
        if opened:
            records = list(records)
            self._keep_the_way(opened)
            # From the last, so that the places of those before stay where they were.
            for at in sorted(map(self._where, opened), reverse=True):
                root = order[at]
                made = [self._root_row(root)]
                if made[0].expanded:
                    self._subtree(index.node(root), root, "", 1, made, {root})
                rows[at : at + 1] = made
                records[at : at + 1] = [row.record for row in made]
        self.rows = TreeRows(rows, self._closed_row)
        self.records = records
        return records

    def _keep_the_way(self, roots: set[str]) -> None:
        """With a filter, every node on the way down to a match in these workflows' trees (as they
        are drawn: a child named by its parent too, whatever its own way up says) stays in view."""
        keep, matched = self._keep, self._matched
        if keep is None or matched is None or roots <= self._ways_kept:
            return
        if keep is matched:
            self._keep = keep = set(matched)
        for root in roots - self._ways_kept:
            self._ways_kept.add(root)
            way: list[str] = []  # the nodes from the root down to the one walked
            for node, depth in self.index.walk(root):
                del way[depth:]
                way.append(node.node_id)
                if node.node_id in matched:
                    keep.update(way)

    def _root_row(self, root: str) -> TreeRow:
        index = self.index
        node = index.node(root)
        expandable = self._has_children(node)
        expanded = expandable and root in self.expanded
        return TreeRow(index.record_of(node), 0, "", expandable, expanded, root, node.kind, "")

    def _closed_row(self, at: int) -> TreeRow:
        """The row of the closed workflow at ``at`` (its record is its root's)."""
        return self._root_row(self.records[at].task_id)

    def _has_children(self, node: Node) -> bool:
        record = self.store.records.get(node.node_id)
        links = record.links if record is not None else None
        return bool(links is not None and links.children) or self.index.has_members(node.node_id) or bool(node.named)

    def _children(self, node: Node) -> list[Node]:
        children = self.index.children(node)
        keep = self._keep
        if keep is None:
            return children
        return [c for c in children if c.node_id in keep or c.kind == GROUP]

    def _subtree(self, node: Node, root: str, prefix: str, depth: int, rows: list[TreeRow], seen: set[str]) -> int:
        """Rows of ``node``'s children (those a filter keeps), under ``prefix``; how many."""
        children = [c for c in self._children(node) if c.node_id not in seen]
        seen.update(c.node_id for c in children)
        made = 0
        for at, child in enumerate(children):
            last = at == len(children) - 1
            expandable = depth < 1000 and self._has_children(child)
            expanded = expandable and child.node_id not in self.folded
            row = TreeRow(
                self.index.record_of(child),
                depth,
                prefix + ("└─ " if last else "├─ "),
                expandable,
                expanded,
                root,
                child.kind,
                child.role,
            )
            mark = len(rows)
            rows.append(row)
            below = 0
            if expandable:
                inner: list[TreeRow] = []
                below = self._subtree(child, root, prefix + ("   " if last else "│  "), depth + 1, inner, seen)
                if expanded:
                    rows.extend(inner)
            if child.kind == GROUP and self._keep is not None and not below:
                del rows[mark:]  # a group none of whose members a filter keeps
                continue
            made += 1
        return made

    # --- opening and closing ----------------------------------------------------------

    def position(self, node_id: str) -> int | None:
        """The row of ``node_id`` (a search in C: asked for the selected row, near the top); of two, the
        one in its own workflow (a task with no file can show under the task naming it too)."""
        records, rows = self.records, self.rows
        found: int | None = None
        start = 0
        while True:
            try:
                at = start + indexOf(map(_task_id, records[start:] if start else records), node_id)
            except ValueError:
                return found
            head = at
            while rows[head].depth:
                head -= 1
            if records[head].task_id == self.root_of(node_id):
                return at
            found = at if found is None else found
            start = at + 1

    def expand(self, at: int) -> bool:
        """Open the row at ``at``; True when the rows changed."""
        row = self.rows[at]
        if not row.expandable or row.expanded:
            return False
        node_id = row.record.task_id
        if row.depth == 0:
            self.expanded.add(node_id)
        else:
            self.folded.discard(node_id)
        self._reopen(at)
        return True

    def collapse(self, at: int) -> int | None:
        """Close the row at ``at`` (or, on a row that is not open, go to its parent's row): the row to
        select after, None when nothing changed."""
        row = self.rows[at]
        if row.expandable and row.expanded:
            if row.depth == 0:
                self.expanded.discard(row.record.task_id)
            else:
                self.folded.add(row.record.task_id)
            self._reopen(at)
            return at
        for up in range(at - 1, -1, -1):
            if self.rows[up].depth < row.depth:
                return up
        return None

    def _reopen(self, at: int) -> None:
        """The rows of the workflow holding row ``at`` made again, in place (the others stay as they are)."""
        rows = self.rows
        start = at
        while rows[start].depth:
            start -= 1
        end = start + 1
        while end < len(rows) and rows[end].depth:
            end += 1
        root = rows[start].root
        node = self.index.node(root)
        head = rows[start]
        head.expanded = head.expandable and root in self.expanded
        made = [head]
        if head.expanded:
            self._keep_the_way({root})
            self._subtree(node, root, "", 1, made, {root})
        rows.replace(start, end, made)
        if self.records is self._root_records:
            self.records = list(self.records)  # the roots' own list: changed only with the order
        self.records[start:end] = [row.record for row in made]

    def reveal(self, task_id: str) -> bool:
        """Open the way to ``task_id`` (its workflow, and each node above it); False when it is not in the rows'
        workflows. The rows are made again."""
        root = self.root_of(task_id)
        if root not in self._order:
            return False
        self.expanded.add(root)
        current = task_id
        for _ in range(1000):
            up = self.index.parent_of(current)
            if up is None:
                break
            self.folded.discard(up)
            # A member of a group under its starter: the group is on the way too.
            record = self.store.records.get(current)
            if record is not None and record.group_id is not None:
                self.folded.discard(record.group_id)
            current = up
        self._assemble()
        return True

    # --- what a root row says ------------------------------------------------------------

    def summary(self, root: str) -> WorkflowSummary:
        found = self._summaries.get(root)
        if found is None:
            found = self._summaries[root] = self.index.summary(root)
        return found

    def forget_summaries(self) -> None:
        """Records changed in place (statuses): summaries are made again when drawn."""
        self._summaries = {}


__all__ = ["TreeRow", "WorkflowTree"]
