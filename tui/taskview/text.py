"""Making untrusted text inert before it reaches a terminal.

File names, results, tracebacks and error messages come from anywhere. Control
characters (C0, DEL, C1: the start of every escape sequence), bidirectional
overrides and invisible zero-width characters are shown as visible escapes
(``\x1b``, ``\u202e``) instead of being sent to the terminal.
"""

from __future__ import annotations

import re

# C0 and C1 controls, and the bidirectional overrides/isolates that reorder
# what a terminal shows (a filename can hide its real extension behind U+202E).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Invisible characters (zero-width space/joiners, word joiner, BOM) and the line and
# paragraph separators: two ids that look alike must not be different unseen.
_INVISIBLE = "\u180e\u200b-\u200d\u2028\u2029\u2060-\u2064\ufeff"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}]")
_CONTROL_OR_NEWLINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` with every control character made visible (``\\x1b``), tabs and newlines kept."""
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(_escape, text)


def one_line(text: str) -> str:
    """``text`` inert and on one line, for a table cell or a status bar."""
    return _CONTROL_OR_NEWLINE.sub(_escape, text)


def summary(text: object, limit: int = 300) -> str:
    """A message (often an exception's text) as one short inert line: whitespace runs collapsed, cut at ``limit``."""
    line = one_line(" ".join(str(text).split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def json_inert(text: str) -> str:
    """JSON text with every character ``inert`` would escape written as a JSON escape
    (``\\u001b``): the same JSON value, shown inert. Such characters can only be inside
    strings (JSON's own syntax is plain ASCII), where the escape means the same."""
    return _CONTROL_OR_NEWLINE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
