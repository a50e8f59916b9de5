"""What differs between the Celery and kombu versions taskview runs beside.

taskview runs in the user's environment, with the Celery their project pins
(README, "Supported Celery versions": Celery 5.2.1 and newer). What taskview
calls there, and since when it exists:

- ``celery.app.utils.find_app``, ``send_task(connection=..., retry=False)``,
  ``connection_for_write(connect_timeout=..., transport_options=...)``, the
  ``control_exchange``/``control_queue_ttl``/``control_queue_expires`` settings
  and kombu's ``pidbox.Mailbox`` with ``queue_ttl``/``queue_expires``/
  ``reply_queue_ttl``/``reply_queue_expires``: every Celery and kombu 5.x.
- ``control_queue_durable``/``control_queue_exclusive`` (Celery 5.6) and the
  ``Mailbox`` parameters they go to (kombu 5.6): newer, see ``mailbox_options``.
- fanout on kombu's filesystem transport (``--demo``): kombu 5.3.
"""

from __future__ import annotations

import inspect
from typing import Any

#: Settings of Celery's control mailbox that only newer versions have -> the
#: ``kombu.pidbox.Mailbox`` parameter each goes to. Celery 5.6 and kombu 5.6
#: added both; before, kombu's own defaults apply (as in Celery's ``app.control``).
NEWER_MAILBOX_SETTINGS = {
    "control_queue_durable": "queue_durable",
    "control_queue_exclusive": "queue_exclusive",
}


def mailbox_options(conf: Any, mailbox_class: type | None = None) -> dict[str, Any]:
    """The keyword arguments of ``Mailbox(conf.control_exchange, **options)``, as the
    installed Celery's own ``app.control`` gives them (without its producer pool).

    A setting of ``NEWER_MAILBOX_SETTINGS`` is passed only when this Celery knows it
    (a worker of an older one never reads it) and this kombu's ``Mailbox`` takes it.
    """
    if mailbox_class is None:
        from kombu.pidbox import Mailbox

        mailbox_class = Mailbox
    options: dict[str, Any] = {
        "type": "fanout",
        "accept": conf.accept_content,
        "serializer": conf.task_serializer,
        "queue_ttl": conf.control_queue_ttl,
        "reply_queue_ttl": conf.control_queue_ttl,
        "queue_expires": conf.control_queue_expires,
        "reply_queue_expires": conf.control_queue_expires,
    }
    known = celery_settings()
    accepted = inspect.signature(mailbox_class).parameters
    for setting, parameter in NEWER_MAILBOX_SETTINGS.items():
        if setting in known and parameter in accepted:
            options[parameter] = getattr(conf, setting)
    return options


def celery_settings() -> frozenset[str]:
    """The names of every setting the installed Celery knows (``celery.app.defaults``)."""
    from celery.app.defaults import DEFAULTS

    return frozenset(DEFAULTS)


#: The oldest kombu whose filesystem transport has fanout (``--demo`` needs it).
FILESYSTEM_FANOUT_SINCE = "5.3"


class BroadcastUnsupported(Exception):
    """The broker's transport has no fanout: a broadcast (ping, revoke) would reach no worker."""


def has_fanout(transport: Any) -> bool:
    """Whether a kombu transport (class or instance) routes to fanout exchanges, which
    Celery's broadcasts (ping, revoke) go through. Real brokers always do; kombu's
    filesystem transport only from 5.3 (FORMAT.md)."""
    implements = getattr(transport, "implements", None)
    types = getattr(implements, "exchange_type", None)
    return types is None or "fanout" in types  # a transport that does not say: assume it does


def check_broadcasts(connection: Any) -> None:
    """Raise ``BroadcastUnsupported`` (saying why, in one line) when ``connection``'s
    transport cannot broadcast: nothing sent there would ever be answered."""
    transport = connection.transport
    if has_fanout(transport):
        return
    name = getattr(transport, "driver_type", None) or type(transport).__name__
    raise BroadcastUnsupported(
        f"kombu {kombu_version()}'s {name} transport has no fanout: ping and revoke cannot reach a worker "
        f"(kombu {FILESYSTEM_FANOUT_SINCE} or newer has it)"
    )


def filesystem_fanout() -> bool:
    """Whether this kombu's filesystem transport has fanout (kombu 5.3 or newer)."""
    from kombu.transport import filesystem

    return has_fanout(filesystem.Transport)


def kombu_version() -> str:
    import kombu

    return str(getattr(kombu, "__version__", "?"))
