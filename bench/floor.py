"""The physical floor the scan figures are compared with: a bare Python loop.

    python bench/floor.py DIR [--dir-fd] [--fstat]
    python bench/floor.py DIR --lstat K N

Lists DIR, reads every file with os.open/os.read into a small buffer and parses
it with orjson, as issue #6 defines the floor. ``--dir-fd`` opens files relative
to the directory's descriptor (what taskview does): a stricter floor. ``--fstat``
also asks each open file its mtime and size, which every --dump row holds: the
floor of a dump (a fourth system call per file).

``--lstat K N``: the floor of a reopen's census (issue 14): list DIR and ``lstat``
the K-th of N runs of its names, nothing read; N of them at once are what N readers
cannot do faster. In the order the directory lists them (a reader's share is a run
of ids, in id order, sorted first: 1.3-1.4x this floor's time here, 2026-12-02).
"""

from __future__ import annotations

import os
import sys

import orjson


def lstat_share(directory: str, k: int, n: int) -> int:
    names = os.listdir(directory)
    share = names[len(names) * k // n : len(names) * (k + 1) // n]
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    found = [os.stat(name, dir_fd=dir_fd, follow_symlinks=False) for name in share]
    return len(found)


def main() -> None:
    directory = sys.argv[1]
    if "--lstat" in sys.argv:
        at = sys.argv.index("--lstat")
        print(lstat_share(directory, int(sys.argv[at + 1]), int(sys.argv[at + 2])))
        return
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
