"""The inbox of alerts, in the deliveries table: PartitionKey = the first 2 hex digits of sha256(key), RowKey = the
whole digest; each entry holds its payload, state, attempts and, once processed, its outcome."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from ..common import alert_retry_state, last_error, outcome_if_done
from .base import TableBase
from .entities import chunks, digest, unchunk
from .transport import on_its_loop


def inbox_key(key: str) -> tuple[str, str]:
    hexdigest = digest(key)
    return hexdigest[:2], hexdigest


class InboxRows(TableBase):
    @on_its_loop
    async def first_delivery(self, key: str) -> bool:
        await self._ready()
        pk, rk = inbox_key(key)
        try:
            await self._deliveries.create_entity({"PartitionKey": pk, "RowKey": rk, "At": datetime.now().astimezone().isoformat()})
        except ResourceExistsError:
            return False  # the first writer won; this is a retry of a delivery already acted on
        return True

    @on_its_loop
    async def accept_alert(self, key: str, payload: dict[str, Any], auth: str) -> str:
        await self._ready()
        pk, rk = inbox_key(key)
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            await self._deliveries.create_entity(
                {
                    "PartitionKey": pk,
                    "RowKey": rk,
                    "Key": key,
                    "Auth": auth,
                    "State": "pending",
                    "Attempts": 0,
                    "NotBefore": 0.0,
                    "ClaimedUntil": 0.0,
                    "Received": f"{time.time_ns():020d}",
                    **chunks("Payload", data, "the alert"),
                }
            )
        except ResourceExistsError:
            e = await self._deliveries.get_entity(pk, rk)
            return "done" if e.get("State") == "done" else "pending"
        return "new"

    def _inbox_pending(self) -> AsyncIterator[dict[str, Any]]:
        return self._deliveries.query_entities("State eq @s", parameters={"s": "pending"})

    @on_its_loop
    async def due_alerts(self, now: float, limit: int) -> list[tuple[str, dict[str, Any], str, int]]:
        await self._ready()
        rows = [e async for e in self._inbox_pending() if e["NotBefore"] <= now and e["ClaimedUntil"] <= now]
        rows.sort(key=lambda e: e["Received"])
        return [(e["Key"], json.loads(unchunk("Payload", e)), e["Auth"], int(e["Attempts"])) for e in rows[:limit]]

    @on_its_loop
    async def claim_pending_alert(
        self, key: str, owner: str, now: float, until: float
    ) -> tuple[str, tuple[dict[str, Any], str, int] | None]:
        """As SqliteStore.claim_pending_alert, in two requests: the entry, then its claim conditional on its ETag."""
        await self._ready()
        try:
            e = await self._deliveries.get_entity(*inbox_key(key))
        except ResourceNotFoundError:
            return "unknown", None
        if e.get("State") != "pending":
            return str(e.get("State", "done")), None
        if e["ClaimedUntil"] > now or not await self._merge_if_unchanged(self._deliveries, e, ClaimedBy=owner, ClaimedUntil=until):
            return "busy", None
        return "claimed", (json.loads(unchunk("Payload", e)), str(e["Auth"]), int(e["Attempts"]))

    @on_its_loop
    async def claim_alert(self, key: str, owner: str, now: float, until: float) -> bool:
        e = await self._deliveries.get_entity(*inbox_key(key))
        if e["State"] != "pending" or e["ClaimedUntil"] > now:
            return False
        return await self._merge_if_unchanged(self._deliveries, e, ClaimedBy=owner, ClaimedUntil=until)

    @on_its_loop
    async def retry_alert(self, key: str, attempts: int, not_before: float | None, error: str) -> None:
        pk, rk = inbox_key(key)
        await self._deliveries.update_entity(
            {
                "PartitionKey": pk,
                "RowKey": rk,
                "Attempts": attempts,
                "NotBefore": not_before or 0.0,
                "LastError": last_error(error),
                "State": alert_retry_state(not_before),
                "ClaimedBy": "",
                "ClaimedUntil": 0.0,
            },
            mode=UpdateMode.MERGE,
        )

    @on_its_loop
    async def next_alert_due(self) -> float | None:
        await self._ready()
        times = [max(float(e["NotBefore"]), float(e["ClaimedUntil"])) async for e in self._inbox_pending()]
        return min(times) if times else None

    @on_its_loop
    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        await self._ready()
        try:
            e = await self._deliveries.get_entity(*inbox_key(key))
        except ResourceNotFoundError:
            return None
        outcome = unchunk("Outcome", e)
        return str(e.get("State", "done")), json.loads(outcome) if outcome else None

    async def alert_outcome(self, key: str) -> dict[str, Any] | None:
        return outcome_if_done(await self.alert_state(key))

    async def _count_inbox(self, state: str) -> int:
        await self._ready()
        query = self._deliveries.query_entities("State eq @s", parameters={"s": state}, select=["RowKey"])
        return len([e async for e in query])

    def inbox_depth(self) -> int:
        return self._call(self._count_inbox("pending"))

    def failed_alerts(self) -> int:
        return self._call(self._count_inbox("failed"))
