"""The inspector driven like a user drives it (Textual's Pilot), on real worker files."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, OptionList, TextArea

from helpers.pilot import loaded, plain, summary_text, wait_until
from helpers.samples import SAMPLE_COUNT, SAMPLE_RESULTS, by_name, finished_now, status_of
from taskview.query import compile_query
from taskview.results.scan import ResultDirectory
from taskview.sources.tail import TailBatch
from taskview.ui.app import TaskviewApp
from taskview.ui.screens.help import HelpScreen
from taskview.ui.screens.live import RecordsArrived
from taskview.ui.widgets.detail_pane import DetailPane
from taskview.ui.widgets.task_table import TaskTable
from taskview.view.table_model import TableModel


@pytest.fixture
def app(samples: Path) -> TaskviewApp:
    return TaskviewApp(ResultDirectory(str(samples)))


async def test_every_task_shows_with_counts_in_the_summary(app):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        assert set(table.task_ids) == set(app.inspector.store.records)
        text = summary_text(app)
        assert f"{SAMPLE_COUNT} tasks" in text
        assert "SUCCESS 12" in text and "FAILURE 2" in text and "GOING_TO_SLEEP 1" in text
        assert "[inotify]" in text


async def test_keys_move_the_cursor(app):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        assert table.cursor == 0
        await pilot.press("j", "j", "down")
        assert table.cursor == 3 and table.selected_id == table.task_ids[3]
        await pilot.press("k")
        assert table.cursor == 2
        await pilot.press("G")
        assert table.cursor == SAMPLE_COUNT - 1
        await pilot.press("g")
        assert table.cursor == 0


async def test_sort_keys_and_header_clicks(app):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        assert (table.sort_key, table.sort_reverse) == ("last_change", True)
        await pilot.press("s")  # wraps around to the first column
        assert table.sort_key == "id"
        assert table.task_ids == sorted(table.task_ids, reverse=True)
        await pilot.press("S")
        assert table.sort_key == "id" and not table.sort_reverse
        assert table.task_ids == sorted(table.task_ids)
        # Click the NAME header: ascending names, unknown names last; again: descending.
        await pilot.click(TaskTable, offset=(25, 0))
        assert table.sort_key == "name"
        names = [app.inspector.store.get(i).name for i in table.task_ids]
        known = [n for n in names if n]
        assert known == sorted(known, reverse=table.sort_reverse)
        first = table.sort_reverse
        await pilot.click(TaskTable, offset=(25, 0))
        assert table.sort_reverse is not first


async def test_filter_as_you_type_enter_keeps_esc_clears(app):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("slash")
        assert app.query_one("#filter", Input).has_focus
        await pilot.press(*"status:FAILURE")
        assert len(table.task_ids) == 2
        assert all(app.inspector.store.get(i).status == "FAILURE" for i in table.task_ids)
        assert "2/" in summary_text(app) and "FAILURE 2" in summary_text(app)
        assert "SUCCESS" not in summary_text(app)
        await pilot.press("enter")
        assert table.has_focus and len(table.task_ids) == 2
        await pilot.press("escape")
        assert len(table.task_ids) == SAMPLE_COUNT
        await pilot.press("slash", *"-status:SUCCESS", "enter")
        assert len(table.task_ids) == SAMPLE_COUNT - 12


async def test_keys_that_arrive_together_edit_the_filter_in_the_order_typed(app):
    """Over SSH keys come in bursts: "cain", backspace, "s" in one read must give "cais", and
    the filter must be that query's (Textual's Input ran backspace only once it had bubbled up to
    the app, after the "s": "cain")."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash")
        box = app.query_one("#filter", Input)
        for key, char in [("c", "c"), ("a", "a"), ("i", "i"), ("n", "n"), ("backspace", "\x7f"), ("s", "s")]:
            app.post_message(events.Key(key, char))  # as the driver does, no wait between them
        await pilot.pause()
        assert box.value == "cais"
        for key, char in [("left", None), ("left", None), ("x", "x"), ("end", None), ("backspace", "\x7f"), ("t", "t")]:
            app.post_message(events.Key(key, char))
        await pilot.pause()
        assert box.value == "caxit"
        await pilot.press("escape")  # not the Input's: it still reaches the screen (the filter closes)
        assert not box.display and app.inspector.model.predicate is None


