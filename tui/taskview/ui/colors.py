"""Status colours, as `celery events` draws them; custom states get a stable colour of their own."""

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


@lru_cache(maxsize=256)
def status_style(status: str) -> Style:
    """The same state always gets the same colour, across runs and machines."""
    known = KNOWN.get(status)
    if known is not None:
        return Style.parse(known)
    return Style.parse(_CUSTOM_PALETTE[zlib.crc32(status.encode("utf-8", "replace")) % len(_CUSTOM_PALETTE)])
