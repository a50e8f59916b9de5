"""What an app can send: its own registered tasks, and the queue each is routed to.

Nothing here talks to the broker: reading the registry and the routes is local
(the user's modules are imported already, by ``-A``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

#: Celery's own tasks (chord_unlock, backend_cleanup, ...): never what a user means to send.
BUILTIN_PREFIX = "celery."


@dataclass(frozen=True)
class AppTask:
    name: str
    queue: str | None  # where the app routes it: task_routes, the task's own queue, else the default


def app_tasks(app: Celery) -> list[AppTask]:
    """The app's own registered tasks, by name, each with its route (may import the app's
    task modules, as a worker would: call it off the UI thread)."""
    names = sorted(name for name in list(app.tasks.keys()) if not name.startswith(BUILTIN_PREFIX))
    return [AppTask(name, routed_queue(app, name)) for name in names]


def routed_queue(app: Celery, name: str, args: Any = (), kwargs: Any = None) -> str | None:
    """The queue ``app`` sends task ``name`` to, as ``send_task`` would without a queue given."""
    try:
        route = app.amqp.router.route({}, name, args, kwargs or {})
    except Exception:
        return _default_queue(app)
    queue = route.get("queue")
    if queue is None:
        return _default_queue(app)
    return str(getattr(queue, "name", queue))


def _default_queue(app: Celery) -> str | None:
    try:
        return str(app.conf.task_default_queue)
    except Exception:
        return None
