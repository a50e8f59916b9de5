"""Unpickling for directories the user has said they trust (``--allow-pickle``).

Only ever called after that explicit opt-in: unpickling runs arbitrary code.
What this adds over ``pickle.loads`` is tolerance for classes taskview cannot
import, typically the user's own exception classes defined in their project:
those become stand-in exception classes that keep the type name, module and
arguments, so a FAILURE still reads ``InventoryError('out of stock')``.
"""

from __future__ import annotations

import io
import pickle
from typing import Any


class UnimportableObject(Exception):
    """Base of the stand-ins for classes that could not be imported."""

    def __repr__(self) -> str:
        args = ", ".join(repr(a) for a in self.args)
        return f"{type(self).__name__}({args})"

    def __setstate__(self, state: Any) -> None:
        # Exceptions and plain objects alike pickle their __dict__ as state.
        if isinstance(state, tuple) and len(state) == 2:
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["state"] = state


_STANDINS: dict[tuple[str, str], type] = {}


def standin_class(module: str, name: str) -> type:
    key = (module, name)
    cls = _STANDINS.get(key)
    if cls is None:
        cls = type(name, (UnimportableObject,), {"__module__": module, "__qualname__": name})
        _STANDINS[key] = cls
    return cls


class _TolerantUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return standin_class(module, name)


def loads_trusted(data: bytes) -> Any:
    return _TolerantUnpickler(io.BytesIO(data)).load()
