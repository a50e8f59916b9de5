"""The always-visible line: counts per status, scan progress, directory and watch mode."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widgets import Static

from ..text import one_line
from .colors import status_style

# Built-in states first, in the order a task lives them; custom states after, by name.
_ORDER = ("STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED", "PENDING", "RECEIVED")


class SummaryBar(Static):
    def show(
        self,
        counts: Counter[str],
        *,
        total: int,
        filtered: bool,
        scan: int | None,
        directory: str,
        mode: str,
        notice: str | None = None,
        follow: bool = False,
        problem: str | None = None,
    ) -> None:
        """``problem``: what is wrong with the directory right now, shown for as long as it lasts."""
        shown = sum(counts.values())
        chunks = [
            Text.assemble(
                (f"{shown:,}" if not filtered else f"{shown:,}/{total:,}", "bold"),
                ((" task" if shown == 1 else " tasks") if not filtered else " match", "dim"),
            )
        ]
        if scan is not None:
            chunks.append(Text(f"scanning… {scan:,} files read", style="bold yellow"))
        if follow:
            chunks.append(Text("follow", style="bold cyan"))
        if problem:
            chunks.append(Text(f"{one_line(problem)}: rows as last read, waiting for it", style="bold red"))
        if notice and not (problem and problem in notice):  # the notice that told of it says no more
            chunks.append(Text(one_line(notice), style="bold yellow"))
        for status in sorted(counts, key=_status_order):
            chunks.append(Text.assemble((one_line(status), status_style(status)), f" {counts[status]:,}"))
        # Where and how, always visible: on the right when everything fits on
        # one line, else on a line of its own under the counts.
        width = max(20, self.size.width - 2)
        # The directory matters more than the watch mode: the mode gives way first.
        place, how = one_line(directory), one_line(mode)
        if len(place) + len(how) + 3 > width:
            how = _cut(how, max(12, width - len(place) - 3))
        if len(place) + len(how) + 3 > width:
            place = "…" + place[-max(8, width - len(how) - 4) :]
        chunks.append(Text.assemble((place, "dim"), (f" [{how}]", "dim")))
        self.update(Text("\n").join(_pack(chunks, width)))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pack(chunks: list[Text], width: int) -> list[Text]:
    """Lay chunks out in lines two spaces apart, never splitting one (a status and its count)."""
    lines: list[Text] = []
    line = Text()
    for chunk in chunks:
        if line.cell_len and line.cell_len + 2 + chunk.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append("  ")
        line.append_text(chunk)
    lines.append(line)
    return lines


def _status_order(status: str) -> tuple[int, str]:
    try:
        return (_ORDER.index(status), status)
    except ValueError:
        return (len(_ORDER) + (status in ("GROUP", "unreadable")), status)
