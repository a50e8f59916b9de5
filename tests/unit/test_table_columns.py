"""The task table's columns at the widths people have, 80 columns first."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from taskview.ui.table_columns import COLUMNS, header_label, layout, short_name, status_cell


def shown(width: int) -> dict[str, int]:
    return {COLUMNS[i].key: w for i, w in layout(width)}


def test_at_80_columns_the_name_gets_the_room_and_the_worker_goes_first():
    # 80 columns less the scrollbar: the name wide enough for send_order_email and build_daily_report.
    assert shown(78) == {
        "id": 8, "status": 10, "name": 21, "progress": 9, "time": 8, "runtime": 8, "last_change": 8,
    }  # fmt: skip


@pytest.mark.parametrize(
    "width, expected",
    [
        (62, {"id": 8, "status": 10, "name": 24, "time": 8, "last_change": 8}),
        (98, {"id": 8, "status": 12, "name": 30, "worker": 8, "progress": 9, "time": 8, "runtime": 8,
              "last_change": 8}),
        (118, {"id": 8, "status": 14, "name": 39, "worker": 17, "progress": 9, "time": 8, "runtime": 8,
               "last_change": 8}),
    ],
)  # fmt: skip
def test_wider_terminals_add_columns_then_share_the_rest(width, expected):
    assert shown(width) == expected


@pytest.mark.parametrize("width", [62, 71, 78, 98, 118, 158, 240])
def test_the_columns_fill_the_width_exactly(width):
    columns = layout(width)
    assert sum(w for _, w in columns) + len(columns) - 1 == width


@pytest.mark.parametrize("width", [62, 71, 78, 98, 118])
@pytest.mark.parametrize("arrow", ["▼", "▲"])
def test_every_sort_column_shows_its_direction_without_being_cut(width, arrow):
    for index, w in layout(width):
        label = header_label(COLUMNS[index], w, arrow)
        assert label.endswith(arrow) and cell_len(label) <= w, (COLUMNS[index].key, w, label)
        assert len(label) > 1  # a word beside it: which column is sorted


def test_labels_shorten_only_when_they_must():
    progress = next(c for c in COLUMNS if c.key == "progress")
    runtime = next(c for c in COLUMNS if c.key == "runtime")
    assert header_label(progress, 9, None) == "PROGRESS"
    assert header_label(progress, 10, "▼") == "PROGRESS ▼"
    assert header_label(progress, 9, "▼") == "PROGRESS▼"
    assert header_label(runtime, 8, "▲") == "RUNTIME▲"
    assert header_label(runtime, 7, "▲") == "RUN ▲"
    assert header_label(runtime, 9, "▲") == "RUNTIME ▲"


@pytest.mark.parametrize(
    "name, width, shown_as",
    [
        ("proj.tasks.send_order_email", 30, "proj.tasks.send_order_email"),
        ("proj.tasks.send_order_email", 23, "…tasks.send_order_email"),
        ("proj.tasks.send_order_email", 20, "…send_order_email"),
        ("proj.tasks.build_daily_report", 20, "…build_daily_report"),
        ("proj.tasks.build_daily_report", 10, "…ly_report"),  # even the function is too long: its end
        ("add", 5, "add"),
        ("", 5, ""),
    ],
)
def test_a_name_loses_its_module_path_before_its_function(name, width, shown_as):
    assert short_name(name, width) == shown_as
    assert cell_len(short_name(name, width)) <= width


def test_a_stale_status_says_so_in_words_when_it_can():
    assert status_cell("STARTED", False, 10) == "STARTED"
    assert status_cell("STARTED", True, 14) == "STARTED stale"
    assert status_cell("PROGRESS", True, 10) == "!PROGRESS"
