"""Write-ahead logging (STORE_SQLITE_WAL), on local disks only.

WAL needs shared memory between the processes using the file, which network file systems do not provide
(https://www.sqlite.org/wal.html: "WAL does not work over a network filesystem"). `auto` turns it on for local disks
and off (the rollback journal) when the file is on SMB/CIFS or NFS, as /home is on App Service for Linux; several
instances should use the Azure Table Storage store instead (STORE=azure-tables).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

NETWORK_FILE_SYSTEMS = frozenset(
    {"cifs", "smb3", "smbfs", "nfs", "nfs4", "9p", "afs", "ceph", "glusterfs", "fuse.sshfs", "fuse.blobfuse", "fuse.blobfuse2", "lustre"}
)


def file_system_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the file system holding `path` (Linux /proc/mounts, the longest mount point), or None."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target, best, kind = str(path.resolve()), "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def use_wal(path: Path, setting: Literal["auto", "on", "off"] | str) -> bool:
    """WAL on a local disk; never on a network file system unless asked for explicitly (`on`)."""
    if setting in ("on", "off"):
        return setting == "on"
    return file_system_type(path.parent) not in NETWORK_FILE_SYSTEMS
