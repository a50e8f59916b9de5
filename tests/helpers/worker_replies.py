"""Replies of ``celery inspect`` as Celery 5.x shapes them (``Request.info()``, ``stats``), for the
workers board's unit tests and the workers screen's snapshot; the real ones come from real workers
in tests/integration/test_workers_brokers.py."""

from __future__ import annotations

W1, W2 = "w1@host-a", "w2@host-b"


def request(task_id: str, name: str = "shop.report", **more: object) -> dict:
    info = {
        "id": task_id,
        "name": name,
        "args": [1, "x"],
        "kwargs": {"to": "a@b.c"},
        "type": name,
        "hostname": W1,
        "time_start": None,
        "acknowledged": False,
        "delivery_info": {"exchange": "", "routing_key": "reports", "priority": 0, "redelivered": False},
        "worker_pid": None,
    }
    info.update(more)
    return info


def replies(workers: dict[str, dict]) -> dict[str, dict]:
    """{command: {worker: reply}} from {worker: {command: reply}}; a worker lacking a command did not answer it."""
    commands = ("stats", "active", "reserved", "scheduled", "active_queues", "registered")
    return {c: {w: r[c] for w, r in workers.items() if c in r} for c in commands}


def whole(active=(), reserved=(), scheduled=(), pids=(101, 102)) -> dict:
    return {
        "stats": {
            "total": {"shop.report": 7, "shop.mail": 3},
            "pid": 100,
            "uptime": 3725,
            "prefetch_count": 8,
            "pool": {
                "max-concurrency": 2,
                "processes": list(pids),
                "implementation": "celery.concurrency.prefork:TaskPool",
            },
        },
        "active": list(active),
        "reserved": list(reserved),
        "scheduled": list(scheduled),
        "active_queues": [{"name": "reports", "exchange": {"name": "reports"}}, {"name": "celery"}],
        "registered": ["shop.mail", "shop.report [rate_limit=5/m]"],
    }
