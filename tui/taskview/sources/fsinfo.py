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
