"""The machine's RabbitMQ and Redis: where they are, and what a test does when one is not running."""

from __future__ import annotations

import os
import socket

import pytest


def broker_reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
REDIS_URL = "redis://127.0.0.1:6379/0"

BROKERS = {
    "rabbitmq": (RABBITMQ_URL, 5672,
                 "start it with `rabbitmq-server -detached` (Debian/Ubuntu: apt-get install rabbitmq-server)"),
    "redis": (REDIS_URL, 6379,
              "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''` "
              "(Debian/Ubuntu: apt-get install redis-server)"),
}


def require_broker(name: str) -> str:
    url, port, how = BROKERS[name]
    if broker_reachable("127.0.0.1", port):
        return url
    message = f"{name} is not running on 127.0.0.1:{port}: {how}"
    if os.environ.get("TASKVIEW_REQUIRE_BROKERS") == "1":
        pytest.fail(f"TASKVIEW_REQUIRE_BROKERS=1 but {message}")
    pytest.skip(message)


