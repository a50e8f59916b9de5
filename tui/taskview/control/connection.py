"""Talking to Celery: load the app, then enqueue, revoke and ping through its broker.

Nothing here imports Textual. Every ``Controller`` call is bounded in time,
safe to run from any thread, and never raises: it returns an ``Outcome`` whose
message is one line fit for a status bar, with broker passwords masked.

Why each call opens its own connection with short timeouts: kombu's defaults
retry a dead broker for a long time (``Producer.publish(retry=True)`` and the
pidbox publish retry "forever"), and its connections are not thread-safe. A
fresh connection per call, established with at most one attempt per host and
``connect_timeout`` seconds, answers "broker unreachable" in milliseconds
(refused) or ``connect_timeout`` (no answer); each call also runs on a daemon
thread and is abandoned after ``call_timeout``, so nothing ever hangs the caller.
"""

from __future__ import annotations

import os
import re
import signal as _signal
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote, unquote

from ..text import summary

if TYPE_CHECKING:  # importing celery costs ~0.3 s: only when a function needs it
    from celery import Celery

MASK = "****"

#: The environment variable Celery (and its CLI) reads the broker URL from.
BROKER_ENV = "CELERY_BROKER_URL"


# --- masking -------------------------------------------------------------------


def _userinfo_span(part: str) -> tuple[int, int] | None:
    """(start, end) of the password in one URL (no ';'), or None."""
    scheme_end = part.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    end = len(part)
    for ch in "/?#":
        i = part.find(ch, start)
        if i != -1:
            end = min(end, i)
    at = part.rfind("@", start, end)
    if at == -1:
        # A password with an unencoded '/', '?' or '#' ends the netloc early
        # (kombu would misparse it too). Mask conservatively: up to the last
        # '@', when the text before the first ':' looks like a user name.
        at = part.rfind("@", start)  # even past a '?' or ';' that belongs to the password
        if at == -1:
            return None
        colon = part.find(":", start, at)
        if colon == -1 or any(c in part[start:colon] for c in "/?#"):
            return None
        return (colon + 1, at) if at > colon + 1 else None
    colon = part.find(":", start, at)
    if colon == -1 or colon + 1 == at:
        return None  # no password (user only, or "user:@")
    return colon + 1, at


_QUERY_SECRET = re.compile(r"([?&](?:password|passwd|pass|sentinel_password)=)[^&#;\s]*", re.IGNORECASE)


def _mask_part(part: str) -> str:
    span = _userinfo_span(part)
    if span is not None:
        part = part[: span[0]] + MASK + part[span[1] :]
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, part)


def mask_url(url: str) -> str:
    """``url`` with its password(s) replaced by ``****``; several hosts may be separated by ';'.

    >>> mask_url("amqp://guest:guest@localhost:5672//")
    'amqp://guest:****@localhost:5672//'
    """
    if not url:
        return url
    return ";".join(_mask_part(part) for part in _hosts(url))


#: where a second URL starts in "url1;url2" (a ';' inside a password is not followed by "scheme://")
_NEXT_URL = re.compile(r";(?=[A-Za-z][A-Za-z0-9+.\-]*://)")


def _hosts(url: str) -> list[str]:
    return _NEXT_URL.split(url)


def _passwords(url: str) -> set[str]:
    found: set[str] = set()
    for part in _hosts(url):
        span = _userinfo_span(part)
        if span is not None:
            found.add(part[span[0] : span[1]])
        for m in _QUERY_SECRET.finditer(part):
            value = part[m.end(1) : m.end()]
            if value:
                found.add(value)
    secrets: set[str] = set()
    for pw in found:
        secrets.update({pw, unquote(pw), quote(unquote(pw), safe="")})
    return {s for s in secrets if s}


#: any "scheme://user:password@" in a message, whatever URL it belongs to
_ANY_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@;]*:)(?P<pw>[^\s@;]+)(?P<at>@)")


