"""The inspector's heap: glibc's malloc set for a process that holds a million
small objects for hours and keeps making and dropping big lists."""

from __future__ import annotations

#: mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_BIG_BLOCK = 128 * 1024  # glibc's own starting value


def keep_heap_compact() -> None:
    """Fix glibc's mmap and trim thresholds at their starting 128 KiB.

    Left alone, glibc raises its mmap threshold each time a big block is freed
    (up to 32 MiB); after that, blocks like a sort's key list or a batch from
    the reader process come from the heap, and the heap they leave behind stays
    resident: 6% of the inspector's memory at 100k tasks (bench/memory.py).
    Elsewhere than glibc this does nothing.
    """
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, ImportError):
        return
    mallopt(_M_MMAP_THRESHOLD, _BIG_BLOCK)
    mallopt(_M_TRIM_THRESHOLD, _BIG_BLOCK)
