"""Every unsafe path has a canary, in the inspector itself (Pilot).

The CLI's side (``--stats``, ``--dump``, ``--replay --dump``) is in
tests/integration/test_unsafe_paths.py, with what the product promises. Here the
same sources are opened as the command opens them (cli.py, replay/command.py): a
directory watched live, an archive opened (its last state) or replayed (``--replay``,
then End), a journal replayed; and the pickled task's detail pane is opened with
Enter, so the file is read in full once more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.pilot import plain, wait_until
from helpers.unsafe_inputs import (
    ARCHIVE_KINDS,
    DECOY,
    JOURNAL_TASKS,
    NOT_REGULAR,
    PICKLE_REFUSED,
    PICKLED_ID,
    PLAIN_ID,
    SECRET,
    Outside,
    hostile_archive,
    pickled_source,
)
from taskview.replay.journal import JournalWriter, Recorder, read_journal
from taskview.replay.timeline import from_results
from taskview.results.archive import ResultArchive
from taskview.results.problems import ProblemKind
from taskview.results.scan import ResultDirectory
from taskview.ui.app import TaskviewApp

#: (source kind, how it is opened): a directory live; an archive opened (`taskview A.tgz`) or replayed.
OPENINGS = [("directory", "live")] + [(kind, form) for kind in ARCHIVE_KINDS for form in ("opened", "replay")]


def inspector(kind: str, form: str, source: Path, *, allow_pickle: bool = False) -> TaskviewApp:
    """The app as the command builds it for this source (cli.py, replay/command.py)."""
    if kind == "directory":
        return TaskviewApp(ResultDirectory(str(source), allow_pickle=allow_pickle))
    archive = ResultArchive(str(source), allow_pickle=allow_pickle)
    return TaskviewApp.for_replay(from_results(archive, "archive"), from_end=form == "opened")


async def shown(pilot, app: TaskviewApp, form: str, count: int) -> None:
    """Wait until every row is in the table (a replay is taken to its end first)."""
    if form == "replay":
        await pilot.press("end")
    await wait_until(pilot, lambda: len(app.inspector.table.task_ids) == count and app.inspector.scan is None)


async def open_detail(pilot, app: TaskviewApp, task_id: str) -> tuple[str, str]:
    """Select ``task_id``, press Enter, and return the detail pane's header and body once they show it."""
    assert app.inspector.table.select_task(task_id)
    await pilot.press("enter")
    header = app.query_one("#detail-header")
    await wait_until(pilot, lambda: app.inspector.detail.display and plain(header).split()[:1] == [task_id])
    return plain(header), app.query_one("#detail-body").text


@pytest.mark.parametrize("kind, form", OPENINGS)
async def test_the_inspector_never_unpickles_without_allow_pickle(tmp_path: Path, kind: str, form: str):
    canary = tmp_path / "canary"
    app = inspector(kind, form, pickled_source(kind, tmp_path / "source", canary))
    async with app.run_test(size=(140, 40)) as pilot:
        await shown(pilot, app, form, 2)
        refused = app.inspector.store.get(PICKLED_ID).error
        assert refused.kind is ProblemKind.PICKLE_REFUSED and refused.message.startswith(PICKLE_REFUSED)
        assert app.inspector.store.get(PLAIN_ID).status == "SUCCESS"
        header, body = await open_detail(pilot, app, PICKLED_ID)  # the whole file read again
        assert f"unreadable: {PICKLE_REFUSED}" in header
        assert body.startswith("\\x80\\x04")  # the pickle's raw bytes, escaped, never loaded
    assert not canary.exists()


