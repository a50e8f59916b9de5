"""Status colours, as `celery events` draws them; custom states get a stable colour of their own.

Without colour (NO_COLOR, a monochrome terminal) Textual turns colours into greys
by their lightness, and a red FAILURE becomes dark grey on black: there every
state is told apart by bold, reverse, underline and italic alone (``monochrome``).
"""

from __future__ import annotations

import zlib
from functools import lru_cache

from rich.style import Style

KNOWN = {
    "SUCCESS": "green",
    "FAILURE": "bold red",
    "REVOKED": "magenta",
    "STARTED": "yellow",
    "RETRY": "dark_orange",
    "PENDING": "blue",
    "RECEIVED": "cyan",
    "RESERVED": "cyan",
    "SCHEDULED": "bright_blue",
    "GROUP": "bright_cyan",
    "unreadable": "reverse red",
}

# Colours no built-in state uses, for states a task sets with update_state.
_CUSTOM_PALETTE = (
    "bright_blue",
    "orchid",
    "deep_sky_blue1",
    "spring_green2",
    "gold1",
    "light_salmon1",
    "medium_purple1",
    "turquoise2",
    "pale_violet_red1",
    "chartreuse2",
)


#: The attributes each state has without colour; custom states (PROGRESS, ...) are running: bold.
MONOCHROME = {
    "SUCCESS": "none",
    "FAILURE": "bold reverse",
    "REVOKED": "underline",
    "STARTED": "bold",
    "RETRY": "bold italic",
    "PENDING": "italic",
    "RECEIVED": "italic",
    "RESERVED": "italic",
    "SCHEDULED": "italic",
    "GROUP": "none",
    "unreadable": "reverse",
}
#: A task whose worker is gone: in colour, yellow italic; without, italic underline (never dim).
STALE = Style(color="yellow", italic=True)
STALE_MONOCHROME = Style(italic=True, underline=True)


def stale_style(monochrome: bool = False) -> Style:
    return STALE_MONOCHROME if monochrome else STALE


@lru_cache(maxsize=512)
def status_style(status: str, monochrome: bool = False) -> Style:
    """The same state always gets the same colour, across runs and machines; or, ``monochrome``,
    the same attributes."""
    if monochrome:
        return Style.parse(MONOCHROME.get(status, "bold"))
    known = KNOWN.get(status)
    if known is not None:
        return Style.parse(known)
    return Style.parse(_CUSTOM_PALETTE[zlib.crc32(status.encode("utf-8", "replace")) % len(_CUSTOM_PALETTE)])
