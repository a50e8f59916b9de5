"""The first scan of a big directory, read and summarized by reader processes.

Reading and decoding a file is ~10 µs of Python; turning a summary row back
into a record is well under a µs. In reader processes the first part runs on
the other cores and out of the inspector's GIL, so a big directory fills the
table several times sooner and the UI stays responsive while it does. The
decoded metas never exist in the inspector's process either, which keeps its
heap compact. Each reader prints one JSON object of columns per batch on stdout
(``records_to_batch``); anything it prints on stderr is its failure.

The readers share the directory by task id: reader k takes the ids in
[bounds[k-1], bounds[k]) (``id_bounds``, from a sample of the listing) and reads
them in id order, so each reader's batches come sorted by id and one reader's
ids all sort before the next one's: the inspector gets the directory in id
order (the store's, the tail's) without sorting a million ids itself.

With an index of an earlier scan (``scan_index``: its descriptor inherited), a
reader ``lstat``s the files of its share and reads only those whose name, mtime
or size differ from what the index holds; the others' indexed summaries are
sent as if read. It checks its whole share before it sends a row, and sends
first its census, how many rows it will send under each display status, and
whether every file of its share was as indexed, and whether it listed the
directory (``{"census": {"SUCCESS": N, ...}, "unchanged": true, "listed":
false}``): the inspector has complete counts in seconds, long before it has
taken in a million rows, and writes no new index of a directory that did not
change. With ``--names-from-index`` (a filesystem whose directory times can be
trusted), a reader whose directory has the mtime and ctime the index kept of it
takes its share's names from the index instead of listing it. Its last line is
a note: ``{"index": {"reused": N, "read": M, "problem": ..., "listed": true}}``.

    python -m taskview.sources.child_scan DIR [--allow-pickle] [--max-bytes N] [--from HEX] [--to HEX]
        [--index-fd N [--names-from-index] | --no-keys]

``--no-keys``: no key line before each batch line (they are for the next index's writer:
~40 bytes a file to write, pipe and skip when none is written).
"""

from __future__ import annotations

import gc
import os
import selectors
import stat
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple, cast

import orjson

from ..results.files import TASK_PREFIX, ResultName, parse_name, plain_task_ids
from ..results.parallel import default_jobs
from ..results.record import TaskRecord, batch_census, records_from_batch, records_to_batch
from ..results.scan import ResultDirectory
from .scan_index import KEY_LINE_START, IndexChunk, IndexProblem, ShareWalk, key_line, read_header

#: Rows per line. The first screenful never waits for the child: the tail
#: reads it itself before starting the readers.
ROWS = 2000
#: Lines a reader writes at once after its census (a pipe takes 64 KiB: it blocks until read).
LINES_A_WRITE = 8
#: A reader with an index sends no census once it has read this many files that changed since
#: (~0.5 s): its rows go as they are read instead of all after the last of them.
CENSUS_MOST_READS = 20_000
#: A reader that has sent its census waits at most this long for the others' (``ReaderPool._hold``):
#: a reader stuck on a file (a hung network mount) must not hold every other reader's rows back.
CENSUS_HOLD_SECONDS = 5.0
#: A directory file this big holds tens of thousands of entries (ext4: ~32 B each):
#: worth a process. Smaller ones are read in the tail's own thread.
BIG_DIRECTORY_BYTES = 512 * 1024

#: Readers run below the inspector's priority: on two cores, two readers and the inspector
#: are three processes, and an inspector thread the kernel set aside while it held the GIL
#: stopped the UI with it (merges and bulk intakes of 10 ms seen to take 50-150 ms). At the
#: lowest priority: at 5 a reader still took a tenth of the inspector's core now and then (UI gaps
#: of 46-72 ms in a 1M first scan, 37-45 at 19, the scan no slower: the inspector uses one core
#: at most, the readers get the rest). They yield to the processes of their own scheduling group
#: only (not to workers in a cgroup of their own), and scan that much slower when all cores are busy.
READER_NICENESS = 19

#: Called with each batch line a reader printed, its records, and the key line it printed
#: before it (the scan index's writer).
LineSink = Callable[[bytes, list[TaskRecord], bytes | None], None]


