"""The inbox of alerts in SQLite: one row per delivery key, with its payload, state, attempts and outcome."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..common import alert_retry_state, last_error, outcome_if_done
from .base import SqliteBase


class InboxRows(SqliteBase):
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
        await self._count(
            "UPDATE inbox SET attempts = ?, not_before = ?, last_error = ?, state = ?, claimed_by = NULL, claimed_until = 0 WHERE key = ?",
            (attempts, not_before or 0, last_error(error), alert_retry_state(not_before), key),
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
        return outcome_if_done(await self.alert_state(key))

    def inbox_depth(self) -> int:
        return self._number("SELECT COUNT(*) FROM inbox WHERE state = 'pending'")

    def failed_alerts(self) -> int:
        return self._number("SELECT COUNT(*) FROM inbox WHERE state = 'failed'")
