"""Hostile content is inert: shown as text, never acting on the terminal.

Task ids, names, workers, statuses, arguments, results, exception messages and tracebacks
carry Rich markup, ANSI/OSC escape sequences (screen clear, OSC 52 clipboard write, window
title), C0/C1 control characters, right-to-left overrides and zero-width characters, and
very long lines. Checked where it matters: what the app renders (every strip of every
screen, under Pilot) and every byte the real command writes to a terminal (a pty).
A pickle whose loading would create a file is never loaded without --allow-pickle.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.canary import CreatesAFile
from helpers.pilot import plain, wait_until
from helpers.samples import real_meta
from helpers.terminal import Terminal
from taskview.control.app_loading import new_app
from taskview.control.controller import Controller
from taskview.results.scan import ResultDirectory
from taskview.text import one_line
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.confirm import ConfirmScreen
from taskview.ui.screens.enqueue_form import EnqueueForm

MARKUP = "[bold red]RED[/] [link=https://evil.example]CLICK[/link] [/] [@click=app.quit]Q[/]"
OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # would put "pwned" on the clipboard
TITLE = "\x1b]0;PWNED-TITLE\x07"
CLEAR = "\x1b[2J\x1b[HCLEARED"
C1 = "\x9b31mC1RED\x9b0m"
CONTROLS = "bell\x07 back\x08space cr\rreturn del\x7f nul\x00"
RTL = "\u202eevil.exe\u202c \u2067isolate\u2069"
ZERO_WIDTH = "zero\u200bwidth\u200djoin\ufeffbom\u2060wj"
HOSTILE = " ".join([MARKUP, OSC52, TITLE, CLEAR, C1, CONTROLS, RTL, ZERO_WIDTH])
#: Raw byte runs that must never reach a terminal (each would act, not show).
RAW = [s.encode() for s in (OSC52, TITLE, CLEAR, C1, "\u202eevil", "zero\u200bwidth", "\ufeffbom", "cr\rreturn")]
#: What a terminal must never receive from content: controls but \n (strips hold none), bidi, zero-width.
FORBIDDEN = set(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0)])) | set(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\u2028\u2029\ufeff"
)

# No "/" in a file name.
TASK_IDS = ("hostile-success", "hostile-failure", "hostile-status", f"id-[bold red]RED[blink]{TITLE}{C1}")


def hostile_directory(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    success, failure = real_meta("SUCCESS"), real_meta("FAILURE")
    extended = {
        "name": f"tasks.{HOSTILE}",
        "worker": f"w1@{HOSTILE}",
        "args": [HOSTILE, "y" * 5_000],
        "kwargs": {HOSTILE: HOSTILE},
        "parent_id": f"parent-{HOSTILE}",
        "group_id": f"group-{MARKUP}",
    }
    metas = {
        "hostile-success": {**success, **extended, "result": {"text": HOSTILE, "long": "z" * 20_000}},
        "hostile-failure": {
            **failure,
            **extended,
            "result": {"exc_type": f"Evil{MARKUP}", "exc_message": [HOSTILE], "exc_module": "x"},
            "traceback": f'Traceback (most recent call last):\n  File "{HOSTILE}", line 1\n'
            f"ValueError: {HOSTILE}\n" + "t" * 10_000 + "\n",
        },
        "hostile-status": {
            **success,
            **extended,
            "status": f"CUSTOM{MARKUP}{OSC52}{RTL}",
            "date_done": None,
            "result": {"current": 1, "total": 2},
        },
        TASK_IDS[3]: {**success, "result": HOSTILE},
    }
    for task_id, meta in metas.items():
        (directory / f"celery-task-meta-{task_id}").write_text(json.dumps({**meta, "task_id": task_id}))
    return directory


def screen_text(app: TaskviewApp) -> str:
    """Every character of every screen as the compositor hands it to the terminal driver."""
    chunks = []
    for screen in app.screen_stack:
        for strip in screen._compositor.render_full_update().strips:
            chunks.append("".join(segment.text for segment in strip))
    return "\n".join(chunks)


def forbidden_in(text: str) -> set[str]:
    return {repr(c) for c in set(text.replace("\n", "")) & FORBIDDEN}


@pytest.mark.slow
async def test_hostile_content_is_rendered_as_text_everywhere(tmp_path: Path):
    results = hostile_directory(tmp_path / "results")
    # A broker that is never used: only so that the x and R confirmations open.
    app = TaskviewApp(ResultDirectory(str(results)), controller=Controller(new_app("memory://")))
    seen: list[str] = []

    async def look(what: str) -> None:
        await pilot.pause()  # every pending message handled, the screens laid out: then read them
        text = screen_text(app)
        assert forbidden_in(text) == set(), (what, forbidden_in(text))
        seen.append(text)

    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(
            pilot, lambda: app.inspector.scan is None and len(app.inspector.table.task_ids) == len(TASK_IDS)
        )
        await look("table")
        for task_id in TASK_IDS:
            assert app.inspector.table.select_task(task_id)
            await pilot.press("enter")
            # The pane's header and body are set together: the header naming this task (its id
            # escaped) says the body is this task's too, not the one shown before.
            header, body = app.query_one("#detail-header"), app.query_one("#detail-body")
            shown = one_line(task_id)
            await wait_until(pilot, lambda header=header, shown=shown: shown in plain(header))
            assert "\\u202e" in body.text or task_id == TASK_IDS[3] and "\\x1b" in body.text
            await look(f"detail of {task_id!r}")
            if task_id == TASK_IDS[3]:
                await pilot.press("c")  # the toast names the id
                await look(f"copy toast of {task_id!r}")
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            await look(f"revoke confirmation of {task_id!r}")
            await pilot.press("escape")
            if task_id != TASK_IDS[3]:  # the others have a name: they can be sent again
                await pilot.press("R")
                await wait_until(pilot, lambda: isinstance(app.screen, EnqueueForm))
                await look(f"re-enqueue form of {task_id!r}")
                await pilot.press("escape")
            await pilot.press("escape")
        await pilot.press("slash", *"CUS")  # the filter box, and the summary within it
        await look("filtered")
        await pilot.press("escape")
        await pilot.press("question_mark")
        await look("help")
        await pilot.press("escape")
        assert app.is_running
    everything = "\n".join(seen)
    # Shown as text: the markup literally, the escapes as visible \x.. / \u.... forms.
    for visible in (
        "[bold red]RED[/]",
        "[link=https://evil.example]",
        "\\x1b]52;c;cHduZWQ=\\x07",
        "\\x1b]0;PWNED-TITLE",
        "\\x9b31mC1RED",
        "\\u202eevil.exe",
        "zero\\u200bwidth",
        "cr\\x0dreturn",
    ):
        assert visible in everything, visible
    assert "CUSTOM[bold red]RED[/]" in everything  # a hostile status, in the table and the summary bar


def test_nothing_hostile_reaches_a_real_terminal(tmp_path: Path):
    results = hostile_directory(tmp_path / "results")
    with Terminal([str(results)], columns=160, rows=45) as terminal:
        terminal.wait_for(lambda: "4 tasks" in terminal.text())
        # The detail pane of each row: header, links, traceback, the JSON. The table's ID column
        # shows 8 characters: a whole id on screen is the detail pane's, drawn with all of it.
        whole_ids = ("hostile-success", "hostile-failure", "hostile-status", "id-[bold red]RED[blink]")

        def details_drawn() -> int:
            text = terminal.text()
            return sum(task_id in text for task_id in whole_ids)

        terminal.press("\r", pause=0)
        terminal.wait_for(lambda: details_drawn() == 1)
        for drawn in (2, 3, 4):
            terminal.press("\x1b[B", pause=0)  # down
            terminal.wait_for(lambda drawn=drawn: details_drawn() == drawn)
        terminal.press("c", pause=0)  # a toast with the id (and an OSC 52 of textual's own)
        terminal.wait_for(lambda: "copied" in terminal.text())
    raw = terminal.output
    for sequence in RAW:
        assert sequence not in raw, sequence
    assert b"\\x1b]52;c;cHduZWQ=\\x07" in raw and b"\\u202eevil" in raw  # shown, escaped
    assert b"\xe2\x80\xae" not in raw and b"\xc2\x9b" not in raw  # no RLO, no C1 CSI, encoded or not
    # The only OSC sequences are textual's own: the pointer shape (22), and the clipboard (52)
    # for the id the user copied, whose payload is base64 and so inert.
    import re

    assert set(re.findall(rb"\x1b\](\d+);", raw)) <= {b"22", b"52"}
    assert b"PWNED" not in b"".join(re.findall(rb"\x1b\]0;[^\x07]*", raw))


async def test_a_malicious_pickle_is_never_loaded_without_allow_pickle(tmp_path: Path):
    results = tmp_path / "results"
    results.mkdir()
    canary = tmp_path / "canary"
    payload = pickle.dumps(
        {
            "status": "SUCCESS",
            "result": CreatesAFile(str(canary)),
            "task_id": "evil",
            "traceback": None,
            "children": [],
            "date_done": None,
        }
    )
    (results / "celery-task-meta-evil").write_bytes(payload)
    for mode in (["--stats"], ["--stats", "--json"], ["--dump", "jsonl"], ["--dump", "csv"]):
        proc = subprocess.run(
            [sys.executable, "-m", "taskview", str(results), *mode], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0 and "pickle" in proc.stdout, proc.stderr
        assert not canary.exists(), mode
    app = TaskviewApp(ResultDirectory(str(results)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "evil" in app.inspector.store)
        assert app.inspector.store.get("evil").error.message.startswith("pickle: not loaded")
        app.inspector.table.select_task("evil")
        await pilot.press("enter")  # the detail pane reads the whole file again
        body = app.query_one("#detail-body")
        await wait_until(pilot, lambda: "\\x80" in body.text)  # the raw bytes, escaped
    assert not canary.exists()
    # And the canary works: with --allow-pickle it is loaded (so the checks above could fail).
    subprocess.run(
        [sys.executable, "-m", "taskview", str(results), "--stats", "--allow-pickle"], capture_output=True, timeout=60
    )
    assert canary.exists()
