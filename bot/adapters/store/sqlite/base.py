"""What every part of the SQLite store shares: its connection (one, behind a lock) and how calls reach it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..common import Listener, Subscribers
from ..leases import DEFAULT_LEASE_SECONDS, LeaseKeeper, instance_id
from .schema import INDEX_WAITING, SCHEMA
from .wal import use_wal


class SqliteBase(Subscribers):
    """The connection to the file (created with its schema), used by one call at a time; async calls run in a worker
    thread."""

    renew_lease: Callable[[str, str, float], Awaitable[bool]]  # the heartbeat the keeper calls, in leases.py

    def __init__(self, path: Path, wal: str = "auto", owner: str = "", lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.path = path
        self.leases = LeaseKeeper(instance_id(owner), lease_seconds, self.renew_lease)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.journal_mode = "WAL" if use_wal(path, wal) else "DELETE"
        self._conn.execute(f"PRAGMA journal_mode={self.journal_mode}")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(SCHEMA)
        self._conn.executescript(f"BEGIN IMMEDIATE; {INDEX_WAITING} COMMIT;")
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def ping(self) -> bool:
        """True when the database answers (for /readyz)."""
        with self._lock:
            return bool(self._conn.execute("SELECT 1").fetchone() == (1,))

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()

        return await asyncio.to_thread(work)

    async def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one write (a transaction of its own) and return how many rows it changed."""

        def work() -> int:
            with self._lock:
                return self._conn.execute(sql, params).rowcount

        return await asyncio.to_thread(work)

    def _number(self, sql: str) -> int:
        """One count, at once (for /metrics and /readyz)."""
        with self._lock:
            return int(self._conn.execute(sql).fetchone()[0])
