"""Carrying out a bulk action's plan (``bulk_plan.py``): in batches, cancellable, never raising.

Revoke, terminate and kill go out as one broadcast per batch (the workers take a
list of ids; a worker must answer ping first, asked once); retry sends each
task again over one connection per batch; forget removes files
(``control/forget.py``). Between two batches ``progress`` is told how far it got
and ``cancelled`` is asked; a batch that fails for the broker stops the action
(the rest are failed, "not sent", and the outcome counts what was done).
Each task's outcome can go to an audit log: one JSON line per task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .bulk_plan import REVOKING, Done, Plan, Target
from .forget import remove_files

if TYPE_CHECKING:
    from .controller import Controller

audit_log = logging.getLogger("taskview.audit")  # --log: one JSON line per task (debug_log gives it its file)

#: Tasks per broadcast or connection: a progress step, and where Esc can stop it.
BATCH = 100


def execute(
    plan: Plan,
    *,
    controller: Controller | None = None,
    directory: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    batch: int | None = None,
) -> list[Done]:
    """Carry ``plan`` out; one ``Done`` per target, in order. ``controller`` for revoke and retry,
    ``directory`` for forget; ``batch`` tasks at a time (``BATCH``)."""
    batch = batch or BATCH
    targets = plan.targets
    done: list[Done] = []
    stopped: str | None = None  # why the rest are not tried (a broker failure)
    first = True
    for start in range(0, len(targets), batch):
        chunk = targets[start : start + batch]
        if cancelled is not None and cancelled():
            done += [Done(t.task_id, t.name, False, "cancelled", cancelled=True) for t in targets[start:]]
            break
        if stopped is not None:
            done += [Done(t.task_id, t.name, False, f"not sent: {stopped}") for t in chunk]
            continue
        if plan.action in REVOKING:
            results, stopped = _revoke(plan.action, chunk, controller, ping=first)
        elif plan.action == "retry":
            results, stopped = _retry(chunk, controller)
        else:
            results, stopped = _forget(chunk, directory)
        first = False
        done += results
        if progress is not None:
            progress(len(done), len(targets))
    return done


def _revoke(
    action: str, chunk: Sequence[Target], controller: Controller | None, *, ping: bool
) -> tuple[list[Done], str | None]:
    if controller is None:
        return [Done(t.task_id, t.name, False, "no broker") for t in chunk], "no broker"
    outcome = controller.revoke_many(
        [t.task_id for t in chunk],
        terminate=action != "revoke",
        signal="SIGKILL" if action == "kill" else "SIGTERM",
        ping=ping,
    )
    if outcome.ok:
        return [Done(t.task_id, t.name, True) for t in chunk], None
    return [Done(t.task_id, t.name, False, outcome.message) for t in chunk], outcome.message


def _retry(chunk: Sequence[Target], controller: Controller | None) -> tuple[list[Done], str | None]:
    if controller is None:
        return [Done(t.task_id, t.name, False, "no broker") for t in chunk], "no broker"
    requests = []
    for t in chunk:
        assert t.request is not None
        requests.append((t.request.name, t.request.args, t.request.kwargs, t.request.options))
    outcomes = controller.enqueue_many(requests)
    results = [
        Done(t.task_id, t.name, o.ok, f"as {o.task_id}" if o.ok else o.message, sent=o.task_id if o.ok else None)
        for t, o in zip(chunk, outcomes, strict=True)
    ]
    failures = [o for o in outcomes if not o.ok and o.message.startswith(("not sent", "broker"))]
    return results, failures[-1].message if failures else None


def _forget(chunk: Sequence[Target], directory: str | None) -> tuple[list[Done], str | None]:
    if directory is None:
        return [Done(t.task_id, t.name, False, "no directory") for t in chunk], "no directory"
    try:
        outcomes = list(remove_files(directory, [(t.filename, t.size, t.mtime) for t in chunk]))
    except OSError as exc:
        why = f"cannot open {directory}: {exc.strerror or exc}"
        return [Done(t.task_id, t.name, False, why) for t in chunk], why
    return [Done(t.task_id, t.name, ok, why) for t, (ok, why) in zip(chunk, outcomes, strict=True)], None


def audit(plan: Plan, done: Sequence[Done], broker: str | None) -> None:
    """One JSON line per task in the ``--log`` file: action, task id, name, outcome, broker (masked)."""
    if not audit_log.handlers:
        return
    for d in done:
        outcome = "ok" if d.ok else ("cancelled" if d.cancelled else "failed")
        entry = {"action": plan.action, "task_id": d.task_id, "name": d.name, "outcome": outcome, "detail": d.detail}
        if broker is not None:
            entry["broker"] = broker
        audit_log.info("%s", json.dumps(entry, ensure_ascii=False))
    for s in plan.skipped:
        entry = {"action": plan.action, "task_id": s.task_id, "name": s.name, "outcome": "skipped", "detail": s.reason}
        audit_log.info("%s", json.dumps(entry, ensure_ascii=False))
