"""The first scan of a big directory, read and summarized by a child process.

Reading and decoding a file is ~10 µs of Python; turning a summary row back
into a record is ~2 µs. In a child process the first part runs on the other
core and out of the inspector's GIL, so a big directory fills the table about
three times sooner and the UI stays responsive while it does. The decoded
metas never exist in the inspector's process either, which keeps its heap
compact. The child prints one JSON object of columns per batch on stdout
(``records_to_batch``); anything it prints on stderr is its failure.

    python -m taskview.sources.child_scan DIR [--allow-pickle] [--max-bytes N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from ..results.record import TaskRecord, records_from_batch, records_to_batch
from ..results.scan import ResultDirectory

#: Rows per line. The first screenful never waits for the child: the tail
#: reads it itself before starting the child.
ROWS = 2000
#: A directory file this big holds tens of thousands of entries (ext4: ~32 B each):
#: worth a process. Smaller ones are read in the tail's own thread.
BIG_DIRECTORY_BYTES = 512 * 1024


class ChildScanFailed(Exception):
    pass


def worth_a_child(results: ResultDirectory, min_bytes: int = BIG_DIRECTORY_BYTES) -> bool:
    if not results.forkable:
        return False  # an archive, or a directory whose reads are watched (--record)
    try:
        return os.stat(results.path).st_size >= min_bytes
    except OSError:
        return False


class ReaderProcess:
    """The child reading a directory: its batches of records, and a way to stop it from any thread."""

    def __init__(self, results: ResultDirectory) -> None:
        import taskview

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(taskview.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        argv = [
            sys.executable,
            "-m",
            "taskview.sources.child_scan",
            results.path,
            "--max-bytes",
            str(results.max_bytes),
        ]
        if results.allow_pickle:
            argv.append("--allow-pickle")
        # stderr to a file: a pipe read only at the end would block a child that says a lot.
        self._errors = tempfile.TemporaryFile()
        try:
            # cwd: `python -m` puts the working directory first on sys.path, and the
            # user may be sitting in the result directory, whose files anyone may write.
            self._process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=self._errors, stdin=subprocess.DEVNULL, env=env, cwd=package_root
            )
        except OSError as exc:
            self._errors.close()
            raise ChildScanFailed(f"cannot start a reader process: {exc.strerror or exc}") from None

    def batches(self, should_stop: Callable[[], bool]) -> Iterator[list[TaskRecord]]:
        """Batches of records as the child reads them; raises ChildScanFailed when it could not finish."""
        process = self._process
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if should_stop():
                    return
                try:
                    batch = orjson.loads(line)
                except orjson.JSONDecodeError:
                    batch = _loads_escaped(line)
                yield records_from_batch(batch)
            if process.wait() != 0 and not should_stop():  # stopped: killed on purpose
                self._errors.seek(0)
                error = self._errors.read().decode("utf-8", "replace").strip()
                raise ChildScanFailed(
                    error.splitlines()[-1] if error else f"the reader process exited with {process.returncode}"
                )
        finally:
            self.stop()

    def stop(self) -> None:
        """Kill the child (a read blocked on its output then ends); safe to call twice, from any thread."""
        process = self._process
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None and not process.stdout.closed:
            try:
                process.stdout.close()
            except (OSError, ValueError):  # another thread is still inside a read on it
                pass
        self._errors.close()


def scan_in_child(results: ResultDirectory, should_stop: Callable[[], bool]) -> Iterator[list[TaskRecord]]:
    """Every file's record, in batches, read by a child process."""
    return ReaderProcess(results).batches(should_stop)


def _dumps(batch: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(batch) + b"\n"
    except TypeError:
        # A name that is not valid UTF-8 (a filename's undecodable bytes, kept as
        # surrogates): orjson refuses those, Python's json escapes them.
        import json

        return json.dumps(batch).encode("ascii") + b"\n"


def _loads_escaped(line: bytes) -> dict[str, Any]:
    import json

    try:
        return json.loads(line)
    except ValueError:
        raise ChildScanFailed("the reader process wrote something that is not a batch") from None


def main(argv: list[str]) -> int:
    path = argv[0]
    allow_pickle = "--allow-pickle" in argv
    max_bytes = int(argv[argv.index("--max-bytes") + 1]) if "--max-bytes" in argv else None
    results = ResultDirectory(path, allow_pickle=allow_pickle, **({"max_bytes": max_bytes} if max_bytes else {}))
    out = sys.stdout.buffer
    records: list[TaskRecord] = []
    try:
        with results.held_open():
            for filename, parsed in results.iter_names():
                record = results.read_record(filename, parsed)
                if record is None:
                    continue
                records.append(record)
                if len(records) >= ROWS:
                    out.write(_dumps(records_to_batch(records)))
                    out.flush()
                    records = []
        if records:
            out.write(_dumps(records_to_batch(records)))
        out.flush()
    except BrokenPipeError:
        return 0  # the inspector quit before the end
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
