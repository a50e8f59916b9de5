"""Short, fixed-width renderings of times, durations and progress for table cells."""

from __future__ import annotations

import os
import time


def clock(epoch: float | None, now: float) -> str:
    """HH:MM:SS today, 'Mon DD' before that."""
    if epoch is None:
        return ""
    moment = time.localtime(epoch)
    if time.localtime(now)[:3] == moment[:3]:
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%b %d", moment)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def age(epoch: float | None, now: float) -> str:
    """How long ago: '4s', '12m', '3h', '2d'."""
    if epoch is None:
        return ""
    seconds = max(0.0, now - epoch)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def progress_bar(progress: tuple[float, float] | None, width: int) -> str:
    """'███▌    50%': a bar and a percentage in ``width`` cells."""
    if progress is None:
        return ""
    current, total = progress
    fraction = max(0.0, min(1.0, current / total))
    label = f"{fraction * 100:3.0f}%"
    bar_width = max(1, width - len(label) - 1)
    eighths = int(round(fraction * bar_width * 8))
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    return f"{bar:<{bar_width}} {label}"


def home_relative(path: str) -> str:
    """``path`` with the user's home directory written ``~``: shorter on a small terminal."""
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (path == home or path.startswith(home.rstrip("/") + "/")):
        return "~" + path[len(home.rstrip("/")) :]
    return path


def size(count: int) -> str:
    """A byte count people read at a glance: 840 B, 128 KB, 10.2 MB."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1024 * 1024):.1f} MB"
