"""Which filesystem a directory lives on: inotify sees nothing other hosts write to NFS/CIFS."""

from __future__ import annotations

import os

NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "fuse.sshfs",
        "fuse.s3fs",
        "lustre",
        "afs",
        "gpfs",
        "beegfs",
    }
)


def filesystem_type(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """The type of the mount holding ``path`` (longest matching mount point), or None."""
    try:
        real = os.path.realpath(path)
        with open(mounts_file, encoding="utf-8", errors="replace") as handle:
            lines = handle.readlines()
    except OSError:
        return None
    best, best_type = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (real == mount_point or real.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
            best, best_type = mount_point, parts[2]
    return best_type


def is_network_filesystem(fs_type: str | None) -> bool:
    return fs_type is not None and (fs_type in NETWORK_FILESYSTEMS or fs_type.startswith("nfs"))


#: Local filesystems whose directories get a new mtime and ctime with every entry created,
#: removed or renamed in them: a reopen may take a directory's names from its scan index while
#: they are the ones it kept. Not network, FUSE (mergerfs shows one branch's times of a union;
#: object-store mounts make theirs up) or overlay filesystems: a file could come with no change.
DIRECTORY_TIMES_TRUSTED = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "zfs", "f2fs"})


def directory_times_trusted(fs_type: str | None) -> bool:
    return fs_type in DIRECTORY_TIMES_TRUSTED
