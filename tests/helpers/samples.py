"""The real worker output shipped in sample_results/, and ways to look things up in it."""

from __future__ import annotations

import json
from pathlib import Path

from taskview.results.scan import ResultDirectory
from taskview.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RESULTS = ROOT / "sample_results"
SAMPLE_NAMES = sorted(p.name for p in SAMPLE_RESULTS.iterdir() if p.name.startswith("celery-"))
SAMPLE_COUNT = len(SAMPLE_NAMES)


def sample_file(name_part: str) -> Path:
    """The one file in sample_results whose meta mentions ``name_part`` (a task name or state)."""
    matches = [p for p in sorted(SAMPLE_RESULTS.iterdir()) if p.is_file() and name_part.encode() in p.read_bytes()]
    assert matches, f"no sample file mentions {name_part!r}"
    return matches[0]


def real_meta(status: str) -> dict:
    """The meta of the first sample file in ``status``."""
    for path in sorted(SAMPLE_RESULTS.iterdir()):
        meta = json.loads(path.read_bytes())
        if meta.get("status") == status:
            return meta
    raise AssertionError(status)


def status_of(path: Path) -> str | None:
    return json.loads(path.read_bytes()).get("status")


def by_name(directory: Path, task_name: str) -> Path:
    """The file of the first task called ``task_name`` in ``directory``."""
    return next(p for p in sorted(directory.iterdir()) if json.loads(p.read_bytes()).get("name") == task_name)


def sample_store() -> Store:
    store = Store()
    for batch in ResultDirectory(str(SAMPLE_RESULTS)).scan(batch_size=5):
        store.add_many(batch)
    return store


def finished_now(source: Path, target: Path) -> None:
    """``source``'s task as if it had just finished: its file written at ``target`` with today's
    date_done (a task's own clock, which the table's times follow, not the file's mtime)."""
    from datetime import datetime, timezone

    meta = json.loads(source.read_bytes())
    if meta.get("date_done"):
        meta["date_done"] = datetime.now(timezone.utc).isoformat()
    target.write_text(json.dumps(meta))
