"""Plans and their audit trail, in the plans table: one partition per plan.

Compare-and-set. A save reads the plan row (its ETag and Version), then writes, in one entity-group
transaction (one partition, all or nothing): the plan row replaced *if its ETag is unchanged*
(If-Match), the version marker of the new version *created*, and the audit events *created*. A 412
(ETag changed) or a 409 (the marker exists: another writer took that version) fails the whole
transaction: `ConcurrentUpdate`, nothing written. The marker is what makes the check hold where ETags
inside a batch are not enforced (Azurite ignores them, Azure/Azurite#1233): the test emulator and Azure
both refuse a second insert of one key, so the store never relies on the batch ETag alone.
`save_with_events` is the adapter method a unit of work can use to commit a state change with its
audit events; `add_with_events` likewise for a new plan.

Queries by state and by incident are filter queries over the plan rows (`RowKey eq 'plan' and (State eq
...)`): Table Storage has no secondary index, and an index partition per state could not be updated in
the plan's transaction (another partition), so it would need repair logic for every crash between two
writes. A consent bot stores tens of plans a day; the sweeper's scan every SWEEP_INTERVAL_SECONDS reads
them server-side in pages of 1,000. Revisit with an index (or an archive table for finished plans) if
the table grows past ~100,000 plans.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableTransactionError, UpdateMode

from ....domain.audit import AuditEvent
from ....domain.errors import ConcurrentUpdate
from ....domain.plan import WAITING_STATES, Plan, PlanState
from .base import TableBase
from .entities import (
    PLAN_ROW,
    STATES_PER_QUERY,
    check_events,
    conflict,
    event_entity,
    event_from,
    marker,
    partition,
    plan_entity,
    plan_from,
)
from .transport import on_its_loop


class PlanAlreadyExists(Exception):
    """`add` of a plan id that is already stored; the stored plan is unchanged."""


class PlanRows(TableBase):
    """PlanStore and AuditLog: the plan row, its version markers and its audit events."""

    @on_its_loop
    async def add(self, plan: Plan) -> Plan:
        return await self.add_with_events(plan, ())

    @on_its_loop
    async def add_with_events(self, plan: Plan, events: Sequence[AuditEvent]) -> Plan:
        """Store a new plan at version 1 with its audit events, all or nothing."""
        await self._ready()
        plan = replace(plan, version=1)
        operations: list[Any] = [("create", plan_entity(plan)), ("create", marker(plan.id, 1, plan.state))]
        operations += [("create", event_entity(e, plan.id, self._next_ns())) for e in check_events(events)]
        try:
            await self._plans.submit_transaction(operations)
        except HttpResponseError as e:
            if e.status_code == 409:
                raise PlanAlreadyExists(f"plan {plan.id} is already stored; it was not replaced") from None
            raise
        return plan

    @on_its_loop
    async def get(self, plan_id: str) -> Plan | None:
        entity = await self._plan_row(plan_id)
        return None if entity is None else plan_from(entity)

    @on_its_loop
    async def save(self, plan: Plan, expected_version: int) -> Plan:
        return await self.save_with_events(plan, expected_version, ())

    @on_its_loop
    async def save_with_events(self, plan: Plan, expected_version: int, events: Sequence[AuditEvent]) -> Plan:
        """Compare-and-set the plan and append its audit events in one transaction (all or nothing)."""
        stored = await self._row_of(plan.id, expected_version)
        if stored is None:
            raise ConcurrentUpdate(plan.id, expected_version)
        saved = replace(plan, version=expected_version + 1)
        operations = compare_and_set(saved, stored[1])
        operations += [("create", event_entity(e, plan.id, self._next_ns())) for e in check_events(events)]
        try:
            await self._plans.submit_transaction(operations)
        except TableTransactionError as e:
            if conflict(e):
                raise ConcurrentUpdate(plan.id, expected_version) from None
            raise
        return saved

    @on_its_loop
    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        await self._ready()
        values = sorted({s.value for s in states})
        found: list[Plan] = []
        for start in range(0, len(values), STATES_PER_QUERY):
            group = values[start : start + STATES_PER_QUERY]
            params: dict[str, Any] = {"row": PLAN_ROW, **{f"s{i}": v for i, v in enumerate(group)}}
            where = " or ".join(f"State eq @s{i}" for i in range(len(group)))
            # spaces around the parentheses: the SDK finds @parameters by splitting the filter on spaces
            found += [plan_from(e) async for e in self._plans.query_entities(f"RowKey eq @row and ( {where} )", parameters=params)]
        return sorted(found, key=lambda p: p.expires_at)

    async def waiting_for(self, object_id: str) -> list[Plan]:
        # the approvers live in the plan's data, which a filter cannot read: the waiting plans, narrowed here
        return [p for p in await self.in_states(WAITING_STATES) if p.policy.approver_group or object_id in p.policy.approvers]

    @on_its_loop
    async def for_incident(self, incident_id: str) -> list[Plan]:
        await self._ready()
        query = self._plans.query_entities(
            "RowKey eq @row and IncidentId eq @incident", parameters={"row": PLAN_ROW, "incident": incident_id}
        )
        return [plan_from(e) async for e in query]

    def count_by_state(self) -> dict[str, int]:
        """Plans per state (for /metrics, called from a worker thread); the last known counts if Azure is slow."""
        with contextlib.suppress(Exception):  # a scrape must not fail because Azure is slow
            self._counts = self._call(self._acount())
        return dict(self._counts)

    async def _acount(self) -> dict[str, int]:
        await self._ready()
        counts: dict[str, int] = {}
        async for e in self._plans.query_entities("RowKey eq @row", parameters={"row": PLAN_ROW}, select=["State"]):
            counts[e["State"]] = counts.get(e["State"], 0) + 1
        return counts

    # -- AuditLog ----------------------------------------------------------------------------------
    @on_its_loop
    async def record(self, event: AuditEvent) -> None:
        await self._ready()
        await self._plans.create_entity(event_entity(event, event.plan_id, self._next_ns()))

    @on_its_loop
    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        """In write order. With no plan id this scans every partition (the CLI and tests use it; the bot does not)."""
        await self._ready()
        where, params = "RowKey ge @low and RowKey lt @high", {"low": "audit-", "high": "audit."}
        if plan_id:
            where += " and PartitionKey eq @partition"
            params["partition"] = partition(plan_id)
        if since:
            where += " and At ge @since"  # ISO strings, compared as the SQLite store compares them
            params["since"] = since.isoformat()
        rows = [e async for e in self._plans.query_entities(where, parameters=params)]
        rows.sort(key=lambda e: str(e["RowKey"]))  # the writing time in nanoseconds, then the random part
        return [event_from(e) for e in rows if not plan_id or e.get("PlanId") == plan_id]


def compare_and_set(saved: Plan, etag: str) -> list[Any]:
    """The plan row replaced if unchanged since it was read with `etag` (If-Match), and the marker of the new
    version created (refused if another writer created it first)."""
    return [
        ("update", plan_entity(saved), {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}),
        ("create", marker(saved.id, saved.version, saved.state)),
    ]
