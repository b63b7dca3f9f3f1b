"""The embedded store: plans with versioned compare-and-set, an append-only audit log, the outbox of messages to
Teams and the inbox of alerts, in SQLite.

A unit of work is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT): the plan's compare-and-set, its audit events
and its outbox messages are written together or not at all. SQLite serialises writers itself, so the version check
in the UPDATE's WHERE clause is what makes a transition compare-and-set, across tasks, threads and processes sharing
the file. Audit events are published to the listeners (metrics, logs) only once their transaction has committed.

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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ...domain.audit import AuditEvent
from ...domain.errors import ConcurrentUpdate
from ...domain.plan import Plan, PlanState, Thread
from ...ports import ConversationRef, Lease, MessageKind, OutboxMessage
from .codec import (
    event_from_row,
    event_to_row,
    message_data,
    message_from_row,
    plan_from_dict,
    plan_to_dict,
    thread_from_dict,
    thread_to_dict,
)
from .leases import ACTIVE_STATES, DEFAULT_LEASE_SECONDS, LeaseKeeper, instance_id

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
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    plan_id TEXT,
    plan_version INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox(state, key, seq);
CREATE INDEX IF NOT EXISTS outbox_plan ON outbox(plan_id, kind);
CREATE TABLE IF NOT EXISTS threads (
    ref TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    auth TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    outcome TEXT,
    received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS inbox_queue ON inbox(state, not_before);
CREATE TABLE IF NOT EXISTS leases (
    plan_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS conversation_refs (
    tenant_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_u BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_is_append_only_d BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

Listener = Callable[[Sequence[AuditEvent], int], None]  # (events committed, outbox messages written)


@dataclass
class _Write:
    sql: str
    params: tuple[Any, ...]
    cas: tuple[str, int] | None = None  # (plan id, expected version): exactly one row must change


@dataclass
class SqliteUnitOfWork:
    """The writes of one transition, applied in one SQLite transaction when the block ends."""

    keeper: LeaseKeeper | None = None
    writes: list[_Write] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    messages: int = 0
    saved: list[tuple[str, PlanState]] = field(default_factory=list)  # (plan id, state) written, for the lease keeper

    def _lease(self, plan: Plan) -> None:
        """Staged before the plan's own write: a plan moving into APPROVED or an executing state is now looked after
        by this instance (a save that keeps its state leaves the lease with its holder); moving out ends the lease."""
        self.saved.append((plan.id, plan.state))
        if plan.state not in ACTIVE_STATES:
            self.writes.append(_Write("DELETE FROM leases WHERE plan_id = ?", (plan.id,)))
        elif self.keeper is not None:
            self.writes.append(
                _Write(
                    "INSERT INTO leases (plan_id, owner, until) SELECT ?, ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM plans WHERE id = ? AND state = ?) "
                    "ON CONFLICT(plan_id) DO UPDATE SET owner = excluded.owner, until = excluded.until",
                    (plan.id, self.keeper.owner, self.keeper.until(), plan.id, plan.state.value),
                )
            )

    def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)
        self._lease(plan)
        self.writes.append(
            _Write(
                "INSERT INTO plans (id, state, version, expires_at, data) VALUES (?, ?, ?, ?, ?)",
                (plan.id, plan.state.value, plan.version, plan.expires_at.isoformat(), json.dumps(plan_to_dict(plan))),
            )
        )
        return plan

    def save(self, plan: Plan, expected_version: int) -> Plan:
        saved = replace(plan, version=expected_version + 1)
        self._lease(saved)
        self.writes.append(
            _Write(
                "UPDATE plans SET state = ?, version = ?, expires_at = ?, data = ?, updated_at = CURRENT_TIMESTAMP "
                "WHERE id = ? AND version = ?",
                (
                    saved.state.value,
                    saved.version,
                    saved.expires_at.isoformat(),
                    json.dumps(plan_to_dict(saved)),
                    plan.id,
                    expected_version,
                ),
                cas=(plan.id, expected_version),
            )
        )
        return saved

    def record(self, event: AuditEvent) -> None:
        self.writes.append(
            _Write(
                "INSERT INTO audit (at, plan_id, actor, actor_name, event, from_state, to_state, detail) VALUES (?,?,?,?,?,?,?,?)",
                event_to_row(event),
            )
        )
        self.events.append(event)

    def send(self, message: OutboxMessage) -> None:
        self.writes.append(
            _Write(
                "INSERT INTO outbox (key, kind, plan_id, plan_version, data) VALUES (?, ?, ?, ?, ?)",
                (message.key, message.kind.value, message.plan_id, message.plan_version, message_data(message)),
            )
        )
        self.messages += 1

    def alert_processed(self, key: str, outcome: dict[str, Any]) -> None:
        self.writes.append(
            _Write("UPDATE inbox SET state = 'done', outcome = ?, last_error = NULL WHERE key = ?", (json.dumps(outcome), key))
        )

    # -- the outbox worker's side ------------------------------------------------------------------
    def delivered(self, seq: int) -> None:
        self.writes.append(_Write("DELETE FROM outbox WHERE seq = ?", (seq,)))

    def coalesce(self, plan_id: str, up_to_version: int) -> None:
        """Card updates of `plan_id` written at or below `up_to_version` are covered by the card just sent."""
        self.writes.append(
            _Write(
                "DELETE FROM outbox WHERE plan_id = ? AND kind = ? AND plan_version <= ? AND state = 'pending' AND claimed_until = 0",
                (plan_id, MessageKind.UPDATE_CARD.value, up_to_version),
            )
        )

    def name_thread(self, ref: str, thread: Thread) -> None:
        self.writes.append(_Write("INSERT OR REPLACE INTO threads (ref, data) VALUES (?, ?)", (ref, json.dumps(thread_to_dict(thread)))))

    def dead_letter(self, seq: int, error: str) -> None:
        self.writes.append(_Write("UPDATE outbox SET state = 'dead', last_error = ?, claimed_by = NULL WHERE seq = ?", (error[:500], seq)))


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
    """PlanStore, AuditLog, outbox and inbox over one SQLite file; calls run in a worker thread."""

    def __init__(self, path: Path, wal: str = "auto", owner: str = "", lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.path = path
        self.leases = LeaseKeeper(instance_id(owner), lease_seconds, self.renew_lease)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.journal_mode = "WAL" if use_wal(path, wal) else "DELETE"
        self._conn.execute(f"PRAGMA journal_mode={self.journal_mode}")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def close(self) -> None:
        """Stop; the leases this instance still holds end now (its executions were drained or cancelled), so another
        instance recovers those plans at once instead of after the lease."""
        held = self.leases.held
        self.leases.close()
        with self._lock:
            for plan_id in held:
                self._conn.execute("UPDATE leases SET until = 0 WHERE plan_id = ? AND owner = ?", (plan_id, self.leases.owner))
            self._conn.close()

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

    # -- units of work -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after each commit with its audit events and how many messages it queued."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteUnitOfWork]:
        uow = SqliteUnitOfWork(self.leases)
        yield uow  # an exception in the block propagates from here: nothing is written
        if uow.writes:
            await asyncio.to_thread(self._apply, uow)
            for plan_id, state in uow.saved:
                self.leases.saved(plan_id, state)
            for listener in self._listeners:
                listener(uow.events, uow.messages)

    def _apply(self, uow: SqliteUnitOfWork) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for w in uow.writes:
                    changed = self._conn.execute(w.sql, w.params).rowcount
                    if w.cas is not None and changed != 1:
                        raise ConcurrentUpdate(*w.cas)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- PlanStore ---------------------------------------------------------------------------------
    async def get(self, plan_id: str) -> Plan | None:
        rows = await self._run("SELECT data FROM plans WHERE id = ?", (plan_id,))
        return plan_from_dict(json.loads(rows[0][0])) if rows else None

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        values = [s.value for s in states]
        rows = await self._run(f"SELECT data FROM plans WHERE state IN ({','.join('?' * len(values))}) ORDER BY expires_at", tuple(values))
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def for_incident(self, incident_id: str) -> list[Plan]:
        rows = await self._run("SELECT data FROM plans WHERE json_extract(data, '$.incident_id') = ?", (incident_id,))
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def lease(self, plan_id: str) -> Lease | None:
        rows = await self._run("SELECT owner, until FROM leases WHERE plan_id = ?", (plan_id,))
        return Lease(plan_id, rows[0][0], float(rows[0][1])) if rows else None

    async def renew_lease(self, plan_id: str, owner: str, until: float) -> bool:
        """Extend `owner`'s lease (the heartbeat); False when it ended or another instance holds it now."""
        return await self._count("UPDATE leases SET until = ? WHERE plan_id = ? AND owner = ? AND until > 0", (until, plan_id, owner)) == 1

    def count_by_state(self) -> dict[str, int]:
        """Plans per state (for /metrics); a quick indexed query run at scrape time."""
        with self._lock:
            return dict(self._conn.execute("SELECT state, COUNT(*) FROM plans GROUP BY state").fetchall())

    # -- AuditLog ----------------------------------------------------------------------------------
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

    # -- the outbox (read and claimed by the outbox worker) ----------------------------------------
    async def due_messages(self, now: float, limit: int) -> list[OutboxMessage]:
        """The oldest pending message of each conversation, if it is due and nobody holds it: one at a time per key."""
        rows = await self._run(
            "SELECT o.seq, o.key, o.kind, o.plan_id, o.plan_version, o.data, o.attempts FROM outbox o "
            "JOIN (SELECT MIN(seq) AS seq FROM outbox WHERE state = 'pending' GROUP BY key) h ON h.seq = o.seq "
            "WHERE o.not_before <= ? AND o.claimed_until <= ? ORDER BY o.seq LIMIT ?",
            (now, now, limit),
        )
        return [message_from_row(*r) for r in rows]

    async def claim_message(self, seq: int, owner: str, now: float, until: float) -> bool:
        """Hold message `seq` for this instance until `until` (another instance sharing the store leaves it alone)."""
        return (
            await self._count(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE seq = ? AND state = 'pending' AND claimed_until <= ?",
                (owner, until, seq, now),
            )
            == 1
        )

    async def renew_claim(self, seq: int, owner: str, until: float) -> bool:
        """Extend `owner`'s claim on message `seq` while it is being sent; False once it is sent or not ours."""
        return (
            await self._count(
                "UPDATE outbox SET claimed_until = ? WHERE seq = ? AND state = 'pending' AND claimed_by = ?",
                (until, seq, owner),
            )
            == 1
        )

    async def retry_message(self, seq: int, attempts: int, not_before: float, error: str) -> None:
        await self._count(
            "UPDATE outbox SET attempts = ?, not_before = ?, last_error = ?, claimed_by = NULL, claimed_until = 0 WHERE seq = ?",
            (attempts, not_before, error[:500], seq),
        )

    async def release_message(self, seq: int) -> None:
        await self._count("UPDATE outbox SET claimed_by = NULL, claimed_until = 0 WHERE seq = ?", (seq,))

    async def next_message_due(self) -> float | None:
        """When the earliest pending message may be tried (None: the outbox is empty)."""
        rows = await self._run("SELECT MIN(MAX(not_before, claimed_until)) FROM outbox WHERE state = 'pending'")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def thread_named(self, ref: str) -> Thread | None:
        rows = await self._run("SELECT data FROM threads WHERE ref = ?", (ref,))
        return thread_from_dict(json.loads(rows[0][0])) if rows else None

    # -- 1:1 chats (ConversationRefs) ---------------------------------------------------------------
    async def remember(self, ref: ConversationRef) -> None:
        await self._count(
            "INSERT OR REPLACE INTO conversation_refs (tenant_id, object_id, data) VALUES (?, ?, ?)",
            (ref.tenant_id, ref.object_id, json.dumps(asdict(ref))),
        )

    async def forget(self, tenant_id: str, object_id: str) -> None:
        await self._count("DELETE FROM conversation_refs WHERE tenant_id = ? AND object_id = ?", (tenant_id, object_id))

    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None:
        rows = await self._run("SELECT data FROM conversation_refs WHERE tenant_id = ? AND object_id = ?", (tenant_id, object_id))
        return ConversationRef(**json.loads(rows[0][0])) if rows else None

    def outbox_depth(self) -> int:
        """Messages not sent yet (for /metrics and /readyz)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0])

    def dead_letters(self) -> int:
        """Messages given up on (for /metrics and /readyz)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'dead'").fetchone()[0])

    # -- the inbox of alerts -----------------------------------------------------------------------
    async def accept_alert(self, key: str, payload: dict[str, Any], auth: str) -> str:
        """Store an alert delivery: "new", or for a repeat "pending" (not processed yet) or "done"."""

        def work() -> str:
            with self._lock:
                if (
                    self._conn.execute(
                        "INSERT OR IGNORE INTO inbox (key, payload, auth) VALUES (?, ?, ?)", (key, json.dumps(payload), auth)
                    ).rowcount
                    == 1
                ):
                    return "new"
                row = self._conn.execute("SELECT state FROM inbox WHERE key = ?", (key,)).fetchone()
                return "done" if row and row[0] == "done" else "pending"

        return await asyncio.to_thread(work)

    async def due_alerts(self, now: float, limit: int) -> list[tuple[str, dict[str, Any], str, int]]:
        """(key, payload, authentication, attempts) of alerts waiting to be processed, oldest first."""
        rows = await self._run(
            "SELECT key, payload, auth, attempts FROM inbox WHERE state = 'pending' AND not_before <= ? "
            "AND claimed_until <= ? ORDER BY rowid LIMIT ?",
            (now, now, limit),
        )
        return [(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]

    async def claim_pending_alert(
        self, key: str, owner: str, now: float, until: float
    ) -> tuple[str, tuple[dict[str, Any], str, int] | None]:
        """Claim the inbox entry `key` until `until`: ("claimed", (payload, authentication, attempts)), or why not:
        ("busy", None) claimed by someone else, ("done" | "failed", None) no longer pending, ("unknown", None)."""
        if await self.claim_alert(key, owner, now, until):
            rows = await self._run("SELECT payload, auth, attempts FROM inbox WHERE key = ?", (key,))
            return "claimed", (json.loads(rows[0][0]), str(rows[0][1]), int(rows[0][2]))
        rows = await self._run("SELECT state FROM inbox WHERE key = ?", (key,))
        if not rows:
            return "unknown", None
        return ("busy" if rows[0][0] == "pending" else str(rows[0][0])), None

    async def claim_alert(self, key: str, owner: str, now: float, until: float) -> bool:
        return (
            await self._count(
                "UPDATE inbox SET claimed_by = ?, claimed_until = ? WHERE key = ? AND state = 'pending' AND claimed_until <= ?",
                (owner, until, key, now),
            )
            == 1
        )

    async def retry_alert(self, key: str, attempts: int, not_before: float | None, error: str) -> None:
        """Try again at `not_before`; None gives up (state 'failed', shown by /readyz)."""
        state = "pending" if not_before is not None else "failed"
        await self._count(
            "UPDATE inbox SET attempts = ?, not_before = ?, last_error = ?, state = ?, claimed_by = NULL, claimed_until = 0 WHERE key = ?",
            (attempts, not_before or 0, error[:500], state, key),
        )

    async def next_alert_due(self) -> float | None:
        rows = await self._run("SELECT MIN(MAX(not_before, claimed_until)) FROM inbox WHERE state = 'pending'")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        """("pending" | "done" | "failed", the outcome once done) of the inbox entry `key`; None if there is none."""
        rows = await self._run("SELECT state, outcome FROM inbox WHERE key = ?", (key,))
        return (rows[0][0], json.loads(rows[0][1]) if rows[0][1] else None) if rows else None

    async def alert_outcome(self, key: str) -> dict[str, Any] | None:
        """What processing the alert did (the response plans matched, the plans proposed), once it is processed."""
        rows = await self._run("SELECT outcome FROM inbox WHERE key = ? AND state = 'done'", (key,))
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    def inbox_depth(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM inbox WHERE state = 'pending'").fetchone()[0])

    def failed_alerts(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM inbox WHERE state = 'failed'").fetchone()[0])