async def test_a_query_typed_further_looks_only_at_the_rows_of_the_last_one(app, samples: Path, monkeypatch):
    """Each key that makes the query more particular filters what it showed, not every task (at a
    million rows, the keystrokes after the first few); a task that came meanwhile is still in
    them, a key taken back looks at every task again, and the rows are always the query's."""
    walked: list[int] = []
    steps = TableModel._filter_steps

    def noting(self, predicate, source):  # type: ignore[no-untyped-def]
        walked.append(len(source))
        return steps(self, predicate, source)

    monkeypatch.setattr(TableModel, "_filter_steps", noting)

    def shown_as_the_query_says(text: str) -> bool:
        predicate = compile_query(text)
        store = app.inspector.store
        return sorted(app.inspector.table.task_ids) == sorted(i for i, r in store.records.items() if predicate(r))

    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("slash", *"-status:SUCCESS")
        assert walked[-1] == SAMPLE_COUNT and len(table.task_ids) == SAMPLE_COUNT - 12
        # A FAILURE arrives: the rows of the query take it in.
        finished_now(by_name(SAMPLE_RESULTS, "sampletasks.fail_custom"), samples / "celery-task-meta-new-failure")
        await wait_until(pilot, lambda: "new-failure" in table.task_ids)
        walked.clear()
        await pilot.press(*" fail")
        assert walked and max(walked) == SAMPLE_COUNT + 1 - 12  # the rows shown, new one included
        assert "new-failure" in table.task_ids and shown_as_the_query_says("-status:SUCCESS fail")
        await pilot.press("backspace")  # "fai": wider, every task again
        assert walked[-1] == SAMPLE_COUNT + 1 and shown_as_the_query_says("-status:SUCCESS fai")


async def test_selection_stays_on_its_task_while_rows_change(app, samples: Path):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("j", "j", "j")
        chosen = table.selected_id
        # Three new tasks arrive; newest-first puts them above the selection.
        for n, status in enumerate(("SUCCESS", "FAILURE", "REVOKED")):
            src = next(p for p in sorted(SAMPLE_RESULTS.iterdir()) if status_of(p) == status)
            finished_now(src, samples / f"celery-task-meta-new-{n}")
        await wait_until(pilot, lambda: len(table.task_ids) == SAMPLE_COUNT + 3)
        assert table.selected_id == chosen
        assert table.task_ids[table.cursor] == chosen and table.cursor == 6
        # A file removed (result_expires cleanup) leaves the table; the selection stays.
        os.unlink(samples / "celery-task-meta-new-1")
        await wait_until(pilot, lambda: len(table.task_ids) == SAMPLE_COUNT + 2)
        assert table.selected_id == chosen


async def test_follow_keeps_the_newest_change_selected(app, samples: Path):
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("s", "G", "f")
        assert (table.sort_key, table.cursor) == ("last_change", 0)
        assert "follow" in summary_text(app)
        finished_now(by_name(SAMPLE_RESULTS, "sampletasks.unicode_result"), samples / "celery-task-meta-newest")
        await wait_until(pilot, lambda: table.selected_id == "newest")
        assert table.cursor == 0


async def test_detail_of_a_failure_shows_traceback_and_whole_meta(app, samples: Path):
    failure = by_name(samples, "sampletasks.fail_custom")
    meta = json.loads(failure.read_bytes())
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        assert table.select_task(meta["task_id"])
        await pilot.press("enter")
        pane = app.query_one(DetailPane)
        body = pane.query_one("#detail-body", TextArea)
        await wait_until(pilot, lambda: meta["task_id"] in body.text)
        assert json.loads(body.text) == meta  # the whole meta, untruncated
        assert pane.query_one("#detail-traceback").display
        header = plain(pane.query_one("#detail-header"))
        assert "FAILURE" in header and "sampletasks.fail_custom" in header
        # Esc closes the pane.
        await pilot.press("escape")
        assert not pane.display


