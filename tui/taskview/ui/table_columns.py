"""The task table's columns: which fit a width, how wide each is, and how a header or a name is cut.

Pure functions of widths and strings (no Textual), laid out for 80 columns first:
the name gets the room to tell ``send_order_email`` from ``build_daily_report``
before the status grows or the worker shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len


@dataclass(frozen=True)
class Column:
    key: str  # a sort key of the view
    label: str
    width: int  # the width it starts from (a flexible column's least)
    flexible: bool = False  # takes spare width, up to ``most``
    most: int = 0  # 0: no limit
    short: str = ""  # a label for when the long one and the sort arrow do not fit
    drop: int = 0  # when space is short, the highest goes first (0: never)


COLUMNS = (
    Column("id", "ID", 8),
    Column("status", "STATUS", 10, flexible=True, most=14),
    Column("name", "NAME", 16, flexible=True),
    Column("worker", "WORKER", 8, flexible=True, drop=3),
    Column("progress", "PROGRESS", 9, short="PROG", drop=1),
    Column("time", "TIME", 8),
    Column("runtime", "RUNTIME", 8, short="RUN", drop=2),
    Column("last_change", "CHANGED", 8, short="CHG"),
)
SORTABLE = tuple(c.key for c in COLUMNS)
NAME_COLUMN = SORTABLE.index("name")
STATUS_COLUMN = SORTABLE.index("status")

#: Spare width goes to the name first, up to this, then to the status, then shared.
NAME_FIRST = 30


def layout(width: int) -> list[tuple[int, int]]:
    """(column index, width) of the columns that fit ``width``, one space between each."""
    shown = list(range(len(COLUMNS)))
    while True:
        least = sum(COLUMNS[i].width for i in shown) + len(shown) - 1
        droppable = [i for i in shown if COLUMNS[i].drop]
        if least <= width or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: COLUMNS[i].drop))
    widths = {i: COLUMNS[i].width for i in shown}
    spare = max(0, width - sum(widths.values()) - len(shown) + 1)

    def grow(i: int, up_to: int) -> None:
        nonlocal spare
        if i in widths and spare > 0:
            more = max(0, min(spare, up_to - widths[i]))
            widths[i] += more
            spare -= more

    grow(NAME_COLUMN, NAME_FIRST)
    grow(STATUS_COLUMN, COLUMNS[STATUS_COLUMN].most)
    sharing = [i for i in shown if COLUMNS[i].flexible and not COLUMNS[i].most]
    if sharing:
        share, extra = divmod(spare, len(sharing))
        for n, i in enumerate(sharing):
            widths[i] += share + (1 if n < extra else 0)
    return [(i, widths[i]) for i in shown]


def header_label(column: Column, width: int, arrow: str | None) -> str:
    """The column's label, with the sort ``arrow`` when it is the sort column: never cut off."""
    if arrow is None:
        return column.label
    for label in (column.label, column.short or column.label):
        for candidate in (f"{label} {arrow}", f"{label}{arrow}"):
            if cell_len(candidate) <= width:
                return candidate
    return arrow


def short_name(name: str, width: int) -> str:
    """A dotted task name in ``width`` cells: whole, or its last parts after a '…'
    (the module path goes first: the function's name tells tasks apart)."""
    if cell_len(name) <= width:
        return name
    if width <= 1:
        return "…"[:width]
    parts = name.split(".")
    for start in range(1, len(parts)):
        tail = ".".join(parts[start:])
        if cell_len(tail) + 1 <= width:
            return "…" + tail
    return "…" + tail_cells(name, width - 1)  # even the last part is too long: its end


def tail_cells(text: str, width: int) -> str:
    """The last ``width`` cells of ``text``."""
    text = text[-width:] if width > 0 else ""  # never more characters than cells; wide ones trimmed below
    while cell_len(text) > width:
        text = text[1:]
    return text


def status_cell(status: str, stale: bool, width: int) -> str:
    """The status as a cell: a stale task says so in words when there is room, else with a '!'."""
    if not stale:
        return status
    spelled = f"{status} stale"
    return spelled if cell_len(spelled) <= width else "!" + status
