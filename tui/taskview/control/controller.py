"""Enqueue, revoke and ping through a Celery app's broker, bounded in time, never raising.

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

import re
import signal as _signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from ..text import summary
from .secrets import mask_text, mask_url

if TYPE_CHECKING:  # importing celery costs ~0.3 s: only when a function needs it
    from celery import Celery

#: Broadcasts a control command with a reply ticket: ``publish(command, ticket, timeout)``.
Publish = Callable[[str, str, float], None]


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
        self._busy: set[str] = set()  # the kinds of single-flight call still waiting for the broker
        self._busy_lock = threading.Lock()
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

    def enqueue_chain(
        self, steps: Sequence[tuple[str, Sequence[Any], Mapping[str, Any] | None]], **options: Any
    ) -> Outcome:
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

    def revoke(
        self, task_id: str | Sequence[str], *, terminate: bool = False, signal: str | int = "SIGTERM"
    ) -> Outcome:
        """Revoke ``task_id`` (or each of a list: a workflow's unfinished tasks, in one broadcast) on
        every worker, if at least one worker answers ping.

        Revoke is a broadcast kept in the memory of the running workers: with
        none running it would do nothing, so it is not sent and the Outcome says so.
        """
        if not isinstance(task_id, str):
            task_ids = list(task_id)
            what = f"{len(task_ids)} task" + ("s" if len(task_ids) != 1 else "")
            outcome = self._revoke(task_ids, what, terminate=terminate, signal=signal)
            return Outcome(outcome.ok, outcome.message, task_ids[0] if task_ids else None)
        return self._revoke(task_id, task_id, terminate=terminate, signal=signal)

    def _revoke(self, task_id: str | list[str], what: str, *, terminate: bool, signal: str | int) -> Outcome:
        first = task_id if isinstance(task_id, str) else None
        if self.read_only:
            return Outcome(False, f"read-only: revoke of {what} not sent", first)
        sig = _signal_name(signal)
        if sig is None:
            return Outcome(False, f"unknown signal {signal!r}: revoke not sent", first)

        def send(conn: Any) -> Outcome:
            replies = self._ping(conn, self.ping_timeout, settle=0.25)
            if not replies:
                return Outcome(
                    False,
                    f"no worker answered ping within {self.ping_timeout:g} s: none could revoke it; revoke not sent",
                    first,
                )
            arguments = {"task_id": task_id, "terminate": terminate, "signal": sig}
            control_mailbox(self.app)(conn)._broadcast("revoke", arguments, reply=False, channel=conn.default_channel)
            how = f" (terminate, {sig})" if terminate else ""
            names = sorted(replies)
            to = f"{len(names)} workers" if len(names) > 2 else " and ".join(names)
            tail = "" if terminate else "; a running task finishes (terminate stops it)"
            of = f" of {what}" if first is None else ""
            return Outcome(True, f"revoke{how}{of} sent to {to}{tail}", first)

        return self._call("revoke", send)

    def revoke_many(
        self, task_ids: Sequence[str], *, terminate: bool = False, signal: str | int = "SIGTERM", ping: bool = True
    ) -> Outcome:
        """Revoke several tasks with one broadcast (the workers' ``revoke`` takes a list of ids).

        ``ping``: first make sure a worker answers (as ``revoke`` does); a bulk action pings
        once, with its first batch. The Outcome's ``ok`` says the broadcast went out.
        """
        ids = list(task_ids)
        if self.read_only:
            return Outcome(False, f"read-only: revoke of {len(ids)} tasks not sent")
        sig = _signal_name(signal)
        if sig is None:
            return Outcome(False, f"unknown signal {signal!r}: revoke not sent")

        def send(conn: Any) -> Outcome:
            if ping and not self._ping(conn, self.ping_timeout, settle=0.25):
                return Outcome(
                    False, f"no worker answered ping within {self.ping_timeout:g} s: none could revoke; not sent"
                )
            arguments = {"task_id": ids, "terminate": terminate, "signal": sig}
            control_mailbox(self.app)(conn)._broadcast("revoke", arguments, reply=False, channel=conn.default_channel)
            return Outcome(True, f"revoke of {len(ids)} tasks sent")

        return self._call("revoke", send)

    def enqueue_many(
        self, requests: Sequence[tuple[str, Sequence[Any], Mapping[str, Any], Mapping[str, Any]]]
    ) -> list[Outcome]:
        """``send_task(name, args, kwargs, **options)`` for each request, over one connection.

        One Outcome per request, in order. When the broker fails mid-way, the ones
        not sent say so (none is sent twice: a failed send is not retried).
        """
        if self.read_only:
            return [Outcome(False, f"read-only: {name} not sent") for name, _, _, _ in requests]
        done: list[Outcome] = []

        def send(conn: Any) -> list[Outcome]:
            for name, args, kwargs, options in requests:
                try:
                    result = self.app.send_task(
                        name, args=list(args), kwargs=dict(kwargs), connection=conn, retry=False, **options
                    )
                except Exception as exc:
                    done.append(Outcome(False, self._explain("enqueue", exc)))
                    if _is_connection_error(exc):
                        break
                    continue
                done.append(Outcome(True, f"sent {name} {result.id}", result.id))
            return done

        got = self._call("enqueue", send, timeout=self.call_timeout + 0.05 * len(requests))
        failure = got.message if isinstance(got, Outcome) else None
        outcomes = list(done)
        if len(outcomes) < len(requests):
            why = failure or (outcomes[-1].message if outcomes else "not sent")
            outcomes += [Outcome(False, f"not sent: {why}")] * (len(requests) - len(outcomes))
        return [Outcome(o.ok, mask_text(summary(o.message), self._urls), o.task_id) for o in outcomes]

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

    # -- workers and queues ------------------------------------------------------------

    def inspect_workers(
        self, timeout: float = 1.5, commands: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]] | Outcome:
        """``{command: {worker: reply}}`` of ``celery inspect`` stats, active, reserved, scheduled,
        active_queues and registered, asked at once; an Outcome(False, why) when the broker could not
        be asked. At most one waits for the broker at a time (else: an Outcome saying so)."""
        from .workers import COMMANDS

        asked = tuple(commands or COMMANDS)
        got = self._call(
            "inspect",
            lambda conn: self._ask_many(conn, asked, timeout),
            timeout=self.connect_timeout + timeout + 3.0,
            single="inspect",
        )
        return got

    def queue_depths(self, names: Sequence[str]) -> dict[str, Any] | Outcome:
        """``{queue: control.queues.QueueDepth}``, asked of the broker without creating any queue."""
        from .queues import queue_depths

        return self._call("queue sizes", lambda conn: queue_depths(conn, names), single="queues")

    def worker_command(self, worker: str, command: str, arguments: Mapping[str, Any] | None = None) -> Outcome:
        """Send control ``command`` to ``worker`` only, and say what it answered (one line).

        ``shutdown`` expects no answer (the worker stops; its warm shutdown lets running tasks finish)."""
        what = command.replace("_", " ")
        if self.read_only:
            return Outcome(False, f"read-only: {what} not sent to {worker}")
        expects_reply = command != "shutdown"

        def send(conn: Any) -> Outcome:
            mailbox = control_mailbox(self.app)(conn)
            replies = mailbox._broadcast(
                command,
                dict(arguments or {}),
                destination=[worker],
                reply=expects_reply,
                timeout=self.ping_timeout * 2,
                limit=1,
                channel=conn.default_channel,
            )
            if not expects_reply:
                return Outcome(True, f"{what} sent to {worker}")
            for reply in replies or ():
                if isinstance(reply, dict) and worker in reply:
                    answer = reply[worker]
                    if isinstance(answer, dict) and "error" in answer:
                        return Outcome(False, f"{worker} refused {what}: {answer['error']}")
                    if isinstance(answer, dict) and "ok" in answer:
                        return Outcome(True, f"{worker}: {answer['ok']}")
                    return Outcome(True, f"{worker}: {answer}")
            return Outcome(False, f"{what}: {worker} did not answer within {self.ping_timeout * 2:g} s")

        return self._call(what, send)

    def purge(self, queue: str) -> Outcome:
        """Delete every ready message of ``queue`` (never creating it); the Outcome says how many."""
        from .queues import purge_queue

        if self.read_only:
            return Outcome(False, f"read-only: queue {queue} not purged")

        def run(conn: Any) -> Outcome:
            count = purge_queue(conn, queue)
            if count is None:
                return Outcome(False, f"queue {queue} does not exist: nothing purged")
            return Outcome(True, f"purged queue {queue}: {count} message{'' if count == 1 else 's'} deleted")

        return self._call("purge", run)

    # -- machinery -------------------------------------------------------------------

    def _call(
        self, what: str, fn: Callable[[Any], Any], *, timeout: float | None = None, single: str | None = None
    ) -> Any:
        """``fn(connection)`` on a daemon thread; its result, or an Outcome(False, why) on any failure.

        ``single``: a kind of call of which at most one may wait for the broker at a time
        (an abandoned one still running refuses the next, instead of stacking on a slow broker)."""
        timeout = self.call_timeout if timeout is None else timeout
        if single is not None:
            with self._busy_lock:
                if single in self._busy:
                    return Outcome(False, f"{what}: the last request is still waiting for broker {self.broker_display}")
                self._busy.add(single)

        def run() -> Any:
            try:
                return attempt()
            finally:
                if single is not None:
                    with self._busy_lock:
                        self._busy.discard(single)

        def attempt() -> Any:
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
            options = {"socket_connect_timeout": self.connect_timeout, "socket_timeout": self.connect_timeout}
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

    def consumed_queues(self, timeout: float = 1.0) -> dict[str, list[str]] | None:
        """``{worker: [queue names it consumes]}`` of the workers that answer (``inspect
        active_queues``); None when the broker could not be asked."""

        def ask(conn: Any) -> dict[str, list[str]]:
            replies = self._ask(conn, "active_queues", timeout)
            return {
                worker: [str(q.get("name")) for q in queues if isinstance(q, dict) and q.get("name")]
                for worker, queues in replies.items()
                if isinstance(queues, list)
            }

        got = self._call("inspect", ask, timeout=self.connect_timeout + timeout + 3.0)
        return None if isinstance(got, Outcome) else got

    def _ping(self, conn: Any, timeout: float, settle: float | None = None) -> dict[str, dict[str, Any]]:
        """Broadcast ``ping`` and collect ``{hostname: reply}`` (see ``_ask``)."""
        replies = self._ask(conn, "ping", timeout, settle)
        return {worker: reply if isinstance(reply, dict) else {"reply": reply} for worker, reply in replies.items()}

    def _ask(self, conn: Any, command: str, timeout: float, settle: float | None = None) -> dict[str, Any]:
        """Broadcast a control ``command`` and collect ``{hostname: reply}``.

        Like Celery's ``control.ping`` (wait until ``timeout`` passes without a
        new reply) when ``settle`` is None; with ``settle``, stop ``settle``
        seconds after the first reply (enough to know that a worker runs, and
        most of the others on a local broker).
        """
        from kombu.utils.uuid import uuid

        ticket = uuid()
        replies: dict[str, Any] = {}
        first: list[float] = []

        def on_message(body: Any, message: Any) -> None:
            if _reply_ticket(body, message) != ticket:
                return
            for hostname, reply in body.items():
                replies[str(hostname)] = reply
            if not first:
                first.append(time.monotonic())

        with self._replies(conn, on_message) as publish:
            publish(command, ticket, timeout)
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
                except TimeoutError:
                    if settle is None and len(replies) != last_count:
                        continue
                    break
        return replies

    def _ask_many(
        self, conn: Any, commands: Sequence[str], timeout: float, settle: float | None = None
    ) -> dict[str, dict[str, Any]]:
        """Broadcast several inspect ``commands`` at once and collect ``{command: {hostname: reply}}``.

        Stops at ``timeout``, or ``settle`` seconds (half the timeout by default) after the last
        reply once every worker that answered anything has answered every command: a worker
        answering part of them is waited for until ``timeout`` (then its reply is partial), and
        one that answers nothing within ``settle`` of the others is not waited for (silent).
        """
        settle = timeout / 2 if settle is None else settle
        from kombu.utils.uuid import uuid

        tickets = {uuid(): command for command in commands}
        replies: dict[str, dict[str, Any]] = {command: {} for command in commands}
        last: list[float] = []

        def on_message(body: Any, message: Any) -> None:
            command = tickets.get(str(_reply_ticket(body, message)))
            if command is None:
                return
            for hostname, reply in body.items():
                replies[command][str(hostname)] = reply
            last[:] = [time.monotonic()]

        with self._replies(conn, on_message) as publish:
            for ticket, command in tickets.items():
                publish(command, ticket, timeout)
            deadline = time.monotonic() + timeout
            while True:
                now = time.monotonic()
                stop = deadline
                if last:
                    everyone = set().union(*replies.values())
                    if all(everyone <= set(got) for got in replies.values()):
                        stop = min(deadline, last[0] + settle)
                remaining = stop - now
                if remaining <= 0:
                    break
                try:
                    conn.drain_events(timeout=remaining)
                except TimeoutError:
                    continue
        return replies

    @contextmanager
    def _replies(self, conn: Any, on_message: Callable[[Any, Any], None]) -> Iterator[Publish]:
        """The workers' replies to control commands, each given to ``on_message``, while the block
        runs; the block broadcasts with the function it gets: ``publish(command, ticket, timeout)``."""
        from kombu import Consumer

        from .compat import check_broadcasts

        check_broadcasts(conn)  # kombu < 5.3's filesystem transport: no worker would ever answer
        mailbox = control_mailbox(self.app)(conn)
        chan = conn.default_channel
        queue = mailbox.reply_queue

        def publish(command: str, ticket: str, timeout: float) -> None:
            mailbox._publish(command, {}, reply_ticket=ticket, channel=chan, timeout=timeout)

        with Consumer(chan, [queue], accept=mailbox.accept, no_ack=True, callbacks=[on_message]):
            yield publish
        try:
            chan.after_reply_message_received(queue.name)
        except Exception:
            pass

    def _explain(self, what: str, exc: BaseException, *, connecting: bool = False) -> str:
        from .compat import BroadcastUnsupported

        reason = _reason(exc)
        kind = type(exc).__name__
        if isinstance(exc, BroadcastUnsupported):
            return f"{what} not sent: {reason}"
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

    from .compat import mailbox_options

    # the installed Celery's own parameters (older ones lack some: compat)
    return Mailbox(app.conf.control_exchange, **mailbox_options(app.conf, Mailbox))


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


def _reply_ticket(body: Any, message: Any) -> str | None:
    """The ticket a control reply answers; None for a reply expired, or not a mapping of replies."""
    headers = message.headers or {}
    expires = headers.get("expires")
    if (expires and time.time() > expires) or not isinstance(body, dict):
        return None
    ticket = headers.get("ticket")
    return ticket if isinstance(ticket, str) else None


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
    from kombu.exceptions import OperationalError

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
