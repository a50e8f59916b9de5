"""The first scan of a big directory, read and summarized by a child process.

Reading and decoding a file is ~10 µs of Python; turning a summary row back
into a record is ~2 µs. In a child process the first part runs on the other
core and out of the inspector's GIL, so a big directory fills the table about
three times sooner and the UI stays responsive while it does. The decoded
metas never exist in the inspector's process either, which keeps its heap
compact. The child prints one JSON array of rows per batch on stdout
(``record_to_row``); anything it prints on stderr is its failure.

    python -m taskview.sources.child_scan DIR [--allow-pickle] [--max-bytes N]
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import orjson

from ..results.record import TaskRecord, record_from_row, record_to_row
from ..results.scan import ResultDirectory

#: Rows per line: the first line comes quickly (first screen), the rest in big batches.
FIRST_ROWS = 200
ROWS = 2000
#: A directory file this big holds tens of thousands of entries (ext4: ~32 B each):
#: worth a process. Smaller ones are read in the tail's own thread.
BIG_DIRECTORY_BYTES = 512 * 1024


class ChildScanFailed(Exception):
    pass


def worth_a_child(results: ResultDirectory, min_bytes: int = BIG_DIRECTORY_BYTES) -> bool:
    if not results.forkable or type(results).read_full is not ResultDirectory.read_full:
        return False  # an archive, or a directory whose reads others watch (--record)
    try:
        return os.stat(results.path).st_size >= min_bytes
    except OSError:
        return False


def start_child(results: ResultDirectory) -> subprocess.Popen:
    """The reader process, started; raises ChildScanFailed when it cannot be."""
    import taskview

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(taskview.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "taskview.sources.child_scan", results.path, "--max-bytes", str(results.max_bytes)]
    if results.allow_pickle:
        argv.append("--allow-pickle")
    try:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    except OSError as exc:
        raise ChildScanFailed(f"cannot start a reader process: {exc.strerror or exc}") from None


def child_batches(child: subprocess.Popen, should_stop) -> Iterator[list[TaskRecord]]:  # type: ignore[no-untyped-def]
    """Batches of records as the child reads them; raises ChildScanFailed when it could not finish."""
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if should_stop():
                return
            try:
                rows = orjson.loads(line)
            except orjson.JSONDecodeError:
                rows = _loads_escaped(line)
            yield [record_from_row(row) for row in rows]
        error = child.stderr.read().decode("utf-8", "replace").strip() if child.stderr is not None else ""
        if child.wait() != 0:
            raise ChildScanFailed(error.splitlines()[-1] if error else f"the reader process exited with {child.returncode}")
    finally:
        stop_child(child)


def stop_child(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.kill()
        child.wait()
    for stream in (child.stdout, child.stderr):
        if stream is not None:
            stream.close()


def scan_in_child(results: ResultDirectory, should_stop) -> Iterator[list[TaskRecord]]:  # type: ignore[no-untyped-def]
    """Every file's record, in batches, read by a child process."""
    return child_batches(start_child(results), should_stop)


def _dumps(rows: list[list]) -> bytes:
    try:
        return orjson.dumps(rows) + b"\n"
    except TypeError:
        # A name that is not valid UTF-8 (a filename's undecodable bytes, kept as
        # surrogates): orjson refuses those, Python's json escapes them.
        import json

        return json.dumps(rows).encode("ascii") + b"\n"


def _loads_escaped(line: bytes) -> list[list]:
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
    rows: list[list] = []
    limit = FIRST_ROWS
    try:
        with results.held_open():
            for filename, parsed in results.iter_names():
                record = results.read_record(filename, parsed)
                if record is None:
                    continue
                rows.append(record_to_row(record))
                if len(rows) >= limit:
                    out.write(_dumps(rows))
                    out.flush()
                    rows, limit = [], ROWS
        if rows:
            out.write(_dumps(rows))
        out.flush()
    except BrokenPipeError:
        return 0  # the inspector quit before the end
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
