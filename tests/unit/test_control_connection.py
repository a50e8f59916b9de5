"""Broker URLs shown without passwords; loading the app like `celery -A`; stale STARTED tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from taskview.control.connection import (
    Controller,
    ControlSetupError,
    Outcome,
    is_stale,
    load_app,
    mask_text,
    mask_url,
    pid_alive,
)

# -- mask_url / mask_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:****@127.0.0.1:5672//"),
        ("redis://:s3cret@redis.example:6379/0", "redis://:****@redis.example:6379/0"),
        ("rediss://user:p%40ss%2Fw@host/1?ssl_cert_reqs=required", "rediss://user:****@host/1?ssl_cert_reqs=required"),
        ("amqp://u:p1@h1:5672//;amqp://u:p2@h2:5672//", "amqp://u:****@h1:5672//;amqp://u:****@h2:5672//"),
        ("amqp://guest@localhost//", "amqp://guest@localhost//"),  # no password
        ("amqp://guest:@localhost//", "amqp://guest:@localhost//"),  # empty password
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("filesystem://", "filesystem://"),
        ("memory://", "memory://"),
        ("sqs://AKIA123:secret+key/with/slashes@", "sqs://AKIA123:****@"),  # '/' in the password
        ("redis://h:6379/0?password=topsecret&db=1", "redis://h:6379/0?password=****&db=1"),
        ("", ""),
    ],
)
def test_mask_url(url: str, shown: str):
    assert mask_url(url) == shown


def test_mask_text_hides_every_form_of_the_password():
    url = "amqp://alice:p%40ss-w0rd@mq.example:5672/prod"
    text = (
        f"[Errno 111] Connection refused while connecting to {url}; "
        "login alice/p@ss-w0rd refused; retrying amqp://alice:p%40ss-w0rd@mq.example:5672/prod"
    )
    masked = mask_text(text, [url])
    assert "p@ss-w0rd" not in masked and "p%40ss-w0rd" not in masked
    assert "amqp://alice:****@mq.example:5672/prod" in masked
    assert masked.count("****") == 3


def test_mask_text_keeps_a_user_name_equal_to_the_password_readable_in_the_url():
    url = "amqp://guest:guest@127.0.0.1:5672//"
    masked = mask_text(f"broker unreachable: {mask_url(url)}: password guest refused", [url])
    assert masked == "broker unreachable: amqp://guest:****@127.0.0.1:5672//: password **** refused"


def test_mask_text_masks_urls_it_was_not_told_about_and_short_passwords_as_words():
    assert mask_text("connect redis://:abc@other:6379/0 failed", []) == "connect redis://:****@other:6379/0 failed"
    # a 2-character password is masked as a word, not inside other words
    masked = mask_text("pw is xy, not xyz", ["redis://:xy@h/0"])
    assert masked == "pw is ****, not xyz"


# -- load_app ---------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A directory to write modules into; the current directory, like `celery -A` run from a project."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    names: list[str] = []

    def write(source: str, *, package: bool = False, name: str | None = None) -> str:
        name = name or f"proj_{uuid.uuid4().hex[:8]}"
        names.append(name)
        if package:
            (tmp_path / name).mkdir()
            (tmp_path / name / "__init__.py").write_text("")
            (tmp_path / name / "celery.py").write_text(textwrap.dedent(source))
        else:
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield write
    for name in names:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


APP_SOURCE = """
    from celery import Celery
    app = Celery("proj", broker="amqp://bob:bobs-secret@mq.example//", set_as_current=False)
