"""The embedded store: plans with versioned compare-and-set, and an append-only audit log, in SQLite.

SQLite serialises writers itself, so the version check in the UPDATE's WHERE clause is what makes
a transition compare-and-set, across tasks, threads and processes sharing the file.

Write-ahead logging (STORE_SQLITE_WAL): WAL needs shared memory between the processes using the file,
which network file systems do not provide (https://www.sqlite.org/wal.html: "WAL does not work over a
network filesystem"). `auto` turns it on for local disks and off (the rollback journal) when the file
is on SMB/CIFS or NFS, as /home is on App Service for Linux; several instances should use the Azure
Table Storage store instead (STORE=azure-tables).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ...domain.audit import AuditEvent
from ...domain.errors import ConcurrentUpdate
from ...domain.plan import Plan, PlanState
from .codec import event_from_row, event_to_row, plan_from_dict, plan_to_dict

SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_state ON plans(state);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    plan_id TEXT,
    actor TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    event TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_plan ON audit(plan_id);
CREATE TABLE IF NOT EXISTS deliveries (
    key TEXT PRIMARY KEY,
    at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_u BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_d BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


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


class SqliteStore:
    """PlanStore and AuditLog over one SQLite file; calls run in a worker thread."""

    def __init__(self, path: Path, wal: str = "auto") -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.journal_mode = "WAL" if use_wal(path, wal) else "DELETE"
        self._conn.execute(f"PRAGMA journal_mode={self.journal_mode}")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def ping(self) -> bool:
        """True when the database answers (for /readyz)."""
        with self._lock:
            return self._conn.execute("SELECT 1").fetchone() == (1,)

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()
        return await asyncio.to_thread(work)

    async def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run a write and return how many rows it changed."""
        def work() -> int:
            with self._lock:
                return self._conn.execute(sql, params).rowcount
        return await asyncio.to_thread(work)

    # -- PlanStore -----------------------------------------------------------------------------
    async def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)
        await self._run(
            "INSERT INTO plans (id, state, version, expires_at, data) VALUES (?, ?, ?, ?, ?)",
            (plan.id, plan.state.value, plan.version, plan.expires_at.isoformat(), json.dumps(plan_to_dict(plan))),
        )
        return plan

    async def get(self, plan_id: str) -> Plan | None:
        rows = await self._run("SELECT data FROM plans WHERE id = ?", (plan_id,))
        return plan_from_dict(json.loads(rows[0][0])) if rows else None

    async def save(self, plan: Plan, expected_version: int) -> Plan:
        saved = replace(plan, version=expected_version + 1)
        changed = await self._count(
            "UPDATE plans SET state = ?, version = ?, expires_at = ?, data = ?, updated_at = CURRENT_TIMESTAMP "
            "WHERE id = ? AND version = ?",
            (saved.state.value, saved.version, saved.expires_at.isoformat(), json.dumps(plan_to_dict(saved)),
             plan.id, expected_version),
        )
        if changed != 1:
            raise ConcurrentUpdate(plan.id, expected_version)
        return saved

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        values = [s.value for s in states]
        rows = await self._run(
            f"SELECT data FROM plans WHERE state IN ({','.join('?' * len(values))}) ORDER BY expires_at", tuple(values)
        )
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def for_incident(self, incident_id: str) -> list[Plan]:
        rows = await self._run("SELECT data FROM plans WHERE json_extract(data, '$.incident_id') = ?", (incident_id,))
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def first_delivery(self, key: str) -> bool:
        return await self._count("INSERT OR IGNORE INTO deliveries (key) VALUES (?)", (key,)) == 1

    def count_by_state(self) -> dict[str, int]:
        """Plans per state (for /metrics); a quick indexed query run at scrape time."""
        with self._lock:
            return dict(self._conn.execute("SELECT state, COUNT(*) FROM plans GROUP BY state").fetchall())

    # -- AuditLog ------------------------------------------------------------------------------
    async def record(self, event: AuditEvent) -> None:
        await self._run(
            "INSERT INTO audit (at, plan_id, actor, actor_name, event, from_state, to_state, detail) VALUES (?,?,?,?,?,?,?,?)",
            event_to_row(event),
        )

    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        sql, params = "SELECT * FROM audit WHERE 1=1", []
        if plan_id:
            sql += " AND plan_id = ?"
            params.append(plan_id)
        if since:
            sql += " AND at >= ?"
            params.append(since.isoformat())
        rows = await self._run(sql + " ORDER BY seq", tuple(params))
        return [event_from_row(r) for r in rows]
