"""Finding the Celery app to control, the way ``celery -A app -b URL`` finds it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..text import summary
from .secrets import mask_text

if TYPE_CHECKING:  # importing celery costs ~0.3 s: only when a function needs it
    from celery import Celery

#: The environment variable Celery (and its CLI) reads the broker URL from.
BROKER_ENV = "CELERY_BROKER_URL"


class ControlSetupError(Exception):
    """The app or broker could not be set up; ``str()`` is one line, passwords masked."""


def _use_broker(app: Celery, broker_url: str) -> None:
    # Celery's conf.broker_url prefers the CELERY_BROKER_URL environment
    # variable over the configuration; read/write URLs are consulted first
    # for connections, so setting them makes an explicit URL win.
    app.conf.update(broker_url=broker_url, broker_read_url=broker_url, broker_write_url=broker_url)


def new_app(broker_url: str, name: str = "taskview") -> Celery:
    """A bare client app for ``broker_url`` (sends tasks by name; no result backend)."""
    from celery import Celery

    app = Celery(name, set_as_current=False)
    _use_broker(app, broker_url)
    app.conf.update(broker_connection_retry_on_startup=True)
    return app


def load_app(app_spec: str | None, broker_url: str | None) -> Celery | None:
    """The Celery app to control, found like ``celery -A app_spec [-b broker_url]``.

    - ``app_spec`` ("module" or "module:attribute"): imported from the current
      directory the way Celery's CLI does (``celery.app.utils.find_app``: the
      module's ``app``, then ``celery``, then ``module.celery``, then any Celery
      instance in it). ``broker_url``, when given, replaces its broker.
    - no ``app_spec``: a fresh app for ``broker_url``, or for the environment's
      ``CELERY_BROKER_URL`` when ``broker_url`` is None.
    - neither: None.

    Errors raise ``ControlSetupError`` with a one-line message without passwords.
    """
    env_url = os.environ.get(BROKER_ENV) or None
    urls = [broker_url, env_url]
    if not app_spec:
        url = broker_url or env_url
        if not url:
            return None
        try:
            return new_app(url)
        except Exception as exc:  # pragma: no cover - Celery() does not connect
            raise ControlSetupError(mask_text(summary(f"broker {url}: {exc}"), urls)) from None
    app = _find_app(app_spec, urls)
    if broker_url:
        _use_broker(app, broker_url)
    return app


def _find_app(app_spec: str, urls: list[str | None]) -> Celery:
    from celery import Celery
    from celery.app.utils import find_app

    def fail(why: str) -> ControlSetupError:
        return ControlSetupError(mask_text(summary(f"cannot load -A {app_spec}: {why}"), urls))

    module_name = app_spec.partition(":")[0]
    try:
        found = find_app(app_spec)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if ":" in app_spec and missing == app_spec:
            # find_app: getattr failed, then it tried "module:attr" as a module name
            attribute = app_spec.partition(":")[2]
            raise fail(f"module {module_name!r} has no attribute {attribute!r}") from None
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise fail(
                f"no module named {missing!r} (run taskview from your project's directory, or set PYTHONPATH)"
            ) from None
        raise fail(f"importing it failed: {type(exc).__name__}: {exc}") from None
    except AttributeError as exc:
        if ":" in app_spec:
            raise fail(f"{exc}") from None
        raise fail(
            f"no Celery app found in module {module_name!r} (looked for 'app', 'celery', "
            "then any Celery instance; name it with module:attribute)"
        ) from None
    except SystemExit as exc:
        raise fail(f"importing it called sys.exit({exc.code!r})") from None
    except Exception as exc:
        raise fail(f"importing it failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(found, Celery):
        raise fail(f"{app_spec} is a {type(found).__name__}, not a Celery app")
    return found
