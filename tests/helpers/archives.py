"""Archives of a result directory, built the way tar and zip users build them."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from helpers.samples import SAMPLE_RESULTS


def make_archive(target: Path, source: Path = SAMPLE_RESULTS, folder: str = "results", extra=()) -> Path:
    """The directory's files under ``folder/`` in the archive, plus (name, bytes) extras."""
    files = [(f"{folder}/{p.name}", p.read_bytes(), p.stat().st_mtime) for p in sorted(source.iterdir())]
    files += [(name, data, 1_700_000_000.0) for name, data in extra]
    if target.name.endswith(".zip"):
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data, _ in files:
                archive.writestr(name, data)
    else:
        mode = "w:gz" if target.name.endswith(("gz", ".tgz")) else "w"
        with tarfile.open(target, mode) as archive:
            for name, data, mtime in files:
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), mtime
                archive.addfile(info, io.BytesIO(data))
    return target
