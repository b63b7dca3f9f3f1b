"""Execution leases in Table Storage: a "lease" row in the plan's partition (Owner, Until).

Written in the transaction that moves the plan into APPROVED or an executing state, renewed by its owner's heartbeat
(ETag-conditional), ended (Until 0) in the transaction that moves it out, or when its owner stops.
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from ....domain.plan import Plan
from ....ports import Lease
from .base import TableBase
from .entities import LEASE_ROW, lease_entity, partition
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
