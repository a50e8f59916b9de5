"""What taskview's control layer does with older Celery and kombu APIs (control/compat.py).

The real older versions are in tests/integration/test_oldest_celery.py (a venv with the
oldest supported Celery); here, the same rules against the installed versions, and against
kombu 5.2's own declarations of what its classes take and route (copied from kombu 5.2.4).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery
from kombu import Connection
from kombu.pidbox import Mailbox
from kombu.transport import filesystem

from taskview.control import demo_tasks
from taskview.control.atomic_fs import Transport as AtomicTransport
from taskview.control.compat import (
    NEWER_MAILBOX_SETTINGS,
    BroadcastUnsupported,
    celery_settings,
    check_broadcasts,
    has_fanout,
    mailbox_options,
)
from taskview.control.controller import Controller, control_mailbox

#: What a Mailbox is made of (kombu.pidbox.Mailbox's attributes).
MAILBOX_ATTRIBUTES = (
    "namespace",
    "type",
    "accept",
    "serializer",
    "queue_ttl",
    "queue_expires",
    "reply_queue_ttl",
    "reply_queue_expires",
    "queue_durable",
    "queue_exclusive",
)


def shape(mailbox: Mailbox) -> dict[str, object]:
    return {name: getattr(mailbox, name, None) for name in MAILBOX_ATTRIBUTES}


def test_the_mailbox_is_the_one_celerys_own_control_makes():
    app = Celery("compat", broker="memory://", set_as_current=False)
    app.conf.update(
        control_exchange="ctl", control_queue_ttl=7.0, control_queue_expires=30.0, accept_content=["json", "msgpack"]
    )
    assert shape(control_mailbox(app)) == shape(app.control.mailbox)
    assert control_mailbox(app).producer_pool is None  # publishes on the connection it is given, nothing shared


def test_the_newer_settings_go_to_a_kombu_that_takes_them():
    app = Celery("compat", broker="memory://", set_as_current=False)
    app.conf.update(control_queue_durable=True, control_queue_exclusive=False)
    options = mailbox_options(app.conf, Mailbox)
    assert set(NEWER_MAILBOX_SETTINGS) <= celery_settings()  # the installed Celery (5.6+) has them
    assert (options["queue_durable"], options["queue_exclusive"]) == (True, False)


class Kombu52Mailbox(Mailbox):
    """kombu 5.2's Mailbox parameters (no queue_durable, no queue_exclusive)."""

    def __init__(
        self,
        namespace,
        type="direct",
        connection=None,
        clock=None,
        accept=None,
        serializer=None,
        producer_pool=None,
        queue_ttl=None,
        queue_expires=None,
        reply_queue_ttl=None,
        reply_queue_expires=10.0,
    ):
        super().__init__(
            namespace,
            type=type,
            connection=connection,
            clock=clock,
            accept=accept,
            serializer=serializer,
            producer_pool=producer_pool,
            queue_ttl=queue_ttl,
            queue_expires=queue_expires,
            reply_queue_ttl=reply_queue_ttl,
            reply_queue_expires=reply_queue_expires,
        )


def test_a_kombu_without_the_newer_parameters_gets_none_of_them():
    app = Celery("compat", broker="memory://", set_as_current=False)
    app.conf.update(control_queue_ttl=7.0)
    options = mailbox_options(app.conf, Kombu52Mailbox)
    assert not set(NEWER_MAILBOX_SETTINGS.values()) & set(options)
    assert options["queue_ttl"] == options["reply_queue_ttl"] == 7.0
    Kombu52Mailbox(app.conf.control_exchange, **options)  # takes every one of them


class Kombu52FilesystemTransport(AtomicTransport):
    """kombu 5.2's filesystem transport routed direct and topic exchanges only: no fanout."""

    implements = filesystem.Transport.implements.extend(exchange_type=frozenset(["direct", "topic"]))


def test_every_transport_of_this_kombu_broadcasts():
    for url in ("amqp://127.0.0.1:1//", "redis://127.0.0.1:1/0", "filesystem://", "memory://"):
        assert has_fanout(Connection(url).transport), url
    assert has_fanout(AtomicTransport)
    assert not has_fanout(Kombu52FilesystemTransport)


def test_a_transport_without_fanout_sends_no_broadcast_and_says_why(tmp_path: Path):
    app = demo_tasks.make_app(str(tmp_path / "results"), broker_dir=str(tmp_path / "broker"))
    app.conf.broker_transport = Kombu52FilesystemTransport
    controller = Controller(app)
    # "unknown", not "no worker": the stale check then blames no worker for it
    assert controller.ping_workers(timeout=0.2) is None
    assert controller.last_ping_error is not None
    assert "filesystem transport has no fanout" in controller.last_ping_error
    assert controller.last_ping_error.startswith("ping not sent: kombu ")
    outcome = controller.revoke("abc", terminate=True)
    assert not outcome.ok and outcome.message.startswith("revoke not sent: kombu ")
    with Connection("filesystem://", transport=Kombu52FilesystemTransport) as conn:
        with pytest.raises(BroadcastUnsupported, match=r"\(kombu 5\.3 or newer has it\)$"):
            check_broadcasts(conn)
