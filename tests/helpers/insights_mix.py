"""A directory with a realistic mix for the insights screen, made from real worker files.

Files a real worker wrote (sample_results) rewritten with other ids, names, messages and
times: four task names; three exception types whose messages vary in numbers and ids
(two of them the project's own; one type with two messages); a burst of failures in one ten-minute window; one task
STARTED long ago (a stuck one). Deterministic: the same files for the same ``now``.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .samples import real_meta

NAMES = ("billing.charge", "mail.send", "report.build", "inventory.reserve")
#: The error groups of the mix and how many failures each has.
GROUPS = {
    "PaymentDeclined: card * declined (*)": 30,
    "InventoryError: out of stock, sku-*": 6,
    "ValueError: bad row *": 4,
    # The same type, another message: a group of its own.
    "PaymentDeclined: gateway timeout after *s": 2,
}
#: Each group's task name, exception type and module, and its message's arguments.
FAILURES: tuple[tuple[str, str, str, str, Callable[[random.Random], list[str]]], ...] = (
    (
        "PaymentDeclined: card * declined (*)",
        "billing.charge",
        "PaymentDeclined",
        "shop.errors",
        lambda rng: [f"card {rng.randint(1000, 9999)} declined ({rng.choice((402, 404, 409))})"],
    ),
    (
        "InventoryError: out of stock, sku-*",
        "inventory.reserve",
        "InventoryError",
        "sampletasks",
        lambda rng: ["out of stock", f"sku-{rng.randint(1, 999)}"],
    ),
    (
        "ValueError: bad row *",
        "report.build",
        "ValueError",
        "builtins",
        lambda rng: [f"bad row {rng.randint(1, 99999)}"],
    ),
    (
        "PaymentDeclined: gateway timeout after *s",
        "billing.charge",
        "PaymentDeclined",
        "shop.errors",
        lambda rng: [f"gateway timeout after {rng.randint(5, 60)}s"],
    ),
)
#: Where the failures of the burst finished: between 40 and 30 minutes before ``now``.
BURST = (2400, 1800)
SPAN = 3 * 3600  # the tasks finished over the last three hours


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def write_mix(target: Path, now: float, seed: int = 16) -> dict[str, str]:
    """Write the mix into ``target``; returns {task id: what it is} ("ok", a group key, "stuck")."""
    rng = random.Random(seed)
    success, failure, started = real_meta("SUCCESS"), real_meta("FAILURE"), real_meta("STARTED")
    target.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    def write(meta: dict, when: float, kind: str) -> None:
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        meta = {**meta, "task_id": task_id}
        path = target / f"celery-task-meta-{task_id}"
        path.write_text(json.dumps(meta))
        os.utime(path, (when, when))
        made[task_id] = kind

    for n in range(160):
        done = now - rng.uniform(60, SPAN)
        name = NAMES[n % len(NAMES)]
        write({**success, "name": name, "result": n, "date_done": _iso(done)}, done, "ok")
    for key, name, exc_type, module, arguments in FAILURES:
        for n in range(GROUPS[key]):
            # The card declines mostly in the burst, a few before and after it.
            burst = key == FAILURES[0][0] and n < 24
            done = now - (rng.uniform(*reversed(BURST)) if burst else rng.uniform(300, SPAN))
            result = {**failure["result"], "exc_type": exc_type, "exc_message": arguments(rng), "exc_module": module}
            write({**failure, "name": name, "result": result, "date_done": _iso(done)}, done, key)
    # A report running for two hours: its file written when it started.
    write({**started, "name": "report.build"}, now - 7200, "stuck")
    return made