def mask_text(text: str, urls: Iterable[str | None] = ()) -> str:
    """``text`` with every password of ``urls`` (and of any URL written in it) masked.

    Exceptions from kombu/redis/amqp may echo the URL, or only its password.
    """
    if not text:
        return text
    urls = [u for u in urls if u]
    # 1. the URLs themselves, kept readable: placeholders while masking the rest
    # (the masked forms too: a user name equal to the password stays readable there)
    placeholders: list[str] = []
    forms = {f for u in urls for p in (u, *u.split(";")) if p for f in (p, mask_url(p))}
    for url in sorted(forms, key=len, reverse=True):
        if url in text:
            token = f"\x00{len(placeholders)}\x00"
            placeholders.append(mask_url(url))
            text = text.replace(url, token)
    # 2. any other URL with a password
    text = _ANY_USERINFO.sub(lambda m: m.group("head") + MASK + m.group("at"), text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    # 3. bare passwords (short ones only as whole words, not inside other words)
    for secret in sorted({s for u in urls for s in _passwords(u)}, key=len, reverse=True):
        if secret == MASK:
            continue
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    for i, masked in enumerate(placeholders):
        text = text.replace(f"\x00{i}\x00", masked)
    return text


# --- loading the app -------------------------------------------------------------


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


# --- the controller --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one command did: ``ok``, a one-line ``message``, the ``task_id`` it sent or concerned."""

    ok: bool
    message: str
    task_id: str | None = None


class _DaemonThreads:
    """A tiny thread pool of daemon threads (threads are reused, never joined).

    ``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter
    exit: a call stuck on a dead broker would keep taskview from exiting.
    Reusing threads also keeps Celery's per-thread backend instance (the file
    backend writes a probe file in the results directory per instance).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._pending = 0

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._pending += 1
            if self._pending > self._idle:
                self._idle += 1  # counted as idle from now on: it is about to wait
                threading.Thread(target=self._loop, name=self._name, daemon=True).start()
        self._jobs.put((fn, future))
        return future

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            with self._lock:
                self._pending -= 1
                self._idle -= 1
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        future.set_exception(exc)
            finally:
                with self._lock:
                    self._idle += 1


_SIGNALS = {s.name for s in _signal.Signals}


def _signal_name(sig: str | int) -> str | None:
    """'SIGTERM', 'TERM', 15 -> 'SIGTERM'; None when unknown."""
    if isinstance(sig, int):
        try:
            return _signal.Signals(sig).name
        except ValueError:
            return None
    name = str(sig).strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    return name if name in _SIGNALS else None


class Controller:
    """Enqueue, revoke and ping through a Celery app's broker, from any thread, never raising.

    - ``connect_timeout``: the longest wait for the broker to accept a connection.
    - ``call_timeout``: the longest any call takes, broker or not (the call is
      then abandoned on its daemon thread, and says so).
    """

    def __init__(
        self,
        app: Celery,
        *,
        read_only: bool = False,
        connect_timeout: float = 2.5,
        call_timeout: float = 6.0,
        ping_timeout: float = 1.0,
    ) -> None:
        self.app = app
        self.read_only = read_only
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.ping_timeout = ping_timeout
        self._urls = _broker_urls(app)
        self.broker_display = _display(app, self._urls[0]) if self._urls else "?"
        self._threads = _DaemonThreads("taskview-control")
        #: why the last ping_workers() returned None (one line, masked), else None
        self.last_ping_error: str | None = None

    @property
    def broker_urls(self) -> list[str]:
        """The broker URLs, unmasked: for masking them wherever they might be echoed."""
        return list(self._urls)

    def __repr__(self) -> str:
        mode = ", read-only" if self.read_only else ""
        return f"<Controller {self.broker_display}{mode}>"

    # -- public calls --------------------------------------------------------------

    def enqueue(
        self, task_name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Outcome:
        """``send_task(task_name, args, kwargs, **options)``: Outcome(True, "sent <name> <id>", id)."""
        if self.read_only:
            return Outcome(False, f"read-only: {task_name} not sent")

        def send(conn: Any) -> Outcome:
            result = self.app.send_task(
                task_name, args=list(args), kwargs=dict(kwargs or {}), connection=conn, retry=False, **options
            )
            return Outcome(True, f"sent {task_name} {result.id}", result.id)

        return self._call("enqueue", send)

    def enqueue_chain(self, steps: Sequence[tuple[str, Sequence[Any], Mapping[str, Any] | None]], **options: Any) -> Outcome:
        """Send ``chain(name1.s(*args1, **kwargs1), name2.s(...), ...)`` by task name.

        ``options`` (``queue``...) apply to every step. The Outcome's task_id is
        the first task's (the chain's root: it runs first, its ``children``
        lead to the next step); the message also names the last one.
        """
        if self.read_only:
            return Outcome(False, "read-only: chain not sent")
        if not steps:
            return Outcome(False, "empty chain: nothing sent")

        def send(conn: Any) -> Outcome:
            from celery import chain

            sigs = [
                self.app.signature(name, args=tuple(args), kwargs=dict(kwargs or {}), **options)
                for name, args, kwargs in steps
            ]
            last = chain(*sigs).apply_async(connection=conn, retry=False)
            root = last
            while getattr(root, "parent", None) is not None:
                root = root.parent
            names = " | ".join(name.rpartition(".")[2] for name, _, _ in steps)
            return Outcome(True, f"sent chain {names}: first {root.id}, last {last.id}", root.id)

        return self._call("enqueue", send)

    def revoke(self, task_id: str, *, terminate: bool = False, signal: str | int = "SIGTERM") -> Outcome:
        """Revoke ``task_id`` on every worker, if at least one worker answers ping.

        Revoke is a broadcast kept in the memory of the running workers: with
        none running it would do nothing, so it is not sent and the Outcome says so.
        """
        if self.read_only:
            return Outcome(False, f"read-only: revoke of {task_id} not sent", task_id)
        sig = _signal_name(signal)
        if sig is None:
            return Outcome(False, f"unknown signal {signal!r}: revoke not sent", task_id)

        def send(conn: Any) -> Outcome:
            replies = self._ping(conn, self.ping_timeout, settle=0.25)
            if not replies:
                return Outcome(
                    False,
                    f"no worker answered ping within {self.ping_timeout:g} s: none could revoke it; revoke not sent",
                    task_id,
                )
            arguments = {"task_id": task_id, "terminate": terminate, "signal": sig}
            control_mailbox(self.app)(conn)._broadcast("revoke", arguments, reply=False, channel=conn.default_channel)
            how = f" (terminate, {sig})" if terminate else ""
            names = sorted(replies)
            to = f"{len(names)} workers" if len(names) > 2 else " and ".join(names)
            tail = "" if terminate else "; a running task finishes (terminate stops it)"
            return Outcome(True, f"revoke{how} sent to {to}{tail}", task_id)

        return self._call("revoke", send)

    def ping(self, timeout: float = 1.0) -> dict[str, dict[str, Any]]:
        """``{worker hostname: reply}`` of the workers that answered; ``{}`` on any failure."""
        return self.ping_workers(timeout) or {}

    def ping_workers(self, timeout: float = 1.0) -> dict[str, dict[str, Any]] | None:
        """Like ``ping``, but None when the broker could not be asked ("unknown", not "no worker").

        Use this for stale detection: ``is_stale(..., None)`` does not blame
        the workers for a broker that is down. The reason is kept in ``last_ping_error``.
        """
        got = self._call("ping", lambda conn: self._ping(conn, timeout), timeout=self.connect_timeout + timeout + 3.0)
        if isinstance(got, Outcome):
            self.last_ping_error = got.message
            return None
        self.last_ping_error = None
        return got

    # -- machinery -------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[Any], Any], *, timeout: float | None = None) -> Any:
        """``fn(connection)`` on a daemon thread; its result, or an Outcome(False, why) on any failure."""
        timeout = self.call_timeout if timeout is None else timeout

        def run() -> Any:
            try:
                conn = self._connect()
            except Exception as exc:
                return Outcome(False, self._explain(what, exc, connecting=True))
            try:
                return fn(conn)
            except Exception as exc:
                return Outcome(False, self._explain(what, exc))
            finally:
                # Closing may wait: kombu's Redis channel reads the answer of
                # its pending BRPOP first (up to 1 s). Nobody needs to wait for it.
                self._threads.submit(lambda: _release(conn))

        try:
            got = self._threads.submit(run).result(timeout)
        except FutureTimeout:
            got = Outcome(
                False,
                f"{what}: no answer from broker {self.broker_display} within {timeout:g} s"
                + (" (it may still be sent)" if what in ("enqueue", "revoke") else ""),
            )
        except BaseException as exc:  # pragma: no cover - run() catches everything
            got = Outcome(False, f"{what} failed: {type(exc).__name__}: {exc}")
        if isinstance(got, Outcome):
            return Outcome(got.ok, mask_text(summary(got.message), self._urls), got.task_id)
        return got

    def _connect(self) -> Any:
        """A new broker connection, established now: one attempt per host, bounded."""
        options: dict[str, Any] = {}
        if self._urls and self._urls[0].split("://", 1)[0].startswith(("redis", "rediss", "sentinel")):
            # redis-py waits forever for a server that accepts and never answers
            options = {"socket_connect_timeout": self.connect_timeout,
                       "socket_timeout": self.connect_timeout}
        conn = self.app.connection_for_write(connect_timeout=self.connect_timeout, transport_options=options)
        try:
            hosts = max(1, len(getattr(conn, "alt", None) or ()))
            conn.ensure_connection(
                max_retries=hosts - 1,
                interval_start=0,
                interval_step=0.2,
                interval_max=0.5,
                timeout=self.connect_timeout * hosts,
            )
        except BaseException:
            try:
                conn.release()
            except Exception:
                pass
            raise
        return conn

    def _ping(self, conn: Any, timeout: float, settle: float | None = None) -> dict[str, dict[str, Any]]:
        """Broadcast ``ping`` and collect ``{hostname: reply}``.

        Like Celery's ``control.ping`` (wait until ``timeout`` passes without a
        new reply) when ``settle`` is None; with ``settle``, stop ``settle``
        seconds after the first reply (enough to know that a worker runs, and
        most of the others on a local broker).
        """
        from kombu import Consumer
        from kombu.utils.uuid import uuid

        mailbox = control_mailbox(self.app)(conn)
        chan = conn.default_channel
        ticket = uuid()
        replies: dict[str, dict[str, Any]] = {}
        first: list[float] = []

        def on_message(body: Any, message: Any) -> None:
            headers = message.headers or {}
            expires = headers.get("expires")
            if expires and time.time() > expires:
                return
            if headers.get("ticket") != ticket or not isinstance(body, dict):
                return
            for hostname, reply in body.items():
                replies[str(hostname)] = reply if isinstance(reply, dict) else {"reply": reply}
            if not first:
                first.append(time.monotonic())

        queue = mailbox.reply_queue
        consumer = Consumer(chan, [queue], accept=mailbox.accept, no_ack=True, callbacks=[on_message])
        with consumer:
            mailbox._publish("ping", {}, reply_ticket=ticket, channel=chan, timeout=timeout)
            last_count = 0
            deadline = time.monotonic() + timeout
            while True:
                now = time.monotonic()
                if settle is not None and first:
                    deadline = min(deadline, first[0] + settle)
                elif settle is None and len(replies) != last_count:
                    last_count = len(replies)
                    deadline = now + timeout  # Celery's rule: `timeout` after the last reply
                remaining = deadline - now
                if remaining <= 0:
                    break
                try:
                    conn.drain_events(timeout=remaining)
                except socket.timeout:
                    if settle is None and len(replies) != last_count:
                        continue
                    break
        try:
            chan.after_reply_message_received(queue.name)
        except Exception:
            pass
        return replies

    def _explain(self, what: str, exc: BaseException, *, connecting: bool = False) -> str:
        reason = _reason(exc)
        kind = type(exc).__name__
        text = f"{kind} {reason}".lower()
        if "access_refused" in text or "authentication" in text or "invalid password" in text or "noauth" in text:
            return f"broker refused the login: {self.broker_display}: {reason}"
        if _is_timeout(exc):
            return f"broker unreachable: {self.broker_display}: no answer within {self.connect_timeout:g} s"
        if _is_connection_error(exc):
            return f"broker unreachable: {self.broker_display}: {reason}"
        if connecting:
            return f"cannot use broker {self.broker_display}: {kind}: {reason}"
        if kind == "NotRegistered":
            return f"{what} failed: task {reason} is not known"
        return f"{what} failed: {kind}: {reason}"


def control_mailbox(app: Celery) -> Any:
    """Celery's control mailbox for ``app``, publishing on the connection it is bound to.

    ``app.control.mailbox`` publishes through the app's shared producer pool
    (its own connection, retried at length when the broker is down); this one
    uses the channel of the connection given to ``mailbox(conn)``: bounded, and
    nothing shared between threads.
    """
    from kombu.pidbox import Mailbox

    conf = app.conf
    return Mailbox(
        conf.control_exchange,
        type="fanout",
        accept=conf.accept_content,
        serializer=conf.task_serializer,
        queue_ttl=conf.control_queue_ttl,
        reply_queue_ttl=conf.control_queue_ttl,
        queue_expires=conf.control_queue_expires,
        queue_exclusive=conf.control_queue_exclusive,
        queue_durable=conf.control_queue_durable,
        reply_queue_expires=conf.control_queue_expires,
    )


def _reason(exc: BaseException) -> str:
    """The most telling one-line text of an exception (walks the cause chain)."""
    seen = set()
    e: BaseException | None = exc
    best = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        best = e
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        e = e.__cause__ or e.__context__
    text = str(exc) or str(best) or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    return summary(text)


def _release(conn: Any) -> None:
    try:
        conn.release()
    except Exception:
        pass


def _is_timeout(exc: BaseException) -> bool:
    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, (socket.timeout, TimeoutError)) or type(e).__name__ == "TimeoutError":
            return True
        e = e.__cause__ or e.__context__
    return False


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from kombu.exceptions import OperationalError
    except Exception:  # pragma: no cover
        OperationalError = ()  # type: ignore[assignment]
    names = {"ConnectionError", "OperationalError", "RecoverableConnectionError", "TimeoutError"}
    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, (OSError, socket.timeout, OperationalError)) or type(e).__name__ in names:
            return True
        e = e.__cause__ or e.__context__
    return False


def _broker_urls(app: Celery) -> list[str]:
    """The app's broker URLs, write URL first (what a command is sent to)."""
    urls: list[str] = []
    conf = app.conf
    for key in ("broker_write_url", "broker_url", "broker_read_url"):
        try:
            value = getattr(conf, key)
        except Exception:
            value = None
        if isinstance(value, (list, tuple)):
            value = ";".join(str(v) for v in value)
        if value and value not in urls:
            urls.append(str(value))
    if not urls:
        try:  # Celery's default broker: amqp://guest:guest@localhost:5672//
            conn = app.connection_for_write()
            urls.append(conn.as_uri(include_password=True))
        except Exception:
            pass
    return urls