"""


def test_load_app_finds_the_app_like_celery_does(project):
    from celery import Celery

    name = project(APP_SOURCE)
    app = load_app(name, None)
    assert isinstance(app, Celery) and app.main == "proj"
    assert Controller(app).broker_display == "amqp://bob:****@mq.example//"
    assert load_app(f"{name}:app", None) is app

    other = project("""
        from celery import Celery
        worker_app = Celery("other", set_as_current=False)
    """)
    assert load_app(other, None).main == "other"  # any Celery instance in the module

    package = project(APP_SOURCE, package=True)  # -A pkg finds pkg.celery
    assert load_app(package, None).main == "proj"


def test_load_app_with_a_broker_url_replaces_the_apps_broker(project, monkeypatch):
    name = project(APP_SOURCE)
    # Celery itself prefers CELERY_BROKER_URL to the configuration; -b must win over both
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://env:env-secret@elsewhere//")
    app = load_app(name, "redis://:r3dis-pw@127.0.0.1:6379/2")
    assert app.conf.broker_write_url == "redis://:r3dis-pw@127.0.0.1:6379/2"
    assert Controller(app).broker_display == "redis://:****@127.0.0.1:6379/2"


def test_load_app_without_app(monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    assert load_app(None, None) is None
    app = load_app(None, "amqp://guest:guest@127.0.0.1:5672//")
    assert Controller(app).broker_display == "amqp://guest:****@127.0.0.1:5672//"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:pw-from-env@127.0.0.1:6379/0")
    assert Controller(load_app(None, None)).broker_display == "redis://:****@127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("source", "spec", "expected"),
    [
        (None, "no_such_module_xyz", "cannot load -A no_such_module_xyz: no module named 'no_such_module_xyz'"),
        (APP_SOURCE, "{name}:nope", "cannot load -A {name}:nope: module '{name}' has no attribute 'nope'"),
        ("x = 42\n", "{name}", "cannot load -A {name}: no Celery app found in module '{name}'"),
        ("thing = 42\n", "{name}:thing", "cannot load -A {name}:thing: {name}:thing is a int, not a Celery app"),
        ("import requests_that_is_not_there\n", "{name}",
         "cannot load -A {name}: importing it failed: ModuleNotFoundError: No module named 'requests_that_is_not_there'"),
        ("raise RuntimeError('cannot reach\\namqp://bob:hunter22@mq//')\n", "{name}",
         "cannot load -A {name}: importing it failed: RuntimeError: cannot reach amqp://bob:****@mq//"),
        ("def broken(:\n", "{name}", "cannot load -A {name}: importing it failed: SyntaxError"),
    ],
)
def test_load_app_errors_are_one_line_without_passwords(project, source, spec, expected):
    name = project(source) if source is not None else "unused"
    with pytest.raises(ControlSetupError) as info:
        load_app(spec.format(name=name), "amqp://bob:hunter22@mq//")
    message = str(info.value)
    assert message.startswith(expected.format(name=name)), message
    assert "\n" not in message and "hunter22" not in message


# -- Outcome, signals ----------------------------------------------------------------------


def test_revoke_refuses_an_unknown_signal_before_any_broker_call():
    controller = Controller(load_app(None, "amqp://guest:guest@127.0.0.1:1//"))
    outcome = controller.revoke("abc", terminate=True, signal="SIGNOPE")
    assert outcome == Outcome(False, "unknown signal 'SIGNOPE': revoke not sent", "abc")


# -- stale STARTED tasks ---------------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_is_stale():
    import socket

    here = f"w1@{socket.gethostname()}"
    elsewhere = "w1@some-other-host.invalid"
    gone = dead_pid()
    assert not pid_alive(gone) and pid_alive(os.getpid())
    replies = {here: {"ok": "pong"}, elsewhere: {"ok": "pong"}}

    assert is_stale(here, gone, replies)  # its pool process died, even if the worker answers
    assert is_stale(here, gone, None)  # no ping needed for that
    assert not is_stale(here, os.getpid(), replies)
    assert not is_stale(here, os.getpid(), None)
    assert not is_stale(elsewhere, gone, replies)  # another host's pid says nothing here
    assert is_stale(elsewhere, gone, {here: {}})  # its worker did not answer ping
    assert is_stale(elsewhere, None, {})
    assert not is_stale(elsewhere, None, None)  # ping unknown: not stale
    assert not is_stale(None, None, {})  # no worker recorded: cannot tell


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    # not reaped yet: a zombie once it exits
    import time

    deadline = time.monotonic() + 5
    while pid_alive(proc.pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, 0)  # still in the process table
    proc.wait()


def test_control_never_imports_textual():
    code = ("import sys, taskview.control.connection, taskview.control.demo_tasks, "
            "taskview.control.embedded, taskview.control.atomic_fs; "
            "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_passwords_with_unencoded_question_marks_and_semicolons_are_masked():
    from taskview.control.connection import mask_text, mask_url

    for url, shown in [
        ("redis://:pa?ss@host:6379/0", "redis://:****@host:6379/0"),
        ("amqp://user:pa;ss@host//", "amqp://user:****@host//"),
        ("amqp://u:a;b@h1//;amqp://u:c?d@h2//", "amqp://u:****@h1//;amqp://u:****@h2//"),
    ]:
        assert mask_url(url) == shown
        assert mask_text(f"cannot connect to {url}", [url]) == f"cannot connect to {shown}"
