"""Loading the user's app like `celery -A`, and every way that fails, as one line without passwords."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from taskview.control.app_loading import ControlSetupError, load_app
from taskview.control.controller import Controller


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
        (
            "import requests_that_is_not_there\n",
            "{name}",
            "cannot load -A {name}: importing it failed: "
            "ModuleNotFoundError: No module named 'requests_that_is_not_there'",
        ),
        (
            "raise RuntimeError('cannot reach\\namqp://bob:hunter22@mq//')\n",
            "{name}",
            "cannot load -A {name}: importing it failed: RuntimeError: cannot reach amqp://bob:****@mq//",
        ),
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
