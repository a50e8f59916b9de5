"""``--log FILE``: a debug log to attach to a bug report, with every broker password masked.

taskview's own loggers write at DEBUG (tail batches and scans, directory problems,
notices, control actions and their outcomes), other libraries at WARNING.
Masking is a filter on the handler, so no record reaches the file unmasked,
whoever logged it; uncaught exceptions (any thread) are logged with their traceback.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

log = logging.getLogger("taskview")
#: Bulk actions' audit: one JSON object a line, written as it is (no time or level before it).
audit_log = logging.getLogger("taskview.audit")
# Without --log, taskview's warnings go nowhere: Python's last-resort handler
# would print them on stderr, across the inspector's screen. (Set here, not in the
# package: the headless modes never log, and load faster without logging.)
log.addHandler(logging.NullHandler())

FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


class MaskSecrets(logging.Filter):
    """Masks the passwords of ``urls`` (and of any URL written in a message) in every record."""

    def __init__(self, urls: Iterable[str | None] = ()) -> None:
        super().__init__()
        self.urls: set[str] = {u for u in urls if u}
        self.handler: logging.Handler | None = None
        self.audit_handler: logging.Handler | None = None

    def add_urls(self, urls: Iterable[str | None]) -> None:
        self.urls.update(u for u in urls if u)

    def filter(self, record: logging.LogRecord) -> bool:
        from .control.secrets import mask_text

        record.msg, record.args = mask_text(record.getMessage(), self.urls), None
        if record.exc_info and not record.exc_text:
            # Formatted here, so the traceback (which may quote a URL) is masked too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, self.urls)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, self.urls)
        return True


def start(path: str, urls: Iterable[str | None] = ()) -> MaskSecrets:
    """Log to ``path`` (appending); raises OSError when it cannot be opened. ``stop()`` undoes it."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    masking = MaskSecrets(urls)
    masking.handler = handler
    handler.addFilter(masking)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    audit = logging.FileHandler(path, mode="a", encoding="utf-8")  # the same file: `grep '^{'` finds them
    audit.addFilter(masking)
    audit.setFormatter(logging.Formatter("%(message)s"))
    audit_log.addHandler(audit)
    audit_log.propagate = False
    masking.audit_handler = audit
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    log.setLevel(logging.DEBUG)
    _log_uncaught()
    return masking


_previous_hooks: list[tuple[Any, Any]] = []


def stop(masking: MaskSecrets) -> None:
    """Close the log and put the exception hooks back (for tests; the CLI logs until it exits)."""
    if masking.handler is not None:
        logging.getLogger().removeHandler(masking.handler)
        masking.handler.close()
    if masking.audit_handler is not None:
        audit_log.removeHandler(masking.audit_handler)
        masking.audit_handler.close()
        audit_log.propagate = True
    if _previous_hooks:
        sys.excepthook, threading.excepthook = _previous_hooks.pop()


def _log_uncaught() -> None:
    previous_hook = sys.excepthook
    previous_thread_hook = threading.excepthook
    _previous_hooks.append((previous_hook, previous_thread_hook))

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            thread = args.thread.name if args.thread is not None else "?"
            # The exception itself carries its traceback (None only for a bare raise of a class).
            log.critical("uncaught exception in thread %s", thread, exc_info=args.exc_value or True)
        previous_thread_hook(args)

    sys.excepthook = hook
    threading.excepthook = thread_hook
