"""Units of work over Table Storage: the writes of one transition, staged, then applied per partition.

What is atomic: everything a unit of work writes about one plan. A plan's row, its version marker, its lease, its
audit events, its outbox messages (its card, its replies, notes about it, the message opening its incident thread)
and the name of a thread opened for it all share the plan's PartitionKey, so they are one entity-group transaction:
all or nothing. Messages naming no plan (a command's answer, an incident thread with nothing to act on) and the
names of their threads share the OUTBOX partition; audit events naming no plan join the unit of work's one other
partition (else NO_PLAN). Every unit of work the bot writes for one plan, or for no plan, is therefore one
transaction, whatever instance commits it.

What is not: a unit of work touching several plans (an alert matching several response plans, a Resolved alert
expiring several) commits plan by plan, then marks the alert's inbox entry (the deliveries table) last. A failure
in between leaves the alert pending, with whole plans (each with its thread and card) stored; processing it again
keeps those (their ids derive from the delivery: services/handle_alert.py) and completes the rest. A Resolved
notice to a plan that already had it may then be said twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableTransactionError, UpdateMode

from ....domain.audit import AuditEvent
from ....domain.errors import ConcurrentUpdate
from ....domain.plan import Plan, PlanState, Thread
from ....ports import OutboxMessage
from ..common import last_error
from ..leases import ACTIVE_STATES
from .entities import (
    NO_PLAN,
    OUTBOX,
    THREADS,
    chunks,
    conflict,
    event_entity,
    marker,
    message_entity,
    partition,
    plan_entity,
    thread_entity,
)
from .inbox import inbox_key
from .leases import LeaseRows
from .plans import compare_and_set
from .transport import on_its_loop

MAX_OPERATIONS = 100  # an entity-group transaction holds at most 100 operations
ACTIVE = {s.value for s in ACTIVE_STATES}


class TableUnitOfWork:
    """The writes of one transition, staged; TableStore applies them per partition when the block ends."""

    def __init__(self, store: UnitsOfWork) -> None:
        self._store = store
        self.ops: list[Any] = []  # (partition, kind, payload) or an inbox write (a coroutine function)
        self.events: list[AuditEvent] = []
        self.messages = 0
        self.saved: list[tuple[str, PlanState]] = []  # (plan id, state) written, for the lease keeper
        self.finished: list[int] = []  # outbox messages sent or given up: forgotten once committed (else retried)

    def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)
        p = partition(plan.id)
        self.ops += [(p, "op", ("create", plan_entity(plan))), (p, "op", ("create", marker(plan.id, 1, plan.state)))]
        if plan.state in ACTIVE_STATES:
            self.ops.append((p, "op", ("upsert", self._store._lease_entity(plan))))
        self.saved.append((plan.id, plan.state))
        return plan

    def save(self, plan: Plan, expected_version: int) -> Plan:
        saved = replace(plan, version=expected_version + 1)
        plan_entity(saved)  # too large: refused now, before anything is written
        self.ops.append((partition(plan.id), "save", (saved, expected_version)))
        self.saved.append((plan.id, saved.state))
        return saved

    def record(self, event: AuditEvent) -> None:
        entity = event_entity(event, event.plan_id, self._store._next_ns())
        self.ops.append((entity["PartitionKey"], "op", ("create", entity)))
        self.events.append(event)

    def send(self, message: OutboxMessage) -> None:
        entity = message_entity(message, self._store._next_ns())
        self.ops.append((entity["PartitionKey"], "op", ("create", entity)))
        self.messages += 1

    def alert_processed(self, key: str, outcome: dict[str, Any]) -> None:
        deliveries, (pk, rk) = self._store._deliveries, inbox_key(key)
        done = {"PartitionKey": pk, "RowKey": rk, "State": "done", "LastError": ""}

        async def write() -> None:
            outcome_chunks = chunks("Outcome", json.dumps(outcome).encode(), "an alert's outcome")
            await deliveries.update_entity({**done, **outcome_chunks}, mode=UpdateMode.MERGE)

        self.ops.append(write)

    def delivered(self, seq: int) -> None:
        pk, rk = self._store._seqs[seq]
        self.finished.append(seq)
        self.ops.append((pk, "op", ("delete", {"PartitionKey": pk, "RowKey": rk})))

    def coalesce(self, plan_id: str, up_to_version: int) -> None:
        self.ops.append((partition(plan_id), "coalesce", (plan_id, up_to_version)))

    def name_thread(self, ref: str, thread: Thread) -> None:
        entity = thread_entity(ref, thread)  # with the message that opened it: its removal and this are one transaction
        self.ops.append((entity["PartitionKey"], "op", ("upsert", entity)))

    def dead_letter(self, seq: int, error: str) -> None:
        pk, rk = self._store._seqs[seq]
        self.finished.append(seq)
        dead = {"PartitionKey": pk, "RowKey": rk, "State": "dead", "LastError": last_error(error), "ClaimedBy": ""}
        self.ops.append((pk, "op", ("update", dead, {"mode": UpdateMode.MERGE})))


@dataclass
class _Staged:
    """A unit of work's operations grouped for applying: transactions per partition, then the rest in order."""

    partitions: dict[str, list[Any]] = field(default_factory=dict)
    inbox: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    coalesce: list[tuple[str, int]] = field(default_factory=list)
    saves: dict[str, tuple[str, int]] = field(default_factory=dict)  # partition -> (plan id, version it expects)

    def join_planless(self) -> None:
        """Audit events naming no plan join the unit of work's one other partition when it has exactly one: a message
        naming no plan given up and its audit event are then one transaction too."""
        others = [k for k in self.partitions if k != NO_PLAN]
        if NO_PLAN in self.partitions and len(others) == 1:
            for kind, entity, *rest in self.partitions.pop(NO_PLAN):
                self.partitions[others[0]].append((kind, {**entity, "PartitionKey": others[0]}, *rest))

    def deleted(self, key: str) -> set[str]:
        return {op[1]["RowKey"] for op in self.partitions.get(key, ()) if op[0] == "delete"}


