"""Why a result file could not be used: a kind to act on, and words to show.

Code branches on ``Problem.kind`` (a file caught mid-write is kept back, a
file that went away leaves the table); people read ``Problem.message``; the
``--stats`` summary groups by ``Problem.reason``. Rewording a message changes
nothing else.
"""

from __future__ import annotations

import enum

import msgspec


class ProblemKind(enum.Enum):
    """What kind of trouble; the value is what journals and reader processes carry."""

    EMPTY = "empty"  # no bytes yet: being written
    TRUNCATED = "truncated"  # cut mid-write: being written, or a writer that stopped
    CUT_SHORT = "cut short"  # still truncated long after: no write is coming
    GONE = "gone"  # deleted between listing and reading
    UNREADABLE = "unreadable"  # the OS refused (permission, I/O), or a damaged archive member
    NOT_A_FILE = "not a file"  # a directory, FIFO or device with a result's name
    TOO_LARGE = "too large"  # beyond the bound on memory, before or after decompression
    NOT_A_RESULT = "not a result"  # readable, but not what Celery writes
    INVALID = "invalid"  # a serializer's or compressor's own bytes, broken
    PICKLE_REFUSED = "pickle refused"  # pickle, not loaded without --allow-pickle
    UNSUPPORTED = "unsupported"  # a compression this installation cannot undo


#: Kinds that mean "being written": the last good state is kept, the next write brings the rest.
PARTIAL_KINDS = frozenset({ProblemKind.EMPTY, ProblemKind.TRUNCATED})


class Problem(msgspec.Struct, frozen=True, gc=False):
    """One file's trouble: ``reason`` says what (``truncated JSON``), ``detail`` where
    or why (`` at byte 8192``); together they are the one-line ``message``."""

    kind: ProblemKind
    reason: str
    detail: str = ""

    @property
    def message(self) -> str:
        return self.reason + self.detail

    @property
    def partial(self) -> bool:
        """A write still in progress (Celery writes in place)."""
        return self.kind in PARTIAL_KINDS

    def __str__(self) -> str:
        return self.message

    def as_row(self) -> tuple[str, str, str]:
        """The problem as plain strings (to cross a pipe or a journal); ``from_row`` undoes it."""
        return (self.kind.value, self.reason, self.detail)

    @classmethod
    def from_row(cls, row: tuple[str, str, str] | list[str]) -> Problem:
        kind, reason, detail = row
        return cls(ProblemKind(kind), reason, detail)


def gone() -> Problem:
    return Problem(ProblemKind.GONE, "gone", ": deleted before it could be read")


def cut_short(problem: Problem, seconds: float) -> Problem:
    """A partial file that stayed so for ``seconds``: no write is coming any more."""
    return Problem(ProblemKind.CUT_SHORT, "cut short", f", unchanged for {seconds:g} s: {problem.message}")
