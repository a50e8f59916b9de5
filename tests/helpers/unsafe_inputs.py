"""Inputs that do harm if taskview handles them carelessly, built as real files.

- A result source (a directory, a .tar/.tgz/.zip of one, a ``--record`` journal) that
  carries a pickle whose unpickling creates a file (``helpers.canary.CreatesAFile``).
- Archives whose members point outside: ``..`` and absolute names, symbolic and hard
  links to a secret file, special files, duplicate names.

Nothing here mocks the format: the files are what Celery, tar, zip and ``--record`` write.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import stat
import tarfile
import tempfile
import uuid
import zipfile
from pathlib import Path

from helpers.canary import CreatesAFile

TASK_PREFIX = "celery-task-meta-"
#: The task whose file is the pickle, and a plain JSON task beside it (proof the source was read).
PICKLED_ID = "evil"
PLAIN_ID = "plain"
#: What every source kind is called in test ids.
ARCHIVE_KINDS = ("tar", "tgz", "zip")
SOURCE_KINDS = ("directory", *ARCHIVE_KINDS, "journal")
#: What taskview says instead of unpickling (results/codec.py PICKLE_REFUSED starts so).
PICKLE_REFUSED = "pickle: not loaded"
#: Text of the secret file outside an archive: it must never be shown.
SECRET = "TOP-SECRET-7f3a"
#: Text of a decoy where a ``..`` member would land if it were extracted or followed.
DECOY = "DECOY-OUTSIDE-91c2"


def meta(task_id: str, status: str = "SUCCESS", result: object = "inside") -> dict:
    return {
        "status": status,
        "result": result,
        "traceback": None,
        "children": [],
        "date_done": None,
        "task_id": task_id,
    }


def json_file(task_id: str, status: str = "SUCCESS", result: object = "inside") -> bytes:
    return json.dumps(meta(task_id, status, result)).encode()


def canary_pickle(canary: Path, task_id: str = PICKLED_ID) -> bytes:
    """A result file as a pickle-serializing worker writes it (protocol 4), whose
    unpickling creates ``canary``."""
    return pickle.dumps(meta(task_id, result=CreatesAFile(str(canary))), protocol=4)


def archive_name(kind: str) -> str:
    return {"tar": "results.tar", "tgz": "results.tgz", "zip": "results.zip"}[kind]


def write_archive(target: Path, members: list[tuple[str, bytes]], mtime: float = 1_700_000_000.0) -> Path:
    """Regular members (name, bytes), in this order, in a .tar, .tgz or .zip (by suffix)."""
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(name, data)
        return target
    with tarfile.open(target, "w:gz" if target.suffix == ".tgz" else "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            archive.addfile(info, io.BytesIO(data))
    return target


def pickled_source(kind: str, where: Path, canary: Path) -> Path:
    """A source of ``kind`` (SOURCE_KINDS) holding the canary pickle as task ``evil``
    beside the plain task ``plain``; created under ``where``. Archives put their
    members in different places: a folder (tar), the top (tgz), two folders deep (zip)."""
    where.mkdir(parents=True, exist_ok=True)
    pickled, plain = canary_pickle(canary), json_file(PLAIN_ID)
    if kind == "directory":
        directory = where / "results"
        directory.mkdir()
        (directory / f"{TASK_PREFIX}{PICKLED_ID}").write_bytes(pickled)
        (directory / f"{TASK_PREFIX}{PLAIN_ID}").write_bytes(plain)
        return directory
    if kind == "journal":
        return hostile_journal(where, canary)
    folder = {"tar": "results/", "tgz": "", "zip": "backup/results/"}[kind]
    members = [(f"{folder}{TASK_PREFIX}{PICKLED_ID}", pickled), (f"{folder}{TASK_PREFIX}{PLAIN_ID}", plain)]
    return write_archive(where / archive_name(kind), members)


#: The tasks of ``hostile_journal`` and the status each line claims.
JOURNAL_TASKS = {
    PICKLED_ID: "SUCCESS",  # meta: the pickle's bytes as a string; file: a real pickle on disk
    "evil-base64": "SUCCESS",  # meta: kombu's base64 type tag around the pickle
    "evil-bytes": "SUCCESS",  # meta: kombu's bytes type tag around the pickle
    "evil-error": "unreadable",  # error: the pickle's bytes as a string, no meta
    PLAIN_ID: "SUCCESS",
}


def hostile_journal(where: Path, canary: Path) -> Path:
    """A ``--record`` journal whose lines carry the canary pickle every way JSON can:
    as a string (a pickle's bytes cannot be a JSON value, but their latin-1 text can),
    inside kombu's ``bytes``/``base64`` type tags, in ``error``; and a ``file`` naming a
    real pickle file on disk (the canary pickle, next to the journal). A journal is
    JSON only: nothing in it may ever be unpickled, nor any file it names be read."""
    pickled = canary_pickle(canary)
    as_text = pickled.decode("latin-1")
    on_disk = where / "elsewhere" / f"{TASK_PREFIX}{PICKLED_ID}"
    on_disk.parent.mkdir(parents=True, exist_ok=True)
    on_disk.write_bytes(pickled)

    def line(task_id: str, *, meta_value: object = None, error: str | None = None, file: str | None = None) -> dict:
        return {
            "time": 1_700_000_000.0 + len(task_id),
            "task_id": task_id,
            "kind": "task",
            "file": file or f"{TASK_PREFIX}{task_id}",
            "old": None,
            "new": JOURNAL_TASKS[task_id],
            "live": False,
            "size": len(pickled),
            "error": error,
            "meta": meta_value,
        }

    lines = [
        line(PICKLED_ID, meta_value=as_text, file=str(on_disk)),
        line(
            "evil-base64",
            meta_value=meta(
                "evil-base64", result={"__type__": "base64", "__value__": base64.b64encode(pickled).decode()}
            ),
        ),
        line("evil-bytes", meta_value=meta("evil-bytes", result={"__type__": "bytes", "__value__": as_text})),
        line("evil-error", error=as_text),
        line(PLAIN_ID, meta_value=meta(PLAIN_ID)),
    ]
    journal = where / "session.jsonl"
    journal.write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    return journal


# --- archives whose members point outside ---------------------------------------------


class Outside:
    """Where hostile members would land or lead, for one test under ``root``:

    - ``secret``: a file outside the archive, a valid result whose result is SECRET;
      links in the archive point at it.
    - ``cwd``: three levels under ``root``, where the command runs; the archive sits
      there too, so ``..`` names resolved from either land inside ``root``.
    - decoys (result DECOY) already sit where the ``..`` names resolve from ``cwd``.
    - ``token``: in every traversal member's name, so that ``strays()`` finds one
      written anywhere else (next to a temporary folder, at the top of the filesystem).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = uuid.uuid4().hex[:10]
        self.secret = root / "secret" / f"{TASK_PREFIX}secret"
        self.secret.parent.mkdir(parents=True)
        self.secret.write_bytes(json_file("secret", result=SECRET))
        self.cwd = root / "work" / "deep" / "er"
        self.cwd.mkdir(parents=True)
        self.absolute = root / f"absolute-{self.token}" / f"{TASK_PREFIX}abs-{self.token}"  # never to appear
        for up in (self.cwd.parent, self.cwd.parent.parent):
            for task_id in (f"up-{self.token}", f"up2-{self.token}"):
                (up / f"{TASK_PREFIX}{task_id}").write_bytes(json_file(task_id, result=DECOY))

    def tree(self) -> dict[str, tuple[int, bytes | None]]:
        """Every path under root, with its mode and (for files) content: compare before and after."""
        found: dict[str, tuple[int, bytes | None]] = {}
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                mode = os.lstat(path).st_mode
                found[os.path.relpath(path, self.root)] = (
                    mode,
                    Path(path).read_bytes() if stat.S_ISREG(mode) else None,
                )
        return found

    def strays(self) -> list[str]:
        """Entries named with the token outside root: in root's ancestors (up to /) and the
        temporary folder, where ``..`` names extracted from elsewhere would land."""
        places = {tempfile.gettempdir(), *map(str, self.root.parents)}
        return sorted(os.path.join(place, name) for place in places for name in os.listdir(place) if self.token in name)


#: What each member of ``hostile_archive`` must read as: a row from the member's own
#: bytes (result "inside"), or an unreadable row with this reason, nothing followed.
READ_IN_PLACE = "read in place"
NOT_REGULAR = "not a regular file"


def hostile_archive(kind: str, outside: Outside) -> tuple[Path, dict[str, str]]:
    """An archive of ``kind`` (in ``outside.cwd``) whose members' names or types point
    outside; returns it and, per task id, READ_IN_PLACE or NOT_REGULAR.

    tar: ``../``, ``../../``, absolute and pax-header (long, ``../../../``) names; symbolic
    links (absolute and relative) and hard links to the secret; a FIFO, character and
    block devices, and a directory, each named like a result file.
    zip: ``../``, ``a/../../`` and absolute names; symbolic link entries to the secret (the
    entry's data is the link's target, as ``zip -y`` stores it), an entry whose Unix mode
    says directory, and a folder entry (trailing slash: skipped, no row).
    """
    target = outside.cwd / archive_name(kind)
    token = outside.token
    relative_secret = os.path.relpath(outside.secret, outside.cwd)
    in_place = [f"../{TASK_PREFIX}up-{token}", str(outside.absolute), f"results/{TASK_PREFIX}ok"]
    if kind == "zip":
        in_place.append(f"a/../../{TASK_PREFIX}up2-{token}")
        specials = [
            ("symlink", stat.S_IFLNK | 0o777, str(outside.secret)),
            ("symrel", stat.S_IFLNK | 0o777, relative_secret),
            ("dirmode", stat.S_IFDIR | 0o755, ""),
        ]
        with zipfile.ZipFile(target, "w") as archive:
            for name in in_place:
                archive.writestr(name, json_file(name.rsplit(TASK_PREFIX, 1)[1]))
            for task_id, mode, data in specials:
                info = zipfile.ZipInfo(f"results/{TASK_PREFIX}{task_id}")
                info.create_system, info.external_attr = 3, mode << 16
                archive.writestr(info, data)
            archive.writestr(f"results/{TASK_PREFIX}folder/", b"")  # a folder entry: no row
    else:
        # A name > 100 bytes: it is in a pax header only.
        in_place += [f"../../{TASK_PREFIX}up2-{token}", f"../../../{token}/" + "d/" * 60 + f"{TASK_PREFIX}pax"]
        specials = [
            ("symlink", tarfile.SYMTYPE, str(outside.secret)),
            ("symrel", tarfile.SYMTYPE, relative_secret),
            ("hardlink", tarfile.LNKTYPE, str(outside.secret)),
            ("hardrel", tarfile.LNKTYPE, relative_secret),
            ("fifo", tarfile.FIFOTYPE, ""),
            ("chardev", tarfile.CHRTYPE, ""),
            ("blockdev", tarfile.BLKTYPE, ""),
            ("directory", tarfile.DIRTYPE, ""),
        ]
        with tarfile.open(target, "w:gz" if kind == "tgz" else "w", format=tarfile.PAX_FORMAT) as archive:
            for name in in_place:
                data = json_file(name.rsplit(TASK_PREFIX, 1)[1])
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 1_700_000_000
                archive.addfile(info, io.BytesIO(data))
            for task_id, type_, link in specials:
                info = tarfile.TarInfo(f"results/{TASK_PREFIX}{task_id}")
                info.type, info.linkname, info.mtime = type_, link, 1_700_000_000
                if type_ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                    info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
                archive.addfile(info)
    expected = {name.rsplit(TASK_PREFIX, 1)[1]: READ_IN_PLACE for name in in_place}
    expected.update((task_id, NOT_REGULAR) for task_id, *_ in specials)
    return target, expected


def duplicate_archive(kind: str, where: Path, secret: Path) -> Path:
    """Members sharing a result file name: ``dup`` three times in two folders
    (SUCCESS, FAILURE, then REVOKED last), ``shadow`` as a regular member, then
    as a symbolic link to ``secret``."""
    target = where / archive_name(kind)
    members = [
        ("a/celery-task-meta-dup", json_file("dup", "SUCCESS", "first")),
        ("a/celery-task-meta-other", json_file("other")),
        ("b/celery-task-meta-dup", json_file("dup", "FAILURE", "second")),
        ("a/celery-task-meta-shadow", json_file("shadow", "SUCCESS", "regular")),
        ("a/celery-task-meta-dup", json_file("dup", "REVOKED", "last")),
    ]
    shadow = "a/celery-task-meta-shadow"
    if kind == "zip":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # zipfile warns of each duplicate name
            with zipfile.ZipFile(target, "w") as archive:
                for name, data in members:
                    archive.writestr(name, data)
                info = zipfile.ZipInfo(shadow)
                info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, str(secret).encode())
        return target
    with tarfile.open(target, "w:gz" if kind == "tgz" else "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(shadow)
        info.type, info.linkname, info.mtime = tarfile.SYMTYPE, str(secret), 1_700_000_000
        archive.addfile(info)
    return target


class FloatThatWillNotConvert(float):
    """A number (a float subclass, as a user's own type may be) whose conversion to float
    raises: a pickled result holding one breaks any summary that trusts numbers."""

    def __float__(self) -> float:
        raise ArithmeticError("this number will not be a float")


def progress_that_breaks_summaries(task_id: str) -> bytes:
    """A PROGRESS result, pickled as a worker with the pickle serializer writes it, whose
    ``current`` is a ``FloatThatWillNotConvert``."""
    result = {"current": FloatThatWillNotConvert(3.0), "total": 6}
    return pickle.dumps({**meta(task_id, status="PROGRESS", result=result), "date_done": None}, protocol=4)
