"""Execution leases in SQLite: a row per plan (owner, until) in the leases table, written by the unit of work that
moves the plan (see unit_of_work.py), renewed by its owner's heartbeat, ended when its owner stops. And the instances
alive (a row per instance in the instances table: adapters/instances.py)."""

from __future__ import annotations

import asyncio

from ....ports import Lease
from .base import SqliteBase


class LeaseRows(SqliteBase):
    async def lease(self, plan_id: str) -> Lease | None:
        rows = await self._run("SELECT owner, until FROM leases WHERE plan_id = ?", (plan_id,))
        return Lease(plan_id, rows[0][0], float(rows[0][1])) if rows else None

    async def renew_lease(self, plan_id: str, owner: str, until: float) -> bool:
        """Extend `owner`'s lease (the heartbeat); False when it ended or another instance holds it now."""
        return await self._count("UPDATE leases SET until = ? WHERE plan_id = ? AND owner = ? AND until > 0", (until, plan_id, owner)) == 1

    def _end_leases(self, plan_ids: frozenset[str]) -> None:
        """End this instance's leases on `plan_ids` now (the caller holds the lock)."""
        for plan_id in plan_ids:
            self._conn.execute("UPDATE leases SET until = 0 WHERE plan_id = ? AND owner = ?", (plan_id, self.leases.owner))

    async def instance_alive(self, owner: str, until: float, now: float) -> list[str]:
        """Record `owner` alive until `until`; the instances alive at `now`, this one included."""

        def work() -> list[str]:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO instances (owner, until) VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET until = excluded.until",
                    (owner, until),
                )
                self._conn.execute("DELETE FROM instances WHERE until < ?", (now - 3600,))  # long gone: forgotten
                return [r[0] for r in self._conn.execute("SELECT owner FROM instances WHERE until > ?", (now,))]

        return await asyncio.to_thread(work)

    async def instance_gone(self, owner: str) -> None:
        await self._count("DELETE FROM instances WHERE owner = ?", (owner,))
