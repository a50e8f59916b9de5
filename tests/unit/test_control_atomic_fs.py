"""taskview.control.atomic_fs: kombu's filesystem transport, messages published whole.

The race it fixes (a consumer reading a message file before it is written) is
exercised by every real-worker test; here, what it leaves on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kombu import Connection

from taskview.control.atomic_fs import TRANSPORT, Transport


def connection(tmp_path: Path, store_processed: bool) -> Connection:
    for sub in ("data", "control", "processed"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(tmp_path / "data"),
            "data_folder_out": str(tmp_path / "data"),
            "control_folder": str(tmp_path / "control"),
            "processed_folder": str(tmp_path / "processed"),
            "store_processed": store_processed,
            "polling_interval": 0.01,
        },
    )


@pytest.mark.parametrize("store_processed", [False, True])
def test_messages_are_whole_files_and_processed_ones_go(tmp_path: Path, store_processed: bool):
    with connection(tmp_path, store_processed) as conn:
        assert isinstance(conn.transport, Transport)
        queue = conn.SimpleQueue("q1")
        queue.put({"n": 1})
        queue.put({"n": 2})
        files = sorted(p.name for p in (tmp_path / "data").iterdir())
        assert len(files) == 2 and all(f.endswith(".q1.msg") for f in files)  # no temporary file left
        for name in files:
            body = json.loads((tmp_path / "data" / name).read_bytes())  # complete JSON
            assert "body" in body and "properties" in body
        got = [queue.get(timeout=1) for _ in range(2)]
        assert sorted(m.payload["n"] for m in got) == [1, 2]  # same millisecond: any order (as kombu)
        for m in got:
            m.ack()
        queue.close()
    assert not list((tmp_path / "data").iterdir())
    kept = list((tmp_path / "processed").iterdir())
    assert len(kept) == (2 if store_processed else 0)


def test_a_missing_processed_folder_is_an_error_not_a_lost_message(tmp_path: Path):
    with connection(tmp_path, True) as conn:
        queue = conn.SimpleQueue("q2")
        queue.put({"n": 1})
        (tmp_path / "processed").rmdir()
        with pytest.raises(Exception, match="Cannot move"):
            queue.get(timeout=0.2)
        assert len(list((tmp_path / "data").iterdir())) == 1  # still there


def test_two_broker_folders_in_one_process(tmp_path: Path):
    """kombu's own transport shares its bindings across all folders of a process:
    the second broker never got the binding and dropped the message."""
    for name in ("a", "b"):
        with connection(tmp_path / name, False) as conn:
            queue = conn.SimpleQueue("same-name")
            queue.put({"broker": name})
            assert queue.get(timeout=1).payload == {"broker": name}
            queue.close()