class UnitsOfWork(LeaseRows):
    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[TableUnitOfWork]:
        uow = TableUnitOfWork(self)
        yield uow
        if uow.ops:
            await self._apply(uow)
            for seq in uow.finished:
                self._seqs.pop(seq, None)
            self._committed(uow)

    @on_its_loop
    async def _apply(self, uow: TableUnitOfWork) -> None:
        await self._ready()
        staged = await self._stage(uow)
        for key in sorted(staged.partitions, key=lambda p: p in (OUTBOX, THREADS)):  # plans first
            await self._submit(key, staged.partitions[key], staged.saves.get(key))
        for write in staged.inbox:
            await write()
        for key, version in staged.coalesce:
            await self._coalesce(key, version, staged.deleted(key))

    async def _stage(self, uow: TableUnitOfWork) -> _Staged:
        staged = _Staged()
        for op in uow.ops:
            if callable(op):
                staged.inbox.append(op)
                continue
            key, kind, payload = op
            if kind == "save":
                staged.partitions.setdefault(key, []).extend(await self._staged_save(*payload))
                staged.saves[key] = (payload[0].id, payload[1])
            elif kind == "coalesce":
                staged.coalesce.append((key, payload[1]))
            else:
                staged.partitions.setdefault(key, []).append(payload)
        staged.join_planless()
        return staged

    async def _staged_save(self, plan: Plan, expected: int) -> list[Any]:
        """The compare-and-set of a save, checked against the stored version now, and its lease if it changes."""
        stored = await self._row_of(plan.id, expected)
        if stored is None:
            raise ConcurrentUpdate(plan.id, expected)
        was, etag = stored
        operations = compare_and_set(plan, etag)
        if was != plan.state.value and {was, plan.state.value} & ACTIVE:
            # into or out of APPROVED/executing; a save that keeps the state leaves the lease with its holder
            operations.append(("upsert", self._lease_entity(plan)))
        return operations

    async def _submit(self, key: str, operations: list[Any], save: tuple[str, int] | None = None) -> None:
        for start in range(0, len(operations), MAX_OPERATIONS):
            try:
                await self._plans.submit_transaction(operations[start : start + MAX_OPERATIONS])
            except TableTransactionError as e:
                if conflict(e):  # the plan's row changed since it was read: the save's compare-and-set lost
                    raise ConcurrentUpdate(*(save or (key, -1))) from None
                raise

    async def _coalesce(self, key: str, version: int, deleted: set[str]) -> None:
        """Drop the card updates the card just sent covers, after the commit and one by one, each only if unchanged
        since read (ETag): another instance may claim one meanwhile (and then sends and deletes it itself). Best effort:
        an update left behind is sent later and shows the plan as stored then, so nothing is lost or shown wrong.
        (Inside the transaction, a row deleted by another instance first would fail the whole batch with a 404.)"""
        query = self._plans.query_entities(
            "PartitionKey eq @p and Kind eq @k and MsgKind eq @m and State eq @s and PlanVersion le @v and ClaimedUntil le @zero",
            parameters={"p": key, "k": "outbox", "m": "update_card", "s": "pending", "v": version, "zero": 0.0},
        )
        async for e in query:
            if e["RowKey"] in deleted:
                continue
            with contextlib.suppress(ResourceNotFoundError, HttpResponseError):
                await self._plans.delete_entity(key, e["RowKey"], etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
