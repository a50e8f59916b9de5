"""A pickle that leaves a trace when it is loaded: the proof that a path never unpickles."""

from __future__ import annotations


class CreatesAFile:
    """Unpickling this creates ``path``: the canary for "never unpickled"."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))
