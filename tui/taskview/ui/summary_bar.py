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
        scan: tuple[int, int] | None,
        directory: str,
        mode: str,
        notice: str | None = None,
        follow: bool = False,
    ) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        shown = sum(counts.values())
        text.append(f"{shown:,}" if not filtered else f"{shown:,}/{total:,}", style="bold")
        text.append(" tasks  " if not filtered else " match  ", style="dim")
        for status in sorted(counts, key=_status_order):
            text.append(one_line(status), style=status_style(status))
            text.append(f" {counts[status]:,}  ")
        if scan is not None:
            done, of = scan
            percent = 100 * done // of if of else 100
            text.append(f"scanning {percent}% ({done:,}/{of:,})  ", style="bold yellow")
        if follow:
            text.append("follow  ", style="bold cyan")
        if notice:
            text.append(one_line(notice) + "  ", style="bold yellow")
        text.append(one_line(directory), style="dim")
        text.append(f"  [{mode}]", style="dim")
        self.update(text)


def _status_order(status: str) -> tuple[int, str]:
    try:
        return (_ORDER.index(status), status)
    except ValueError:
        return (len(_ORDER) + (status in ("GROUP", "unreadable")), status)
