"""One failure's group: the exception type and its message with the parts that vary taken out.

``PaymentDeclined: card 4242 declined (402)`` and ``PaymentDeclined: card 5555 declined (404)``
are one group, ``PaymentDeclined: card * declined (*)``: numbers become ``*``, UUIDs ``<id>``,
hexadecimal (``0x7f3a``, a long run of hex digits with a digit in it) ``<hex>``.
"""

from __future__ import annotations

import re

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_NUMBER = re.compile(r"(?:(?<![\w.-])-)?\d+(?:[.,]\d+)*")
_STARS = re.compile(r"\*(?:[\s.,:-]*\*)+")

#: Group keys by exception line: failures of one kind repeat their line (or a few of them).
_KEYS: dict[str, str] = {}
_MAX_KEYS = 1 << 13


def group_key(exc: str) -> str:
    """The group of an exception line (``Type: message``); the same for lines differing only in
    numbers, ids and hexadecimal values."""
    key = _KEYS.get(exc)
    if key is None:
        key = _normalise(exc)
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        _KEYS[exc] = key
    return key


def _normalise(exc: str) -> str:
    exc_type, sep, message = exc.partition(": ")
    if not sep:
        return exc
    message = _UUID.sub("<id>", message)
    message = _HEX.sub("<hex>", message)
    message = _NUMBER.sub("*", message)
    message = _STARS.sub("*", message)  # "4242 4242 4242" is one number, as "4242-4242" is
    return f"{exc_type}: {message}"


def exception_type(key: str) -> str:
    """The exception's type of a group key (what comes before the first ``: ``)."""
    return key.partition(": ")[0]


__all__ = ["exception_type", "group_key"]
