"""The physical floor the scan figures are compared with: a bare Python loop.

    python bench/floor.py DIR [--dir-fd] [--fstat]

Lists DIR, reads every file with os.open/os.read into a small buffer and parses
it with orjson, as issue #6 defines the floor. ``--dir-fd`` opens files relative
to the directory's descriptor (what taskview does): a stricter floor. ``--fstat``
also asks each open file its mtime and size, which every --dump row holds: the
floor of a dump (a fourth system call per file).
"""

from __future__ import annotations

import os
import sys

import orjson


def main() -> None:
    directory = sys.argv[1]
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY) if "--dir-fd" in sys.argv else None
    fstat = "--fstat" in sys.argv
    count = 0
    for entry in os.scandir(directory):
        if entry.name.startswith("."):
            continue
        if dir_fd is None:
            fd = os.open(os.path.join(directory, entry.name), os.O_RDONLY)
        else:
            fd = os.open(entry.name, os.O_RDONLY, dir_fd=dir_fd)
        try:
            if fstat:
                os.fstat(fd)
            data = os.read(fd, 65536)
        finally:
            os.close(fd)
        orjson.loads(data)
        count += 1
    print(count)


if __name__ == "__main__":
    main()
