"""The machine's RabbitMQ and Redis: where they are, what a test does when one is not running,
and broker spaces of a test's own (a fresh RabbitMQ vhost, a private redis-server).

A test that cannot run here skips, saying why and how to fix it; with TASKVIEW_NO_SKIPS=1
(what .ci/run sets) tests/conftest.py turns every skip into a failure.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    "rabbitmq": (
        RABBITMQ_URL,
        5672,
        "start it with `rabbitmq-server -detached` (Debian/Ubuntu: apt-get install rabbitmq-server)",
    ),
    "redis": (
        REDIS_URL,
        6379,
        "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''` "
        "(Debian/Ubuntu: apt-get install redis-server)",
    ),
}


def require_broker(name: str) -> str:
    """The URL of the machine's ``name`` broker; skips the test (a failure under TASKVIEW_NO_SKIPS=1)
    when it does not answer."""
    url, port, how = BROKERS[name]
    if broker_reachable("127.0.0.1", port):
        return url
    pytest.skip(f"{name} is not running on 127.0.0.1:{port}: {how}")


class PrivateRedis:
    """``redis-server`` on a free port of its own, with nothing saved; stop() and start() again on that port."""

    def __init__(self, directory: Path) -> None:
        if not shutil.which("redis-server"):
            pytest.skip(
                "redis-server is not installed (Debian/Ubuntu: apt-get install redis-server); "
                "this test runs a private one on a free port"
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not broker_reachable("127.0.0.1", self.port):
            assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # abrupt, as a crash or a lost network would be
            self.proc.wait(5)


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)


@contextmanager
def private_vhost() -> Iterator[str]:
    """A fresh vhost on the machine's RabbitMQ, open to guest, deleted afterwards; yields its URL.

    Nothing else uses it: no other worker answers a ping there, no other consumer takes a message.
    """
    require_broker("rabbitmq")
    if not shutil.which("rabbitmqctl"):
        pytest.skip(
            "rabbitmqctl is not on PATH (it comes with rabbitmq-server; /usr/sbin): "
            "this test makes a RabbitMQ vhost of its own with it"
        )
    name = f"taskview-test-{uuid.uuid4().hex[:8]}"
    done = _rabbitmqctl("add_vhost", name)
    if done.returncode != 0:
        pytest.skip(
            f"`rabbitmqctl add_vhost` failed (run the tests as root, or as a user whose Erlang cookie "
            f"matches the server's): {(done.stderr or done.stdout).strip()}"
        )
    try:
        done = _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        assert done.returncode == 0, f"rabbitmqctl set_permissions: {(done.stderr or done.stdout).strip()}"
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


@contextmanager
def private_broker(name: str, directory: Path) -> Iterator[str]:
    """A broker space of the test's own, ``name`` being "rabbitmq" (a fresh vhost on the machine's
    server) or "redis" (a redis-server of its own, run in ``directory``); yields its URL."""
    if name == "rabbitmq":
        with private_vhost() as url:
            yield url
        return
    assert name == "redis", name
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
