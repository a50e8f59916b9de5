"""A broker password never shows: not on screen, in the --log file, in error messages or in dumps.

The password reaches taskview three ways (-b, CELERY_BROKER_URL, an -A app's configuration);
each run is the real command in a terminal, and every byte it wrote is searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest

from helpers.terminal import Terminal

PASSWORD = "Hunter2/Secret"  # a '/' must be URL-encoded: both forms must stay hidden
ENCODED = quote(PASSWORD, safe="")
BROKER = f"redis://:{ENCODED}@127.0.0.1:1/0"  # nothing listens on port 1


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [form for form in (PASSWORD, ENCODED, "Hunter2") if form in text]


def write_project(directory: Path, results: Path, *, broken: bool = False) -> None:
    body = f"""
        from celery import Celery
        app = Celery("proj", broker={BROKER!r})
        app.conf.result_backend = {"file://" + str(results)!r}

        @app.task(name="proj.ping")
        def ping():
            return "pong"
    """
    if broken:
        body += f"\n        raise RuntimeError('cannot reach ' + {BROKER!r})\n"
    (directory / ("brokenproj.py" if broken else "proj.py")).write_text(textwrap.dedent(body))


# -b: test_debug_log.test_the_log_records_a_session_without_its_password (screen and log).
@pytest.mark.parametrize("given", ["CELERY_BROKER_URL", "-A"])
def test_the_password_never_shows_on_screen_nor_in_the_log(given: str, samples: Path, tmp_path: Path):
    log_file = tmp_path / "taskview.log"
    env = {"CELERY_BROKER_URL": ""}
    if given == "CELERY_BROKER_URL":
        args, env = [str(samples)], {"CELERY_BROKER_URL": BROKER}
    else:
        write_project(tmp_path, samples)
        args = ["-A", "proj"]  # PATH from the app's result_backend
    with Terminal([*args, "--log", str(log_file)], env=env, cwd=str(tmp_path)) as terminal:
        terminal.wait_for(lambda: "tasks" in terminal.text())
        terminal.press("n")  # the menu (the demo tasks, or with -A the app's own) names the broker
        terminal.wait_for(lambda: "via redis://:****@127.0.0.1:1/0" in terminal.text())
        if given == "-A":
            terminal.press("\r")  # proj.ping
            terminal.wait_for(lambda: "sends proj.ping" in terminal.text())
            terminal.press("\r")  # the send fails: the error quotes the URL
        else:
            terminal.press("a")  # the send fails: the error quotes the URL
        terminal.wait_for(lambda: "broker unreachable" in terminal.text())
    assert "redis://:****@127.0.0.1:1/0" in terminal.text()  # the broker is named, masked
    assert leaks(terminal.output) == []
    log = log_file.read_text()
    assert "broker unreachable" in log and leaks(log) == []


def test_setup_errors_never_show_the_password(samples: Path, tmp_path: Path):
    write_project(tmp_path, samples, broken=True)
    env = {**os.environ, "CELERY_BROKER_URL": BROKER}
    runs = [
        ["-A", "no_such_module", str(samples)],  # the URL comes from the environment
        ["-A", "brokenproj", str(samples)],  # the app's import fails quoting its URL
        ["-A", "brokenproj", "-b", BROKER, str(samples)],
    ]
    for args in runs:
        log_file = tmp_path / "setup.log"
        proc = subprocess.run(
            [sys.executable, "-m", "taskview", *args, "--log", str(log_file)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert leaks(proc.stderr) == [] and leaks(log_file.read_text()) == [], (args, proc.stderr)
    assert "redis://:****@127.0.0.1:1/0" in proc.stderr  # named, masked


def test_dumps_never_show_the_password(samples: Path, tmp_path: Path):
    env = {**os.environ, "CELERY_BROKER_URL": BROKER}
    for mode in (["--dump", "jsonl"], ["--dump", "csv"], ["--stats"], ["--stats", "--json"]):
        log_file = tmp_path / "dump.log"
        proc = subprocess.run(
            [sys.executable, "-m", "taskview", str(samples), "-b", BROKER, *mode, "--log", str(log_file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert leaks(proc.stdout) == [] and leaks(proc.stderr) == [] and leaks(log_file.read_text()) == []
