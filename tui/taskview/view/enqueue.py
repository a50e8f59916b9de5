"""The enqueue form's fields, checked as they are typed (no Textual): args, kwargs, queue, countdown.

The same form sends a task picked from the app's registry (``n``) and sends a
stored task again (``R``, prefilled with its name, arguments and queue).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..text import json_inert


@dataclass(frozen=True)
class EnqueueRequest:
    """What to send: ``send_task(name, args, kwargs, queue=..., countdown=...)``."""

    name: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # None: where the app routes it
    countdown: float | None = None

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.queue:
            options["queue"] = self.queue
        if self.countdown:
            options["countdown"] = self.countdown
        return options


class FieldError(ValueError):
    """One field does not read: ``field`` names it, ``str()`` says why in one line."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def parse_request(name: str, args: str, kwargs: str, queue: str, countdown: str) -> EnqueueRequest:
    """The form's text as a request; raises FieldError for the first field that does not read."""
    parsed_args = _json("args", args or "[]")
    if not isinstance(parsed_args, list):
        raise FieldError("args", f"args must be a JSON list, like [1, \"a\"]; this is a {_kind(parsed_args)}")
    parsed_kwargs = _json("kwargs", kwargs or "{}")
    if not isinstance(parsed_kwargs, dict):
        raise FieldError("kwargs", f"kwargs must be a JSON object, like {{\"n\": 1}}; this is a {_kind(parsed_kwargs)}")
    queue = queue.strip()
    if any(c.isspace() for c in queue):
        raise FieldError("queue", "a queue name has no spaces")
    seconds: float | None = None
    if countdown.strip():
        try:
            seconds = float(countdown)
        except ValueError:
            raise FieldError("countdown", "countdown is a number of seconds, like 30") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise FieldError("countdown", "countdown is a number of seconds, 0 or more")
    return EnqueueRequest(name, parsed_args, parsed_kwargs, queue or None, seconds or None)


def as_field(value: Any) -> str:
    """A stored value as the form shows it, for editing: JSON on one line, whose characters
    that could act on a terminal (controls, bidi overrides, invisible ones) are JSON escapes
    (``\\u202e``): the text reads back to the same value, and shows inert."""
    return json_inert(json.dumps(value, ensure_ascii=False, default=repr))


def _json(field_name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FieldError(field_name, f"{field_name}: not JSON: {exc.msg} at column {exc.colno}") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(type(value), "number")
