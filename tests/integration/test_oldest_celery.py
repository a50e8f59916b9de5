"""taskview installed beside the oldest Celery it supports, as in a project that pins it.

A virtual environment of its own (built once per session) holds the floors pyproject.toml
declares (``celery>=X``, ``kombu[redis]>=Y``), exactly those versions, and this checkout
installed from a copy (not editable). A real worker of a small project runs from it, and the
real ``taskview -A proj`` of that environment is driven in a terminal: R sends one of the
project's own tasks again (and to a queue that the workers' answer says nobody consumes), n
lists the project's tasks and starts one, x t terminates it, and a worker that vanishes without
a word makes its task ``STARTED stale`` through the ping. --demo there says what it needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from helpers.brokers import PrivateRedis
from helpers.control import read_status, wait_status
from helpers.samples import ROOT
from helpers.terminal import Terminal

try:
    import tomllib
except ImportError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

#: pip's longest wait for the environment (downloads on a cold cache included).
BUILD_TIMEOUT = 300
#: A worker "on another host": only the ping can tell that it is gone (no pid test).
NODENAME = "oldproj@elsewhere.invalid"


def floor(package: str) -> str:
    """The lowest version pyproject.toml accepts for ``package`` (its ``>=`` bound)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == package:
            (bound,) = [s.version for s in requirement.specifier if s.operator == ">="]
            return bound
    raise AssertionError(f"pyproject.toml does not depend on {package}")


CELERY, KOMBU = floor("celery"), floor("kombu")


class OldEnv:
    """The virtual environment with the oldest supported Celery and this checkout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bin = path / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment its programs run with: nothing of this checkout on PYTHONPATH
        (emptied, not removed: the terminal adds what is given to this process's environment)."""
        clear = dict.fromkeys(("PYTHONPATH", "VIRTUAL_ENV", "CELERY_BROKER_URL"), "")
        return {**os.environ, **clear, "PYTHONUNBUFFERED": "1", **extra}


