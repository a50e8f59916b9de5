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

from ..results.record import TaskRecord
from ..store import Store
from ..workflows import BODY, GROUP, MISSING, Node, WorkflowIndex, WorkflowSummary

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
        self._matched: set[str] | None = None  # with a filter: the tasks it keeps
        # With a filter: the nodes to show, the matches and, in the workflows of _ways_kept (those
        # opened), the nodes on the way to them: a closed workflow shows none of its nodes, and
        # walking up from every match of a big directory cost more than the rest of a build.
        self._keep: set[str] | None = None
        self._ways_kept: set[str] = set()
        self._summaries: dict[str, WorkflowSummary] = {}

    # --- building -------------------------------------------------------------------

    def root_of(self, node_id: str) -> str:
        return self.index.root_of(node_id)

    def build(self, source: Sequence[TaskRecord], filtered: bool) -> list[TaskRecord]:
        """The rows for ``source`` (the table model's rows, in order); ``filtered``: a filter chose them."""
        memo = self.index.known_roots()  # every node's root, but those of nodes that are their own
        ids: list[str] = list(map(_task_id, source))
        order = dict.fromkeys(map(memo.get, ids, ids))  # each workflow where its first task is
        self._matched = self._keep = set(ids) if filtered else None  # one set until a way is kept
        self._ways_kept = set()
        self._order = list(order)
        self._summaries = {}
        return self._assemble()

    def _assemble(self) -> list[TaskRecord]:
        """A row a workflow, made when drawn (TreeRows), and the rows of those opened, in place."""
        order, index = self._order, self.index
        found = list(map(self.store.records.get, order))  # a root's record: its file's, mostly
        records = cast("list[TaskRecord]", found)
        if None in found:
            for at in [at for at, record in enumerate(found) if record is None]:
                records[at] = index.record_of(index.node(order[at]))  # a group, a task with no file yet
        rows: list[TreeRow | None] = [None] * len(records)
        opened = self.expanded.intersection(order)
        if opened:
            self._keep_the_way(opened)
            # From the last, so that the places of those before stay where they were.
            for at in reversed([at for at, root in enumerate(order) if root in opened]):
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