def _display(app: Celery, url: str) -> str:
    """The masked URL; for kombu's filesystem broker, with its folder (the URL names none)."""
    shown = mask_url(url)
    if url.startswith("filesystem:"):
        try:
            folder = (app.conf.broker_transport_options or {}).get("data_folder_out")
        except Exception:
            folder = None
        if folder:
            shown = f"{shown} ({folder})"
    return shown


# --- stale STARTED tasks -----------------------------------------------------------------

_HOSTNAME = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this host (whoever owns it; zombies are dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's: alive
    except (OverflowError, ValueError):
        return False
    # a zombie (dead, not yet reaped by its worker) is not alive
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return True  # no /proc (not Linux), or gone just now: os.kill said it existed


def is_local(worker_hostname: str | None) -> bool:
    """Whether a Celery node name ("name@host") runs on this host."""
    return bool(worker_hostname) and worker_hostname.rpartition("@")[2] == _HOSTNAME  # type: ignore[union-attr]


def is_stale(
    worker_hostname: str | None, pid: int | None, ping_replies: Mapping[str, Any] | None
) -> bool:
    """Is a STARTED task left behind by a dead worker?

    Stale when its worker runs on this host and its pool process ``pid`` no
    longer exists, or when ``ping_replies`` (from ``Controller.ping``) does not
    list its worker. ``ping_replies=None`` means "not known" (no broker, or
    the ping failed): only the pid test applies then.
    """
    if pid and is_local(worker_hostname) and isinstance(pid, int) and not pid_alive(pid):
        return True
    if ping_replies is not None and worker_hostname:
        return worker_hostname not in ping_replies
    return False
