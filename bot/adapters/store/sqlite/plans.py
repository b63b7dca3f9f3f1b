"""Plans (PlanStore) and the append-only audit log (AuditLog) in SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from ....domain.audit import AuditEvent
from ....domain.plan import WAITING_STATES, Plan, PlanState
from ..codec import event_from_row, plan_from_dict
from .base import SqliteBase


class PlanRows(SqliteBase):
    async def get(self, plan_id: str) -> Plan | None:
        rows = await self._run("SELECT data FROM plans WHERE id = ?", (plan_id,))
        return plan_from_dict(json.loads(rows[0][0])) if rows else None

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        values = [s.value for s in states]
        rows = await self._run(f"SELECT data FROM plans WHERE state IN ({','.join('?' * len(values))}) ORDER BY expires_at", tuple(values))
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def waiting_for(self, object_id: str) -> list[Plan]:
        values = tuple(s.value for s in WAITING_STATES)  # the index follows the plans; the state is checked again
        rows = await self._run(
            "SELECT data FROM plans WHERE id IN (SELECT plan_id FROM waiting_for WHERE object_id IN (?, '*')) "
            f"AND state IN ({','.join('?' * len(values))}) ORDER BY expires_at",
            (object_id, *values),
        )
        return [plan_from_dict(json.loads(r[0])) for r in rows]

    async def for_incident(self, incident_id: str) -> list[Plan]:
        rows = await self._run("SELECT data FROM plans WHERE json_extract(data, '$.incident_id') = ?", (incident_id,))
        return [plan_from_dict(json.loads(r[0])) for r in rows]

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