class ChildScanFailed(Exception):
    pass


def worth_a_child(results: ResultDirectory, min_bytes: int = BIG_DIRECTORY_BYTES) -> bool:
    if not results.forkable:
        return False  # an archive, or a directory whose reads are watched (--record)
    try:
        return os.stat(results.path).st_size >= min_bytes
    except OSError:
        return False


def id_bounds(sample: Sequence[str], readers: int) -> list[str]:
    """Where reader k's share of the task ids ends (``readers - 1`` ids, ascending, distinct):
    quantiles of ``sample``, ids taken from the directory. Fewer when the sample is too small
    to cut (one reader then reads what two would have)."""
    ids = sorted(set(sample))
    if readers <= 1 or len(ids) < 2 * readers:
        return []
    return sorted({ids[len(ids) * k // readers] for k in range(1, readers)})


def reader_count() -> int:
    """One reader per CPU the inspector may use (up to 4), as the headless modes fork."""
    return default_jobs()


def reader_argv(
    results: ResultDirectory,
    low: str | None = None,
    high: str | None = None,
    *,
    index_fd: int | None = None,
    names_from_index: bool = False,
    keys: bool = True,
) -> list[str]:
    """The command line of a reader of the ids in [low, high) (``main``'s arguments);
    ``keys``: someone reads the key lines (without an index, they go unread otherwise)."""
    argv = [sys.executable, "-m", "taskview.sources.child_scan", results.path, "--max-bytes", str(results.max_bytes)]
    if results.allow_pickle:
        argv.append("--allow-pickle")
    # Ids are file names: any byte but "/" and NUL, so they cross argv as hex.
    if low is not None:
        argv += ["--from", os.fsencode(low).hex()]
    if high is not None:
        argv += ["--to", os.fsencode(high).hex()]
    if index_fd is not None:
        argv += ["--index-fd", str(index_fd)]
        if names_from_index:
            argv.append("--names-from-index")
    elif not keys:
        argv.append("--no-keys")  # no index is written: the key lines would go unread
    return argv


class ReaderProcess:
    """One reader of a directory (the ids in [low, high)): its batches of records, and a way
    to stop it from any thread."""

    def __init__(
        self,
        results: ResultDirectory,
        low: str | None = None,
        high: str | None = None,
        *,
        index_fd: int | None = None,
        on_line: LineSink | None = None,
        names_from_index: bool = False,
    ) -> None:
        """``names_from_index``: the directory's own times may say that its entries are those the
        index holds (``fsinfo.directory_times_trusted``: ``_share_of_index``)."""
        import taskview

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(taskview.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        argv = reader_argv(
            results, low, high, index_fd=index_fd, names_from_index=names_from_index, keys=on_line is not None
        )
        self.on_line = on_line
        #: What the reader said of the index at its end (its note), once it has.
        self.note: dict[str, Any] | None = None
        #: Rows it will send by display status, once it said (with an index only), and when it said.
        self.census: Counter[str] | None = None
        self.census_at = 0.0
        #: Its census said every file of its share is as the index holds it.
        self.unchanged = False
        #: It listed the directory (its census said): the index's times of it were not its own.
        self.listed = True
        #: It has sent a line (a census, a batch or its note): with an index, a reader sends
        #: nothing until it has checked its whole share.
        self.spoke = False
        # stderr to a file: a pipe read only at the end would block a child that says a lot.
        self._errors = tempfile.TemporaryFile()
        try:
            # cwd: `python -m` puts the working directory first on sys.path, and the
            # user may be sitting in the result directory, whose files anyone may write.
            self._process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=self._errors,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=package_root,
                pass_fds=() if index_fd is None else (index_fd,),
            )
        except OSError as exc:
            self._errors.close()
            raise ChildScanFailed(f"cannot start a reader process: {exc.strerror or exc}") from None
        try:
            # Below the inspector from its start (its own os.nice would come after its imports,
            # a tenth of a second of a core at the inspector's priority, beside its first frames).
            niceness = min(os.getpriority(os.PRIO_PROCESS, 0) + READER_NICENESS, 19)
            os.setpriority(os.PRIO_PROCESS, self._process.pid, niceness)
        except OSError:  # it is gone already: its end says why
            pass
        # The start of a line still being written, in the pieces read (a pipe hands 64 KiB at
        # a time, a batch line is several times that: joined once, when its end comes).
        self._pending: list[bytes] = []
        self._key: bytes | None = None  # the key line before the batch line to come

    @property
    def fd(self) -> int:
        assert self._process.stdout is not None
        return self._process.stdout.fileno()

    def batches(self, should_stop: Callable[[], bool]) -> Iterator[list[TaskRecord]]:
        """Batches of records as the child reads them; raises ChildScanFailed when it could not finish."""
        process = self._process
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if should_stop():
                    return
                records = self._take(line)
                if records is not None:
                    yield records
            self._check(should_stop)
        finally:
            self.stop()

    def read_available(self) -> tuple[list[list[TaskRecord]], bool]:
        """The batches whole in the pipe now (its end set non-blocking), and whether the child is done
        writing (then ``finish`` says whether it did well)."""
        try:
            data = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return [], False
        pending = self._pending
        if not data:
            rest = b"".join(pending)
            last = self._take(rest) if rest.strip() else None
            return ([] if last is None else [last]), True
        if b"\n" not in data:
            pending.append(data)
            return [], False
        *lines, rest = data.split(b"\n")
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
        self._pending = [rest] if rest else []
        taken = [self._take(line) for line in lines if line]
        return [records for records in taken if records is not None], False

    def _take(self, line: bytes) -> list[TaskRecord] | None:
        """The records of one line (given to ``on_line`` too), or None for the reader's note and a
        batch's key line (kept for ``on_line``, never decoded here: only the index keeps it)."""
        self.spoke = True
        if line.startswith(KEY_LINE_START):
            self._key = line
            return None
        batch = _parse(line)
        if "columns" not in batch:
            if "index" in batch:
                note = batch["index"]
                self.note = note if isinstance(note, dict) else None
                return None
            if "census" in batch:
                self.census = _census(batch["census"])
                self.census_at = time.monotonic()
                self.unchanged = batch.get("unchanged") is True
                self.listed = batch.get("listed") is not False
                return None
        records = _records(batch)
        key, self._key = self._key, None
        if self.on_line is not None:
            self.on_line(line, records, key)
        return records

    def finish(self, should_stop: Callable[[], bool]) -> None:
        """After the last batch: raises ChildScanFailed when the child could not read its share."""
        try:
            self._check(should_stop)
        finally:
            self.stop()

    def _check(self, should_stop: Callable[[], bool]) -> None:
        process = self._process
        if process.wait() != 0 and not should_stop():  # stopped: killed on purpose
            self._errors.seek(0)
            error = self._errors.read().decode("utf-8", "replace").strip()
            raise ChildScanFailed(
                error.splitlines()[-1] if error else f"the reader process exited with {process.returncode}"
            )

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


class ReaderPool:
    """Readers sharing a directory by id (``id_bounds``): batches from whichever has one."""

    def __init__(
        self,
        results: ResultDirectory,
        bounds: Sequence[str] = (),
        *,
        index_fd: int | None = None,
        on_line: LineSink | None = None,
        names_from_index: bool = False,
    ) -> None:
        edges: list[str | None] = [None, *bounds, None]
        self.readers: list[ReaderProcess] = []
        try:
            for low, high in zip(edges, edges[1:], strict=False):
                self.readers.append(
                    ReaderProcess(
                        results, low, high, index_fd=index_fd, on_line=on_line, names_from_index=names_from_index
                    )
                )
        except ChildScanFailed:
            self.stop()
            raise
        for reader in self.readers:
            os.set_blocking(reader.fd, False)

    def batches(
        self, should_stop: Callable[[], bool], wait: Callable[[], float]
    ) -> Iterator[tuple[int, list[TaskRecord]]]:
        """(reader number, its next batch), from every reader until all are done; raises
        ChildScanFailed when one could not read its share. ``wait()``: how long to wait
        for a batch when none is ready (0 when the caller has work to do between)."""
        selector = selectors.DefaultSelector()
        running = dict(enumerate(self.readers))
        held: set[int] = set()  # readers not read for now (``_hold``): their fds unregistered
        try:
            for index, reader in running.items():
                selector.register(reader.fd, selectors.EVENT_READ, index)
            while running:
                if should_stop():
                    return
                for key, _ in selector.select(wait()):
                    index = key.data
                    reader = running[index]
                    got, done = reader.read_available()
                    for records in got:
                        yield index, records
                    if done:
                        selector.unregister(reader.fd)
                        del running[index]
                        reader.finish(should_stop)
                for index, reader in running.items():
                    hold = self._hold(reader, running.values())
                    if hold and index not in held:
                        held.add(index)
                        selector.unregister(reader.fd)
                    elif not hold and index in held:
                        held.discard(index)
                        selector.register(reader.fd, selectors.EVENT_READ, index)
                if not running or should_stop():
                    return
                yield -1, []  # nothing ready: the caller's turn
        finally:
            selector.close()
            self.stop()

    @staticmethod
    def _hold(reader: ReaderProcess, running: Iterable[ReaderProcess]) -> bool:
        """Whether to leave ``reader``'s rows in its pipe for now: it has sent its census and
        another reader is still checking its share. Taking the rows in costs the inspector a core
        (two at times, with the reader writing them): the reader still checking, niced below
        both, then finished its census ~1.5 s later than alone, and the counts waited for it.
        Held, the reader blocks on its full pipe and the last census comes as soon as may be; for
        ``CENSUS_HOLD_SECONDS`` at most."""
        return (
            reader.census is not None
            and time.monotonic() - reader.census_at < CENSUS_HOLD_SECONDS
            and any(other is not reader and not other.spoke for other in running)
        )

    def census(self) -> Counter[str] | None:
        """The rows every reader will send, by display status, once each has said (None before,
        and without an index)."""
        counts: Counter[str] = Counter()
        for reader in self.readers:
            if reader.census is None:
                return None
            counts.update(reader.census)
        return counts

    @property
    def unchanged(self) -> bool:
        """Every reader said in its census that its whole share is as the index holds it."""
        return all(reader.unchanged for reader in self.readers)

    @property
    def listed(self) -> bool:
        """A reader said in its census that it listed the directory (not as the index kept it)."""
        return any(reader.listed for reader in self.readers)

    def stop(self) -> None:
        for reader in self.readers:
            reader.stop()


def scan_in_child(results: ResultDirectory, should_stop: Callable[[], bool]) -> Iterator[list[TaskRecord]]:
    """Every file's record, in batches, read by a child process."""
    return ReaderProcess(results).batches(should_stop)


def _parse(line: bytes) -> dict[str, Any]:
    try:
        batch = orjson.loads(line)
    except orjson.JSONDecodeError:
        batch = _loads_escaped(line)
    if not isinstance(batch, dict):
        raise ChildScanFailed("the reader process wrote something that is not a batch")
    return batch


def _census(counts: Any) -> Counter[str]:
    if type(counts) is not dict or not all(type(n) is int and n >= 0 for n in counts.values()):
        raise ChildScanFailed("the reader process wrote a census that is not one")
    return Counter(counts)


def _records(batch: dict[str, Any]) -> list[TaskRecord]:
    try:
        return records_from_batch(batch)
    except (KeyError, TypeError, ValueError):
        raise ChildScanFailed("the reader process wrote something that is not a batch") from None


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
    low = os.fsdecode(bytes.fromhex(argv[argv.index("--from") + 1])) if "--from" in argv else None
    high = os.fsdecode(bytes.fromhex(argv[argv.index("--to") + 1])) if "--to" in argv else None
    index_fd = int(argv[argv.index("--index-fd") + 1]) if "--index-fd" in argv else None
    results = ResultDirectory(path, allow_pickle=allow_pickle, **({"max_bytes": max_bytes} if max_bytes else {}))
    out = sys.stdout.buffer
    note: dict[str, Any] = {"reused": 0, "read": 0, "problem": None}
    try:
        walk = _indexed(results, index_fd, low, high, note) if index_fd is not None and not allow_pickle else None
        share = None
        if walk is not None and walk.entries_unchanged and "--names-from-index" in argv:
            share = _share_of_index(walk, low, high)
            if share is None:  # a chunk corrupt or unreadable (the walk is spent), or ids out of order
                walk = _indexed(results, cast(int, index_fd), low, high, note)
        note["listed"] = share is None
        if share is None:
            share = _share(results, low, high)
        dir_fd = os.open(results.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if walk is not None else -1
        try:
            if walk is None:
                keys = "--no-keys" not in argv
                for start in range(0, len(share), ROWS):
                    out.write(_read_lines(results, share.listing(start, start + ROWS), keys))
                    out.flush()
            else:
                # Every file of the share checked against the index before any row is sent: the
                # census of what the store will hold comes first (complete counts in seconds),
                # then the rows, which take the inspector much longer to take in. Unless many
                # files changed: reading them all before the first row would hold the rows back.
                census: Counter[str] | None = Counter()
                held: list[Part] = []

                def resolve(part: Part) -> bytes:
                    return _resolved(part, results, share, note)

                for end, lines, reused in _reconciled(results, share, walk, dir_fd, census):
                    note["reused"] += reused
                    if census is None:
                        out.write(b"".join(map(resolve, lines)))
                        out.flush()
                        continue
                    held += lines
                    if end - note["reused"] > CENSUS_MOST_READS:
                        census = None  # no census: the rows go as they are read
                        _write_lines(out, held, resolve)
                        held = []
                if census is not None:
                    # Unchanged: every file of the share as indexed (none read, no chunk
                    # corrupt): an index written anew would hold what the last one does.
                    unchanged = note["reused"] == len(share) and not (walk.corrupt or walk.problem)
                    out.write(_dumps({"census": dict(census), "unchanged": unchanged, "listed": note["listed"]}))
                    out.flush()
                    _write_lines(out, held, resolve)
            note["read"] += len(share)
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
            if index_fd is not None:
                os.close(index_fd)
        note["read"] -= note["reused"]
        if walk is not None and (walk.corrupt or walk.problem):
            note["problem"] = walk.problem or f"{walk.corrupt} corrupt chunk(s): their files read"
        out.write(_dumps({"index": note}))
        out.flush()
    except BrokenPipeError:
        return 0  # the inspector quit before the end
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _write_lines(out: Any, lines: list[Part], resolve: Callable[[Part], bytes]) -> None:
    for start in range(0, len(lines), LINES_A_WRITE):
        out.write(b"".join(map(resolve, lines[start : start + LINES_A_WRITE])))
        out.flush()


class _Forward(NamedTuple):
    """A run of the share's files that is an index chunk's rows, all unchanged: sent on as the
    chunk's key and line, once its line is checked to be the batch its key says (after the
    census, which needs only the key)."""

    chunk: IndexChunk
    start: int
    end: int


#: What a reader sends of a run of files: a key line and a batch line, or a chunk to forward.
Part = bytes | _Forward


def _resolved(part: Part, results: ResultDirectory, share: Share, note: dict[str, Any]) -> bytes:
    """The lines of ``part``: a forwarded chunk's own, or, if its line is not the batch its key
    says (a corrupt chunk whose key was whole), its files' read afresh."""
    if type(part) is bytes:
        return part
    chunk, start, end = cast(_Forward, part)
    line = chunk.line if chunk.batch is not None else None
    if line is not None:
        return chunk.key_data + line
    note["reused"] -= end - start
    return _read_lines(results, share.listing(start, end))


def _read_lines(results: ResultDirectory, listing: list[tuple[str, ResultName]], keys: bool = True) -> bytes:
    """The key line (unless not ``keys``) and batch line of these files, read."""
    batch = records_to_batch(list(results.read_summaries(listing)))
    return _lines_of(batch) if keys else _dumps(batch)


def _lines_of(batch: dict[str, Any]) -> bytes:
    """A batch's key line (``scan_index.ChunkKey``: what a reopen checks) and its own line."""
    return key_line(batch) + _dumps(batch)


def _indexed(
    results: ResultDirectory, fd: int, low: str | None, high: str | None, note: dict[str, Any]
) -> ShareWalk | None:
    """The index's records of this reader's share, or None (``note`` says why)."""
    try:
        st = os.stat(results.path)  # the directory this reader lists, whatever the inspector saw
        header = read_header(fd, st.st_dev, st.st_ino, results.max_bytes)
        walk = ShareWalk(fd, header, low, high)
        walk.entries_unchanged = header.dir_times == (st.st_mtime_ns, st.st_ctime_ns)
        return walk
    except (IndexProblem, OSError) as exc:
        note["problem"] = str(exc)
    except Exception as exc:  # an index is never a reason to fail the scan
        note["problem"] = f"cannot use it: {type(exc).__name__}"
    return None


def _reconciled(
    results: ResultDirectory,
    share: Share,
    walk: ShareWalk,
    dir_fd: int,
    census: Counter[str] | None,
) -> Iterator[tuple[int, list[Part], int]]:
    """The batch lines of the ``share`` (as ``_reuse`` makes them), a run of files at a time,
    with how far into the share they reach and how many the index gave. A run of files that
    is exactly an index chunk's rows, all unchanged, is that chunk's line, checked a whole
    run at a time (lists compared in C: most of a reopen's files, with no lookup of each); the
    rest go ``_reuse``'s way, file by file, at most ``ROWS`` at once. ``census`` as ``_reuse``
    (the caller may drop it between runs: not updated for the runs after)."""
    ids = share.ids
    start = 0
    while start < len(ids):
        chunk, bound = walk.reach(ids[start])
        if chunk is not None:
            assert bound is not None
            end = bisect_right(ids, bound, start)
            if chunk.all_trusted and _as_indexed(share, start, end, chunk, dir_fd):
                if census is not None:
                    census.update(chunk.key.census)
                yield end, [_Forward(chunk, start, end)], end - start
                start = end
                continue
        else:
            end = len(ids) if bound is None else bisect_left(ids, bound, start)
        end = min(end, start + ROWS)
        lines, reused = _reuse(results, share.listing(start, end), walk, dir_fd, census)
        yield end, lines, reused
        start = end


def _as_indexed(share: Share, start: int, end: int, chunk: IndexChunk, dir_fd: int) -> bool:
    """Whether the files of ``share`` in [start, end) are the chunk's rows, in order (ids and
    prefixes), each a regular file with the mtime and size the chunk holds."""
    if end - start != len(chunk.mtimes) or share.ids[start:end] != chunk.ids:
        return False
    if not chunk.same_prefixes(share.odd_prefixes(start, end)):
        return False
    lstat = os.stat
    try:
        found = [lstat(name, dir_fd=dir_fd, follow_symlinks=False) for name in share.names[start:end]]
    except OSError:
        return False  # one went since: file by file
    return (
        list(map(_MTIME_OF, found)) == chunk.mtimes
        and list(map(_SIZE_OF, found)) == chunk.sizes
        and all(map(stat.S_ISREG, map(_MODE_OF, found)))
    )


_MTIME_OF, _SIZE_OF, _MODE_OF = attrgetter("st_mtime"), attrgetter("st_size"), attrgetter("st_mode")


def _reuse(
    results: ResultDirectory,
    share: list[tuple[str, ResultName]],
    walk: ShareWalk,
    dir_fd: int,
    census: Counter[str] | None,
) -> tuple[list[Part], int]:
    """The batch lines of ``share`` (in its order), and how many of its files the index gave
    (``census``, when given, counts their rows by display status):
    a file the index holds under the same name, with the same mtime and size (a regular file,
    not a symlink), keeps its indexed summary; the rest are read. When none is read (a reopen
    of an unchanged directory), the index's rows are forwarded as they are, a line a chunk,
    with no record made of them here."""
    kept: list[tuple[IndexChunk, int] | None] = []
    unread: list[tuple[str, ResultName]] = []
    lstat, is_regular, locate = os.stat, stat.S_ISREG, walk.locate
    for filename, parsed in share:
        row = locate(parsed[1])
        chunk = walk.chunk
        if row is not None and chunk is not None and chunk.prefixes[row] == parsed[2]:
            try:
                st = lstat(filename, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                st = None
            if (
                st is not None
                and is_regular(st.st_mode)
                and st.st_mtime == chunk.mtimes[row]
                and st.st_size == chunk.sizes[row]
            ):
                kept.append((chunk, row))
                continue
        kept.append(None)
        unread.append((filename, parsed))
    reused = len(kept) - len(unread)
    if not unread:
        hits = cast("list[tuple[IndexChunk, int]]", kept)  # every file was: no None in it
        by_chunk = groupby(hits, key=itemgetter(0))
        lines = []
        for chunk, hits_in_chunk in by_chunk:
            rows = [row for _, row in hits_in_chunk]
            line = chunk.line  # read and decoded already: its rows were found
            if chunk.whole(rows) and line is not None:
                lines.append(chunk.key_data + line)
                counted: dict[str, int] = chunk.key.census
            else:
                batch = chunk.batch_of(rows)
                lines.append(_lines_of(batch))
                counted = batch_census(batch)
            if census is not None:
                census.update(counted)
        return lines, reused
    records: list[TaskRecord | None] = [None] * len(kept)
    wanted: dict[IndexChunk, list[int]] = {}
    for at, hit in enumerate(kept):
        if hit is not None:
            wanted.setdefault(hit[0], []).append(at)
    for chunk, places in wanted.items():
        made = chunk.records([kept[at][1] for at in places])  # type: ignore[index]
        for at, record in zip(places, made, strict=True):
            records[at] = record
    fresh = {r.task_id: r for r in results.read_summaries(unread)}
    for at, hit in enumerate(kept):
        if hit is None:
            records[at] = fresh.get(share[at][1][1])
    batch = records_to_batch([record for record in records if record is not None])
    if census is not None:
        census.update(batch_census(batch))
    return [_lines_of(batch)], reused


#: The first string after every name that begins with TASK_PREFIX ("-" and then ".").
_AFTER_TASK_NAMES = TASK_PREFIX[:-1] + chr(ord(TASK_PREFIX[-1]) + 1)


class Share:
    """A reader's files, in id order: their names and task ids (``names[k]`` holds ``ids[k]``).
    Nearly every name is Celery's own (``celery-task-meta-<id>``): their parsed names are made
    only when asked (``listing``), the few others (``odd``, by place) kept as parsed."""

    __slots__ = ("names", "ids", "odd", "_odd_at")

    def __init__(self, names: list[str], ids: list[str], odd: dict[int, ResultName]) -> None:
        self.names, self.ids, self.odd = names, ids, odd
        self._odd_at = sorted(odd)

    def __len__(self) -> int:
        return len(self.names)

    def listing(self, start: int = 0, end: int | None = None) -> list[tuple[str, ResultName]]:
        """(file name, parsed name) of the files in [start, end), as ``parse_name`` makes them."""
        end = len(self.names) if end is None else end
        names = self.names[start:end]
        made = list(zip(names, plain_task_ids(self.ids[start:end]), strict=True))
        for at in self._odd_at[bisect_left(self._odd_at, start) : bisect_left(self._odd_at, end)]:
            made[at - start] = (names[at - start], self.odd[at])
        return made

    def odd_prefixes(self, start: int, end: int) -> list[tuple[int, str]]:
        """(place from ``start``, name prefix) of the ``odd`` files in [start, end): the others'
        prefix is Celery's own, ``celery-task-meta-``."""
        odd_at = self._odd_at
        return [(at - start, self.odd[at][2]) for at in odd_at[bisect_left(odd_at, start) : bisect_left(odd_at, end)]]


def _share_of_index(walk: ShareWalk, low: str | None, high: str | None) -> Share | None:
    """This reader's files as the index holds them (the ids in [low, high), in order), for a
    directory whose entries are those it had when indexed (``ShareWalk.entries_unchanged``):
    what ``_share`` would list, without a listing (a third of a reopen's reader, with its sort).
    None when a chunk is corrupt or cannot be read, or its ids are not in order."""
    chunks = walk.all_chunks()
    if chunks is None:
        return None
    ids: list[str] = []
    odd_prefixes: dict[int, str] = {}
    for chunk in chunks:
        chunk_ids = chunk.ids
        start = 0 if low is None else bisect_left(chunk_ids, low)
        end = len(chunk_ids) if high is None else bisect_left(chunk_ids, high)
        base = len(ids) - start
        ids += chunk_ids[start:end] if start or end < len(chunk_ids) else chunk_ids
        for row, prefix in chunk.key.odd:
            if start <= row < end:
                odd_prefixes[base + row] = prefix
    if not all(map(str.__lt__, ids, ids[1:])):
        return None  # not one file a task, in order: as written by no reader
    names = [TASK_PREFIX + task_id for task_id in ids]
    odd: dict[int, ResultName] = {}
    for at, prefix in odd_prefixes.items():
        names[at] = prefix + ids[at]
        parsed = parse_name(names[at])
        if parsed is None or parsed[1] != ids[at]:
            return None
        odd[at] = parsed
    return Share(names, ids, odd)


def _share(results: ResultDirectory, low: str | None, high: str | None) -> Share:
    """This reader's files: those whose task id is in [low, high), in id order, one file a
    task (of two files naming one task, the last by name: a store holds one).

    Nearly every name of a directory is Celery's own (``celery-task-meta-<id>``): those are
    kept or not by comparing names, cut to their ids and put in id order, all in C; only the
    rest (group files, a global_keyprefix, strangers) are parsed one by one."""
    names = os.listdir(results.path)
    # Between two names that begin with the prefix lie only names that begin with it: the
    # plain names of the share, in one pass. Without a low bound, from the prefix and one more
    # character (the bare prefix names no task); without a high one, to the prefix's successor.
    floor = TASK_PREFIX + (low or "\0")
    ceiling = TASK_PREFIX + high if high is not None else _AFTER_TASK_NAMES
    plain = [name for name in names if floor <= name < ceiling]
    others = [name for name in names if not name.startswith(TASK_PREFIX)]
    cut = len(TASK_PREFIX)
    plain_ids = [name[cut:] for name in plain]
    plain_ids.sort()
    # The names made again, in id order: each ``lstat`` then reads the next name from memory
    # past the last one (the listing's own strings, sorted, lie all over it: 1.2x the time).
    plain = [TASK_PREFIX + task_id for task_id in plain_ids]
    picked: dict[str, tuple[str, ResultName]] = {}
    for name in others:
        parsed = parse_name(name)
        if parsed is None:
            continue
        task_id = parsed[1]
        if (low is not None and task_id < low) or (high is not None and task_id >= high):
            continue
        if task_id not in picked or name > picked[task_id][0]:
            picked[task_id] = (name, parsed)
    if not picked:
        return Share(plain, plain_ids, {})
    # The others go in by id; of an id both there and among the plain names, the last name.
    merged: list[str] = []
    ids: list[str] = []
    odd: dict[int, ResultName] = {}
    done = 0
    for task_id, (name, parsed) in sorted(picked.items()):
        at = bisect_left(plain_ids, task_id, done)
        merged += plain[done:at]
        ids += plain_ids[done:at]
        if at < len(plain) and plain_ids[at] == task_id:
            if name > plain[at]:
                odd[len(merged)] = parsed
                merged.append(name)
            else:
                merged.append(plain[at])
            at += 1
        else:
            odd[len(merged)] = parsed
            merged.append(name)
        ids.append(task_id)
        done = at
    merged += plain[done:]
    ids += plain_ids[done:]
    return Share(merged, ids, odd)


if __name__ == "__main__":
    # A reader makes a tuple or two a file and keeps most of them to its end: the cyclic
    # collector would walk them all again and again (a third of a reader's time at 1M),
    # for no cycle (the process ends when its share is sent).
    gc.disable()
    sys.exit(main(sys.argv[1:]))