@pytest.mark.parametrize("kind, form", [("directory", "live"), ("tar", "opened"), ("tgz", "replay"), ("zip", "opened")])
async def test_with_allow_pickle_the_inspector_unpickles(tmp_path: Path, kind: str, form: str):
    """The canary fires: the test above can fail. For an archive too: the opt-in is the same."""
    canary = tmp_path / "canary"
    app = inspector(kind, form, pickled_source(kind, tmp_path / "source", canary), allow_pickle=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await shown(pilot, app, form, 2)
        assert canary.exists()
        assert (
            app.inspector.store.get(PICKLED_ID).error is None
            and app.inspector.store.get(PICKLED_ID).status == "SUCCESS"
        )
        canary.unlink()
        header, body = await open_detail(pilot, app, PICKLED_ID)
        assert "unreadable" not in header and json.loads(body)["status"] == "SUCCESS"
        assert canary.exists()  # the detail pane's full read loaded it again


async def test_a_hostile_journal_is_replayed_as_json_only(tmp_path: Path):
    """Its lines carry the pickle as text, in kombu's bytes/base64 tags, in ``error``, and
    name a real pickle file on disk: none of it is unpickled, the named file never read."""
    canary = tmp_path / "canary"
    journal = pickled_source("journal", tmp_path / "source", canary)
    app = TaskviewApp.for_replay(read_journal(str(journal)))
    async with app.run_test(size=(140, 40)) as pilot:
        await shown(pilot, app, "replay", len(JOURNAL_TASKS))
        for task_id, status in JOURNAL_TASKS.items():
            header, body = await open_detail(pilot, app, task_id)
            assert f"{task_id}  {status}" in header
            assert f"file {journal}" in header  # the journal itself, not the file a line names
        assert json.loads(body)["status"] == "SUCCESS"  # the last one, plain
    assert not canary.exists()


async def test_recording_a_pickle_journals_that_it_was_not_loaded(tmp_path: Path):
    """--record while watching a directory with the pickle: the journal says it was not
    loaded and carries no meta; its replay shows the same; nothing is ever unpickled."""
    canary = tmp_path / "canary"
    directory = pickled_source("directory", tmp_path / "source", canary)
    journal = tmp_path / "session.jsonl"
    recorder = Recorder(JournalWriter(str(journal)))
    app = TaskviewApp(ResultDirectory(str(directory)), recorder=recorder)
    async with app.run_test(size=(140, 40)) as pilot:
        await shown(pilot, app, "live", 2)
        await open_detail(pilot, app, PICKLED_ID)
    recorder.close()
    lines = {line["task_id"]: line for line in map(json.loads, journal.read_text().splitlines())}
    assert lines[PICKLED_ID]["error"].startswith(PICKLE_REFUSED) and lines[PICKLED_ID]["meta"] is None
    assert lines[PLAIN_ID]["meta"]["status"] == "SUCCESS"

    replay = TaskviewApp.for_replay(read_journal(str(journal)))
    async with replay.run_test(size=(140, 40)) as pilot:
        await shown(pilot, replay, "replay", 2)
        header, body = await open_detail(pilot, replay, PICKLED_ID)
        assert f"unreadable: {PICKLE_REFUSED}" in header and body == ""
    assert not canary.exists()


@pytest.mark.parametrize("kind, form", [("tar", "opened"), ("tgz", "replay"), ("zip", "replay")])
async def test_hostile_members_are_never_followed_nor_extracted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, form: str
):
    outside = Outside(tmp_path)
    archive, expected = hostile_archive(kind, outside)
    before = outside.tree()
    monkeypatch.chdir(outside.cwd)  # where ../ names would land, were anything extracted
    app = inspector(kind, form, archive)
    async with app.run_test(size=(160, 50)) as pilot:
        await shown(pilot, app, form, len(expected))
        for task_id, how in expected.items():
            header, body = await open_detail(pilot, app, task_id)
            assert SECRET not in header + body and DECOY not in header + body
            if how == NOT_REGULAR:
                assert f"unreadable: {NOT_REGULAR}" in header and body == ""
            else:
                assert json.loads(body)["result"] == "inside"  # the member's own bytes
        screen = app.export_screenshot()
        assert SECRET not in screen and DECOY not in screen
    assert outside.tree() == before
    assert not outside.absolute.parent.exists() and outside.strays() == []
