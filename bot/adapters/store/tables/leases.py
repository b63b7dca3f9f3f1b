"""Execution leases in Table Storage: a "lease" row in the plan's partition (Owner, Until).

Written in the transaction that moves the plan into APPROVED or an executing state, renewed by its owner's heartbeat
(ETag-conditional), ended (Until 0) in the transaction that moves it out, or when its owner stops.

And the instances alive: a row per instance in the INSTANCES partition (Owner, Until), renewed by the instance
(adapters/instances.py), removed when it stops; a killed instance's row lapses.
"""

from __future__ import annotations

import contextlib
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from ....domain.plan import Plan
from ....ports import Lease
from .base import TableBase
from .entities import INSTANCES, LEASE_ROW, digest, lease_entity, partition
from .transport import on_its_loop


class LeaseRows(TableBase):
    def _lease_entity(self, plan: Plan) -> dict[str, Any]:
        """The plan's lease as its new state makes it: held by this instance, or ended."""
        return lease_entity(plan, self.leases.owner, self.leases.until())

    @on_its_loop
    async def lease(self, plan_id: str) -> Lease | None:
        await self._ready()
        try:
            e = await self._plans.get_entity(partition(plan_id), LEASE_ROW)
        except ResourceNotFoundError:
            return None
        return Lease(plan_id, e["Owner"], float(e["Until"])) if e["Owner"] else None

    @on_its_loop
    async def renew_lease(self, plan_id: str, owner: str, until: float) -> bool:
        """Extend `owner`'s lease (the heartbeat), ETag-conditional; False when it ended or another instance holds it."""
        await self._ready()
        try:
            e = await self._plans.get_entity(partition(plan_id), LEASE_ROW)
        except ResourceNotFoundError:
            return False
        if e["Owner"] != owner or float(e["Until"]) <= 0:
            return False
        # False when written meanwhile: the plan moved on (or another instance took it)
        return await self._merge_if_unchanged(self._plans, e, Until=until)

    async def _end_lease(self, plan_id: str) -> None:
        e = await self._plans.get_entity(partition(plan_id), LEASE_ROW)
        if e["Owner"] == self.leases.owner:
            await self._plans.update_entity(
                {"PartitionKey": e["PartitionKey"], "RowKey": LEASE_ROW, "Until": 0.0},
                mode=UpdateMode.MERGE,
                etag=e.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )

    @on_its_loop
    async def instance_alive(self, owner: str, until: float, now: float) -> list[str]:
        """Record `owner` alive until `until` (one upsert); the instances alive at `now` (one partition query)."""
        await self._ready()
        await self._plans.upsert_entity({"PartitionKey": INSTANCES, "RowKey": digest(owner), "Owner": owner, "Until": until})
        rows = self._plans.query_entities("PartitionKey eq @p and Until gt @now", parameters={"p": INSTANCES, "now": now})
        return [e["Owner"] async for e in rows]

    @on_its_loop
    async def instance_gone(self, owner: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await self._plans.delete_entity(INSTANCES, digest(owner))