async def test_the_selected_row_stays_in_view_when_the_detail_pane_opens(app):
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded(pilot, app)
        for _ in range(SAMPLE_COUNT - 3):
            await pilot.press("down")
        await pilot.press("enter")  # the pane takes most of the height: the table shrinks
        await wait_until(pilot, lambda: app.inspector.detail.display and table.page_rows < SAMPLE_COUNT - 3)
        await pilot.pause()
        assert table.scroll_y <= table.cursor < table.scroll_y + table.page_rows
        on_screen = table.cursor - int(table.scroll_y) + 1  # under the header line
        assert table.render_line(on_screen).text.startswith(table.selected_id[:8])


async def test_detail_links_jump_to_children(app, samples: Path):
    parent = json.loads(by_name(samples, "sampletasks.spawn_children").read_bytes())
    child_ids = [c[0][0] for c in parent["children"]]
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        table.select_task(parent["task_id"])
        await pilot.press("enter")
        related = app.query_one("#detail-related", OptionList)
        await wait_until(pilot, lambda: related.option_count == len(child_ids))
        related.focus()
        await pilot.press("down", "enter")
        assert table.selected_id in child_ids


async def test_the_detail_of_an_unreadable_file_shows_reason_and_escaped_bytes(app, samples: Path):
    (samples / "celery-task-meta-hostile").write_bytes(b"\x1b[2J\x1b]52;c;AAAA\x07 not json")
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app, SAMPLE_COUNT + 1)
        table.select_task("hostile")
        await pilot.press("enter")
        body = app.query_one("#detail-body", TextArea)
        await wait_until(pilot, lambda: "not json" in body.text)
        assert "\x1b" not in body.text and "\\x1b[2J" in body.text
        header = plain(app.query_one("#detail-header"))
        assert "unreadable" in header and "not a Celery result" in header