def _build(path: Path) -> None:
    source = path.parent / "taskview-source"  # a copy: building in the checkout would leave build/ there
    shutil.copytree(ROOT / "tui", source / "tui", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    steps = [
        [sys.executable, "-m", "venv", str(path)],
        [
            str(path / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--retries",  # no PyPI: a clear failure in a minute, not pip's long retries
            "1",
            f"celery[redis]=={CELERY}",
            f"kombu=={KOMBU}",
            str(source),
        ],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=OldEnv(path).env())
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"building the Celery {CELERY} environment: `{' '.join(step[:4])} …` took over {BUILD_TIMEOUT} s",
                pytrace=False,
            )
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            pytest.fail(
                f"could not build the environment with Celery {CELERY} and kombu {KOMBU} (it needs PyPI): "
                f"`{' '.join(step[:5])} …` exited with {done.returncode}:\n{tail}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def old_env(tmp_path_factory: pytest.TempPathFactory) -> OldEnv:
    started = time.monotonic()
    path = tmp_path_factory.mktemp("oldest-celery") / "venv"
    _build(path)
    env = OldEnv(path)
    probe = subprocess.run(
        [
            str(env.bin / "python"),
            "-c",
            "import celery, kombu, taskview as t; print(celery.__version__, kombu.__version__, t.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env.env(),
        cwd=path,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    celery, kombu, package = probe.stdout.split()
    assert (celery, kombu) == (CELERY, KOMBU), probe.stdout
    assert Path(package).is_relative_to(path), f"taskview imported from {package}, not from the environment"
    print(f"environment with Celery {CELERY}, kombu {KOMBU} built in {time.monotonic() - started:.0f} s")
    return env


PROJECT = """
    import os
    import time

    from celery import Celery, signals

    app = Celery("oldproj", broker=os.environ["OLDPROJ_BROKER"], backend={backend!r})
    app.conf.update(
        result_extended=True,
        task_track_started=True,
        task_default_queue="oldproj",
        worker_prefetch_multiplier=1,
        task_acks_late=True,
    )


    @app.task(name="oldproj.multiply")
    def multiply(x, y):
        return x * y


    @app.task(name="oldproj.nap")
    def nap(seconds=30):
        time.sleep(seconds)
        return seconds


    @signals.worker_ready.connect
    def ready(**_):
        with open(os.environ["OLDPROJ_READY"], "w") as fh:
            fh.write("ready")
"""


class OldWorker:
    """``celery -A proj worker`` of the old environment, in its own process group."""

    def __init__(self, env: OldEnv, project: Path, broker: str) -> None:
        self.ready = project / "worker.ready"
        self.log_path = project / "worker.log"
        self._log = open(self.log_path, "ab")
        command = [str(env.bin / "celery"), "-A", "proj", "worker", "-P", "prefork", "-c", "2", "-n", NODENAME]
        command += ["-Q", "oldproj", "--without-heartbeat", "--without-gossip"]
        command += ["--without-mingle", "-l", "info"]
        self.proc = subprocess.Popen(
            command,
            cwd=project,
            env=env.env(OLDPROJ_BROKER=broker, OLDPROJ_READY=str(self.ready)),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the Celery {CELERY} worker did not start:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown, its task stays STARTED (as when its host dies)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """A project of its own (proj.py) on a private Redis: (its directory, its results, the broker URL)."""
    results = tmp_path / "results"
    results.mkdir()
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "proj.py").write_text(textwrap.dedent(PROJECT.format(backend="file://" + str(results))))
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield directory, results, redis.url
    finally:
        redis.stop()


def send_multiply(broker: str, results: Path) -> str:
    """``oldproj.multiply(6, 7)``, sent by name from this test's own Celery; its id once it has succeeded."""
    from celery import Celery

    client = Celery("sender", broker=broker, set_as_current=False)
    try:
        task_id = client.send_task("oldproj.multiply", args=[6, 7], queue="oldproj").id
    finally:
        client.close()
    wait_status(results, task_id, "SUCCESS")
    return task_id


def queued(broker: str, queue: str) -> list[dict]:
    """The headers of the task messages waiting in ``queue`` on the Redis ``broker`` (kombu keeps a queue
    as a list of JSON envelopes)."""
    import redis

    client = redis.Redis.from_url(broker)
    try:
        return [json.loads(raw)["headers"] for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


#: What the summary bar says when a broker call did not do its job (a control layer broken there).
FAILED = re.compile(r"[^\n│]*(?:failed|not sent|unreachable|no worker answered|cannot )[^\n│]*")
#: Keys as a terminal sends them.
ENTER, TAB, HOME, DELETE_TO_END = "\r", "\t", "\x01", "\x0b"  # Enter, Tab, Ctrl+A, Ctrl+K


def expect(terminal: Terminal, wanted: str, after: int, timeout: float = 30.0) -> None:
    """Wait until the screen shows ``wanted`` after offset ``after``; fail at once, with its words,
    when it says that a broker call failed."""

    def shown() -> bool:
        text = terminal.text()[after:]
        failed = FAILED.search(text)
        assert failed is None, f"waiting for {wanted!r}, taskview said: {' '.join(failed.group(0).split())}"
        return wanted in text

    terminal.wait_for(shown, timeout=timeout)


def sent_id(terminal: Terminal, name: str, after: int, known: set[str]) -> str:
    """The id of the new task whose send taskview announced (``sent NAME ID``) after offset ``after``,
    added to ``known`` (a toast of an earlier send may still be on the screen, drawn again)."""
    pattern = re.compile(rf"sent {re.escape(name)} ([0-9a-f-]{{36}})")

    def new() -> list[str]:
        return [m.group(1) for m in pattern.finditer(terminal.text(), after) if m.group(1) not in known]

    expect(terminal, f"sent {name} ", after)
    terminal.wait_for(lambda: bool(new()))
    (task_id,) = set(new())
    known.add(task_id)
    return task_id


def test_taskview_beside_the_oldest_celery_controls_its_workers(old_env: OldEnv, project: tuple[Path, Path, str]):
    directory, results, broker = project
    worker = OldWorker(old_env, directory, broker)
    try:
        first = send_multiply(broker, results)
        sent = {first}  # the tasks sent so far
        with Terminal(
            ["-A", "proj"],  # PATH: the app's file:// result backend
            command=[str(old_env.bin / "taskview")],
            env=old_env.env(OLDPROJ_BROKER=broker),
            cwd=str(directory),
        ) as terminal:
            terminal.wait_for(lambda: "oldproj.multiply" in terminal.text() and "SUCCESS" in terminal.text())

            # R: the project's task again, as stored (name, args, queue: result_extended).
            mark = len(terminal.text())
            terminal.press("R")
            expect(terminal, "Send this task again", mark)
            terminal.press(ENTER)
            again = sent_id(terminal, "oldproj.multiply", mark, sent)
            meta, _ = wait_status(results, again, "SUCCESS")
            assert (meta["name"], meta["args"], meta["queue"], meta["result"]) == (
                "oldproj.multiply",
                [6, 7],
                "oldproj",
                42,
            )

            # n: the project's own tasks; nap, then x t: terminated, REVOKED from the worker's file.
            mark = len(terminal.text())
            terminal.press("n")
            expect(terminal, "Send a task of oldproj", mark)
            terminal.press(*"nap", ENTER)
            expect(terminal, "Send oldproj.nap", mark)
            terminal.press(ENTER)
            napping = sent_id(terminal, "oldproj.nap", mark, sent)
            wait_status(results, napping, "STARTED")
            expect(terminal, "STARTED", mark)
            mark = len(terminal.text())
            terminal.press("x")
            expect(terminal, "Revoke this task?", mark)
            terminal.press("t")
            # the ping's answer names the worker: the broadcasts reach it both ways
            expect(terminal, f"revoke (terminate, SIGTERM) sent to {NODENAME}", mark)
            meta, _ = wait_status(results, napping, "REVOKED")
            assert meta["result"]["exc_message"] == ["terminated"]
            expect(terminal, "REVOKED", mark)

            # R to a queue no worker consumes (the revoked nap, selected): the workers' answer to
            # `inspect active_queues` (asked after the first send) says so.
            mark = len(terminal.text())
            terminal.press("R")
            expect(terminal, "Send this task again", mark)
            terminal.press(TAB, TAB, HOME, DELETE_TO_END, *"nobody-listens", ENTER)
            try:
                terminal.wait_for(lambda: "that answered consumes queue nobody-listens" in terminal.text()[mark:])
            except AssertionError:
                raise AssertionError(
                    "taskview never said that no worker consumes queue nobody-listens: "
                    "`inspect active_queues` got no answer from the worker"
                ) from None
            (waiting,) = queued(broker, "nobody-listens")  # sent there: the message waits in that queue
            assert waiting["task"] == "oldproj.nap" and waiting["id"] not in sent
            sent.add(waiting["id"])
            assert read_status(results, waiting["id"]) == (None, None)  # no file: nothing ran it

            # A worker gone without a word (on another host: no pid to test) leaves its task
            # STARTED; only the ping tells, once it misses two.
            mark = len(terminal.text())
            terminal.press("n")
            expect(terminal, "Send a task of oldproj", mark)
            terminal.press(*"nap", ENTER)
            expect(terminal, "Send oldproj.nap", mark)
            terminal.press(ENTER)
            left = sent_id(terminal, "oldproj.nap", mark, sent)
            wait_status(results, left, "STARTED")
            worker.kill()
            # "STARTED stale", or "!STARTED" where the table is narrow (the detail pane beside it).
            terminal.wait_for(lambda: re.search(r"STARTED stale|!STARTED", terminal.text()[mark:]) is not None, 60)
            assert read_status(results, left)[0] == "STARTED"
        assert terminal.proc.returncode == 0, terminal.text()[-2000:]
    finally:
        worker.kill()


def test_demo_there_says_it_needs_a_newer_kombu(old_env: OldEnv, tmp_path: Path):
    """kombu < 5.3's filesystem broker has no fanout: --demo could never revoke, so it does not start.
    (A kombu floor of 5.3 or newer makes this test wrong: --demo would start there.)"""
    proc = subprocess.run(
        [str(old_env.bin / "taskview"), "--demo", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        env=old_env.env(),
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"it needs kombu 5.3 or newer (kombu {KOMBU}'s filesystem broker has no fanout" in proc.stderr
    assert "Traceback" not in proc.stderr
