"""The always-visible line: counts per status, scan progress, directory and watch mode."""

from __future__ import annotations

from collections import Counter

from rich.console import RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ...text import one_line
from ..colors import stale_style, status_style
from ..formatting import home_relative

# Built-in states first, in the order a task lives them; custom states after, by name.
_ORDER = ("STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED", "RESERVED", "SCHEDULED", "PENDING", "RECEIVED")


class SummaryBar(Widget):
    """Draws its reactives; the inspector screen sets (or binds) them.

    Its height follows its content (one line, or two when the place and the
    watch mode do not fit beside the counts). A change of a count repaints the
    line; only a change in the number of lines lays the screen out again (a
    layout on every count, ten times a second, was most of the summary's cost).
    """

    DEFAULT_CSS = """
    SummaryBar { height: auto; }
    """

    counts: reactive[Counter[str]] = reactive(Counter)  # within the filter, when there is one
    total: reactive[int] = reactive(0)
    filtered: reactive[bool] = reactive(False)
    filtering: reactive[bool] = reactive(False)  # a filter is being applied in slices
    scan: reactive[int | None] = reactive(None)  # files read by the first scan; None once done
    scan_total: reactive[int | None] = reactive(None)  # the files the scan will have read, once known
    place: reactive[str] = reactive("")  # the directory (or archive, or journal)
    mode: reactive[str] = reactive("")  # how changes are noticed, and the broker
    notice: reactive[str | None] = reactive(None)
    follow: reactive[bool] = reactive(False)
    problem: reactive[str | None] = reactive(None)  # what is wrong with the directory now
    stale: reactive[int] = reactive(0)  # unfinished tasks whose worker is gone
    # (sparkline, finished/s, failed/s) over the last minutes; None when nothing finished then.
    throughput: reactive[tuple[str, float, float] | None] = reactive(None)
    marked: reactive[int] = reactive(0)  # tasks marked for a bulk action (Space, a)
    queued: reactive[str | None] = reactive(None)  # "celery 12 · fast 3": messages waiting per queue

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines = 0  # how many lines it drew last (its height, once laid out)

    def render(self) -> RenderableType:
        counts, filtered = self.counts, self.filtered
        shown = sum(counts.values())
        chunks = [
            Text.assemble(
                (f"{shown:,}" if not filtered else f"{shown:,}/{self.total:,}", "bold"),
                ((" task" if shown == 1 else " tasks") if not filtered else " match", "dim"),
            )
        ]
        if self.marked:
            chunks.append(Text(f"{self.marked:,} marked", style="bold reverse"))
        if self.scan is not None:
            if self.scan_total is not None:
                chunks.append(Text(f"counted; rows loading… {self.scan:,}/{self.scan_total:,}", style="bold yellow"))
            else:
                chunks.append(Text(f"scanning… {self.scan:,} files read", style="bold yellow"))
        if self.follow:
            chunks.append(Text("follow", style="bold cyan"))
        problem = self.problem
        if problem:
            chunks.append(Text(f"{one_line(problem)}: rows as last read, waiting for it", style="bold red"))
        notice = "filtering…" if self.filtering else self.notice
        if notice and not (problem and problem in notice):  # the notice that told of it says no more
            chunks.append(Text(one_line(notice), style="bold yellow"))
        for status in sorted(counts, key=_status_order):
            style = status_style(status, self.app.no_color)
            chunks.append(Text.assemble((one_line(status), style), f" {counts[status]:,}"))
        if self.stale:
            chunks.append(Text.assemble(("stale", stale_style(self.app.no_color)), f" {self.stale:,}"))
        if self.throughput is not None:
            line, done, failed = self.throughput
            chunks.append(
                Text.assemble((line, "green"), f" {_rate(done)}", (f" ✗{_rate(failed)}", "red") if failed else "")
            )
        if self.queued:
            chunks.append(Text.assemble(("queued", "bold"), f" {one_line(self.queued)}"))
        # Where and how, always visible: on the right when everything fits on
        # one line, else on a line of its own under the counts.
        width = max(20, self.size.width - 2)
        # The directory matters more than the watch mode: the mode gives way first.
        place, how = one_line(home_relative(self.place)), one_line(self.mode)
        if len(place) + len(how) + 3 > width:
            how = _cut(how, max(12, width - len(place) - 3))
        if len(place) + len(how) + 3 > width:
            place = "…" + place[-max(8, width - len(how) - 4) :]
        chunks.append(Text.assemble((place, "dim"), (f" [{how}]", "dim")))
        lines = _pack(chunks, width)
        if len(lines) != self._lines:
            self._lines = len(lines)
            # One line more or less: the table below moves. Asked for once this render is
            # over: a layout asked from inside a render can be lost with it (the bar then
            # kept an empty second line).
            self.call_later(self.refresh, layout=True)
        return Text("\n").join(lines)

    @property
    def line_count(self) -> int:
        """How many lines it drew last (its height, once laid out)."""
        return self._lines


def _rate(per_second: float) -> str:
    """Finishes per second, or per minute when fewer than one a second."""
    return f"{per_second:.1f}/s" if per_second >= 1 else f"{per_second * 60:.1f}/min"


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
