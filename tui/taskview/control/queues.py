"""How many messages wait in a queue, asked of the broker without ever creating one; and their history.

- RabbitMQ (py-amqp): a passive ``queue.declare`` (ready messages, consumers); a queue
  that does not exist answers 404 and is reported missing, not created.
- Redis: the lengths of the queue's lists, its priority lists included (kombu's ``_size``).
- kombu's filesystem broker: the message files for that queue in its data folder.

Consumers are known from the broker on RabbitMQ only; elsewhere from the workers' own
``active_queues`` (``QueueDepth.consumers`` None here). Nothing here imports Textual.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: How long the history of a queue's depth goes back (seconds), for its sparkline.
HISTORY_SECONDS = 300.0


@dataclass(frozen=True)
class QueueDepth:
    """One queue as the broker answered: ``ready`` messages (None when it does not exist), its ``consumers``
    when the broker says (RabbitMQ), and ``error`` when it could not be asked."""

    name: str
    ready: int | None
    consumers: int | None = None
    error: str | None = None

    @property
    def missing(self) -> bool:
        return self.ready is None and self.error is None


def transport_kind(conn: Any) -> str:
    """ "amqp", "redis", "filesystem" or the transport's own name."""
    try:
        driver = conn.transport.driver_type
    except Exception:
        driver = "?"
    name = type(conn.transport).__module__
    if "filesystem" in name or driver == "filesystem":
        return "filesystem"
    if driver in ("amqp", "redis"):
        return str(driver)
    return str(driver or name)


def queue_depths(conn: Any, names: Iterable[str]) -> dict[str, QueueDepth]:
    """``{name: QueueDepth}`` of each queue on an open kombu connection; creates nothing."""
    kind = transport_kind(conn)
    found: dict[str, QueueDepth] = {}
    for name in dict.fromkeys(names):
        if kind == "amqp":
            found[name] = _amqp_depth(conn, name)
        else:
            found[name] = _virtual_depth(conn, name)
    return found


def _amqp_depth(conn: Any, name: str) -> QueueDepth:
    channel = conn.channel()  # a channel each: a 404 closes the channel that asked
    try:
        ok = channel.queue_declare(queue=name, passive=True)
        return QueueDepth(name, int(ok.message_count), int(ok.consumer_count))
    except Exception as exc:
        if getattr(exc, "code", None) == 404 or "NOT_FOUND" in str(exc):
            return QueueDepth(name, None)
        raise
    finally:
        try:
            channel.close()
        except Exception:
            pass


def _virtual_depth(conn: Any, name: str) -> QueueDepth:
    channel = conn.default_channel
    size = getattr(channel, "_size", None)  # kombu's virtual transports: Redis lists, filesystem files
    if size is None:
        return QueueDepth(name, None, error=f"{transport_kind(conn)}: queue sizes not known")
    return QueueDepth(name, int(size(name)))


def purge_queue(conn: Any, name: str) -> int | None:
    """Delete every ready message of queue ``name``; how many, or None when it does not exist (nothing created)."""
    kind = transport_kind(conn)
    if kind == "amqp":
        if _amqp_depth(conn, name).ready is None:
            return None
        channel = conn.channel()
        try:
            return int(channel.queue_purge(queue=name) or 0)
        finally:
            try:
                channel.close()
            except Exception:
                pass
    return int(conn.default_channel.queue_purge(queue=name) or 0)


class DepthHistory:
    """The depths of each queue over the last ``HISTORY_SECONDS``: growth at a glance."""

    def __init__(self, seconds: float = HISTORY_SECONDS, clock: Any = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._points: dict[str, deque[tuple[float, int]]] = {}

    def add(self, depths: dict[str, QueueDepth]) -> None:
        now = self._clock()
        for name, depth in depths.items():
            if depth.ready is None:
                continue
            points = self._points.setdefault(name, deque())
            points.append((now, depth.ready))
            while points and points[0][0] < now - self.seconds:
                points.popleft()

    def values(self, name: str) -> list[int]:
        return [v for _, v in self._points.get(name, ())]

    def growth(self, name: str) -> int | None:
        """Ready messages now minus at the start of the history (None with fewer than two points)."""
        points = self._points.get(name)
        if not points or len(points) < 2:
            return None
        return points[-1][1] - points[0][1]
