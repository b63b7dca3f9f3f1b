"""SQLite's write-ahead log only where it works: local disks (STORE_SQLITE_WAL=auto)."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.store.sqlite import SqliteStore, file_system_type, use_wal

# /proc/mounts as App Service for Linux shows it: /home is an SMB share
APP_SERVICE_MOUNTS = """overlay / overlay rw,relatime 0 0
//10.0.0.4/volume-1-default/abc /home cifs rw,relatime,vers=3.1.1 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/sdb1 /home/local\\040disk ext4 rw 0 0
"""


def test_the_file_system_is_that_of_the_longest_mount_point() -> None:
    assert file_system_type(Path("/home/data"), APP_SERVICE_MOUNTS) == "cifs"
    assert file_system_type(Path("/homework"), APP_SERVICE_MOUNTS) == "overlay"
    assert file_system_type(Path("/home/local disk/x"), APP_SERVICE_MOUNTS) == "ext4"
    assert file_system_type(Path("/tmp"), APP_SERVICE_MOUNTS) == "tmpfs"


def test_wal_is_explicit_when_asked_and_local_only_on_auto(tmp_path: Path) -> None:
    assert use_wal(tmp_path / "x.sqlite3", "on") is True
    assert use_wal(tmp_path / "x.sqlite3", "off") is False
    local = file_system_type(tmp_path)
    assert use_wal(tmp_path / "x.sqlite3", "auto") is (local not in {"cifs", "smb3", "nfs", "nfs4"})


def test_the_store_opens_with_the_journal_it_chose(tmp_path: Path) -> None:
    wal, rollback = SqliteStore(tmp_path / "wal.sqlite3", "on"), SqliteStore(tmp_path / "delete.sqlite3", "off")
    try:
        assert wal._conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert rollback._conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        wal.close()
        rollback.close()