async def test_help_screen_lists_the_keys(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(plain(w) for w in app.screen.query("Static"))
        for words in ("Filter", "Follow", "Copy id", "Quit", "status:FAILURE"):
            assert words in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_copy_puts_the_task_id_on_the_clipboard(app):
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("j", "c")
        assert app.clipboard == table.selected_id


async def test_q_quits(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        await pilot.press("q")
        assert not app.is_running and app.return_code == 0


async def test_a_scans_census_gives_whole_counts_while_its_rows_come(app):
    """A reopen's readers send how many tasks the scan will hold by status before their rows:
    the summary shows those counts, saying rows are still loading, until the scan is done; a
    filter's counts are its own, as ever."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        census = Counter(SUCCESS=900, FAILURE=99)
        screen.post_message(RecordsArrived(TailBatch(scanning=True, scanned=5, census=census)))
        await wait_until(pilot, lambda: "counted; rows loading… 5/999" in summary_text(app))
        text = summary_text(app)
        assert "999 tasks" in text and "SUCCESS 900" in text and "FAILURE 99" in text and "STARTED" not in text
        await pilot.press("slash", *"status:FAILURE")
        await wait_until(pilot, lambda: "2/21 match" in summary_text(app))  # the rows in the table
        assert "FAILURE 2" in summary_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: "999 tasks" in summary_text(app))
        screen.post_message(RecordsArrived(TailBatch(scanning=True, scanned=SAMPLE_COUNT, scan_done=True)))
        await wait_until(pilot, lambda: f"{SAMPLE_COUNT} tasks" in summary_text(app))
        assert "loading" not in summary_text(app) and "FAILURE 2" in summary_text(app)


async def test_a_census_shows_as_it_arrives_not_at_the_next_refresh(app):
    """The counts are whole the moment the readers' census is in (a reopen's figure to beat),
    not up to a refresh interval later."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        census = Counter(SUCCESS=900, FAILURE=99)
        screen.take_in(TailBatch(scanning=True, scanned=5, census=census))
        assert screen.summary.counts == census and screen.summary.scan_total == 999  # no await: no timer ran


async def test_an_empty_directory(tmp_path: Path):
    app = TaskviewApp(ResultDirectory(str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None and "0 tasks" in summary_text(app))
        assert app.inspector.table.task_ids == []
        await pilot.press("enter")  # the pane opens, saying there is nothing to show
        detail = app.inspector.detail
        assert detail.display and "no task selected" in plain(detail.query_one("#detail-header"))
        await pilot.press("escape", "j", "c", "s", "slash", "x", "escape")  # nothing to act on: no error
        assert app.is_running and not detail.display


async def test_enter_before_the_first_row_opens_the_pane_and_the_row_fills_it(tmp_path: Path):
    """Enter pressed before any row exists (a replay stepped, a scan starting) still opens the pane."""
    app = TaskviewApp(ResultDirectory(str(tmp_path)))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.inspector.scan is None)
        await pilot.press("enter")
        shutil.copy(by_name(SAMPLE_RESULTS, "sampletasks.fail_custom"), tmp_path / "celery-task-meta-late")
        body = app.query_one("#detail-body")
        await wait_until(pilot, lambda: '"FAILURE"' in body.text)
        assert app.inspector.table.selected_id == "late"


async def test_control_keys_without_a_broker_say_how_to_connect(app):
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        for key in ("n", "x", "R"):
            app.inspector.notice = None
            await pilot.press(key)
            assert app.inspector.notice is not None and "not connected to a broker" in app.inspector.notice
            assert "--demo" in app.inspector.notice
        assert app.screen is app.screen_stack[0]  # no dialog opened


async def test_keys_typed_in_one_burst_land_in_what_the_first_one_opened(samples: Path):
    """Over SSH keys arrive in bursts: "/fail", "na", "xr" read at once must act as if typed slowly."""
    from textual import events

    from taskview.control.app_loading import load_app
    from taskview.control.controller import Controller

    down = Controller(load_app(None, "redis://127.0.0.1:1/0"), connect_timeout=1.0)
    app = TaskviewApp(ResultDirectory(str(samples)), controller=down)

    def burst(*keys: str) -> None:  # queued together, before the app handles the first
        for key in keys:
            app.post_message(events.Key(key, key if len(key) == 1 else None))

    async with app.run_test(size=(120, 30)) as pilot:
        table = await loaded(pilot, app)
        burst("slash", *"status:FAILURE")
        await wait_until(pilot, lambda: app.inspector.filter_box.value == "status:FAILURE" and len(table.task_ids) == 2)
        burst("escape")
        await wait_until(pilot, lambda: len(table.task_ids) == SAMPLE_COUNT)
        burst("n", "a")  # the demo menu, then its "add"
        await wait_until(pilot, lambda: "unreachable" in (app.inspector.notice or ""))
        assert app.screen is app.inspector
        app.inspector.notice = None
        burst("x", "r")  # the confirmation, then "revoke"
        await wait_until(pilot, lambda: "unreachable" in (app.inspector.notice or ""))
        assert app.screen is app.inspector
        burst("question_mark", "escape")  # help, closed again
        await pilot.pause()
        assert app.screen is app.inspector and app.is_running


async def test_new_rows_push_in_at_the_top_until_the_user_moves_then_a_marker_counts_them(app, samples: Path):
    """Like top: with the cursor on the top row new tasks come into view there; once the user
    moved, the selection stays on its task and the header says how many arrived above."""
    new_file = by_name(SAMPLE_RESULTS, "sampletasks.unicode_result")
    async with app.run_test(size=(120, 30)) as pilot:
        table = await loaded(pilot, app)
        assert table.cursor == 0 and table.scroll_y == 0
        finished_now(new_file, samples / "celery-task-meta-newest-1")
        await wait_until(pilot, lambda: table.task_ids[:1] == ["newest-1"])
        assert table.selected_id == "newest-1" and table.scroll_y == 0 and table.new_above == 0
        await pilot.press("j", "j")
        chosen = table.selected_id
        for n in (2, 3, 4):
            finished_now(new_file, samples / f"celery-task-meta-newest-{n}")
        await wait_until(pilot, lambda: len(table.task_ids) == SAMPLE_COUNT + 4)
        assert table.selected_id == chosen and table.cursor == 5
        assert table.new_above == 3 and "↑ 3 new" in table.render_line(0).text
        await pilot.press("g")  # the top is in view again: nothing unseen
        assert table.new_above == 0 and "new" not in table.render_line(0).text
        assert table.selected_id == "newest-4"


async def test_an_open_detail_pane_keeps_its_task_when_new_rows_arrive(app, samples: Path):
    async with app.run_test(size=(120, 30)) as pilot:
        table = await loaded(pilot, app)
        first = table.selected_id
        await pilot.press("enter")
        finished_now(by_name(SAMPLE_RESULTS, "sampletasks.unicode_result"), samples / "celery-task-meta-newest")
        await wait_until(pilot, lambda: "newest" in table.task_ids)
        assert table.selected_id == first and table.new_above == 1


async def test_the_detail_pane_goes_full_screen_with_z_and_j_still_moves(app):
    async with app.run_test(size=(80, 24)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("z")
        detail = app.inspector.detail
        assert detail.display and not table.display and detail.size.height > 15
        first = table.selected_id
        await pilot.press("j")
        header = detail.query_one("#detail-header")
        await wait_until(pilot, lambda: table.selected_id != first and table.selected_id in plain(header))
        await pilot.press("z")  # back beside the table
        assert detail.display and table.display
        await pilot.press("z", "escape")  # Esc closes the pane whatever its size
        assert not detail.display and table.display


async def test_y_and_shift_y_copy_the_whole_result_and_the_traceback(app, samples: Path):
    failure = json.loads(by_name(samples, "sampletasks.fail_custom").read_bytes())
    big = json.loads(by_name(samples, "sampletasks.large_result").read_bytes())
    async with app.run_test(size=(120, 30)) as pilot:
        table = await loaded(pilot, app)
        table.select_task(failure["task_id"])
        await pilot.press("Y")
        await wait_until(pilot, lambda: app.clipboard == failure["traceback"])
        await pilot.press("y")
        await wait_until(pilot, lambda: app.clipboard.startswith("{"))
        assert json.loads(app.clipboard) == failure["result"]
        table.select_task(big["task_id"])  # 200 KB: more than the pane shows, all of it copied
        await pilot.press("y")
        await wait_until(pilot, lambda: app.clipboard.startswith('"'))
        assert json.loads(app.clipboard) == big["result"]


async def test_the_exception_line_comes_before_the_traceback(app, samples: Path):
    failure = json.loads(by_name(samples, "sampletasks.fail_builtin").read_bytes())
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        table.select_task(failure["task_id"])
        await pilot.press("enter")
        header = app.query_one("#detail-header")
        await wait_until(pilot, lambda: "ValueError: bad value: -1" in plain(header))


async def test_shrinking_the_terminal_puts_the_pane_under_the_table_at_once(app):
    async with app.run_test(size=(160, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("enter")
        detail = app.inspector.detail
        await pilot.pause()
        assert detail.region.x > table.region.x  # beside
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert detail.region.y > table.region.y and detail.region.x == table.region.x  # under
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert detail.region.x > table.region.x


async def test_enter_on_the_focused_links_opens_the_first_one(app, samples: Path):
    parent = json.loads(by_name(samples, "sampletasks.spawn_children").read_bytes())
    first_child = parent["children"][0][0][0]
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        table.select_task(parent["task_id"])
        await pilot.press("enter")
        related = app.query_one("#detail-related", OptionList)
        await wait_until(pilot, lambda: related.option_count > 0)
        related.focus()
        await pilot.press("enter")  # no arrow key first: the first link is the one chosen
        assert table.selected_id == first_child


async def test_the_hidden_by_the_filter_hint_names_the_keys_that_clear_it(app, samples: Path):
    parent = json.loads(by_name(samples, "sampletasks.spawn_children").read_bytes())
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app)
        await pilot.press("slash", *"spawn", "enter")
        await wait_until(pilot, lambda: table.task_ids == [parent["task_id"]])
        await pilot.press("enter")
        related = app.query_one("#detail-related", OptionList)
        await wait_until(pilot, lambda: related.option_count > 0)
        related.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("hidden by the filter" in str(n.message) for n in app._notifications))
        hint = next(str(n.message) for n in app._notifications if "hidden by the filter" in str(n.message))
        assert "Esc twice" in hint
        await pilot.press("escape", "escape")  # as the hint says: the pane, then the filter
        assert not app.inspector.detail.display and len(table.task_ids) == SAMPLE_COUNT


async def test_a_group_with_no_taskset_file_lists_its_members(app, samples: Path):
    """Most groups are never saved (GroupResult.save): the group link lists the rows naming it."""
    taskset = next(samples.glob("celery-taskset-meta-*"))
    group_id = taskset.name.removeprefix("celery-taskset-meta-")
    members = sorted(
        json.loads(p.read_bytes())["task_id"]
        for p in samples.glob("celery-task-meta-*")
        if json.loads(p.read_bytes()).get("group_id") == group_id
    )
    taskset.unlink()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await loaded(pilot, app, SAMPLE_COUNT - 1)
        table.select_task(members[0])
        await pilot.press("enter")
        related = app.query_one("#detail-related", OptionList)
        await wait_until(pilot, lambda: related.option_count == len(members))  # the group, the two others
        shown = [related.get_option_at_index(i).id for i in range(related.option_count)]
        assert shown == [group_id, *[m for m in members if m != members[0]]]
        related.focus()
        await pilot.press("down", "enter")  # a member: its row
        assert table.selected_id == members[1]


async def test_a_since_filter_moves_on_with_the_clock(samples: Path):
    """since:10m keeps the last ten minutes as the clock goes on, not the ten before it was typed."""
    now = [0.0]
    app = TaskviewApp(ResultDirectory(str(samples)), clock=lambda: now[0])
    async with app.run_test(size=(120, 30)) as pilot:
        table = await loaded(pilot, app)
        newest = max(r.last_change for r in app.inspector.store.records.values())
        now[0] = newest + 60  # a minute after the last finish
        await pilot.press("slash", *"since:10m", "enter")
        await wait_until(pilot, lambda: 0 < len(table.task_ids) < SAMPLE_COUNT)
        now[0] = newest + 3600  # an hour later: none of them in the window any more
        app.inspector.slide_time_window()
        await wait_until(pilot, lambda: table.task_ids == [])


async def test_the_once_a_second_tick_leaves_a_screen_redrawn_within_the_second_alone(app):
    """Under a stream of changes the rows and the summary are redrawn when rows are put in place:
    the tick adds no frame of its own then; after a quiet second it redraws what aged."""
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        screen = app.inspector
        drawn: list[str] = []
        screen.update_summary = lambda: drawn.append("summary")  # type: ignore[method-assign]
        screen.table.refresh_changed = lambda: drawn.append("rows")  # type: ignore[method-assign]
        screen.pace.shown()  # rows put in place just now
        screen.tick()
        assert drawn == []
        screen.pace._shown -= 1.0  # a second later, nothing put in place since
        screen.tick()
        assert drawn == ["rows", "summary"]
