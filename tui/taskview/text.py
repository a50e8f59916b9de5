"""Making untrusted text inert before it reaches a terminal.

File names, results, tracebacks and error messages come from anywhere. Control
characters (C0, DEL, C1: the start of every escape sequence) are shown as
visible escapes instead of being sent to the terminal.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def inert(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every control character made visible (``\\x1b``), tabs and newlines kept."""
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(_escape, text)


def one_line(text: str) -> str:
    """``text`` inert and on one line, for a table cell or a status bar."""
    return _CONTROL_OR_NEWLINE.sub(_escape, text)
