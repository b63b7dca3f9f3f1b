"""Units of work over SQLite: the writes of one transition, applied in one transaction (BEGIN IMMEDIATE ... COMMIT).

The plan's compare-and-set, its audit events and its outbox messages are written together or not at all. SQLite
serialises writers itself, so the version check in the UPDATE's WHERE clause is what makes a transition
compare-and-set, across tasks, threads and processes sharing the file. Audit events are published to the listeners
(metrics, logs) only once their transaction has committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ....domain.audit import AuditEvent
from ....domain.errors import ConcurrentUpdate
from ....domain.plan import WAITING_STATES, Plan, PlanState, Thread
from ....ports import MessageKind, OutboxMessage
from ..codec import event_to_row, message_data, plan_to_dict, thread_to_dict
from ..common import last_error
from ..leases import ACTIVE_STATES, LeaseKeeper
from .base import SqliteBase


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

    def _waiting(self, plan: Plan) -> None:
        """Staged with the plan's write: who the plan may be waiting for (schema.py, `waiting_for`) while it waits, one
        statement whatever the number of approvers (SQLite walks the list); rows of people no longer listed stay until
        the plan stops waiting (`pending` checks the plan itself)."""
        if plan.state not in WAITING_STATES:
            self.writes.append(_Write("DELETE FROM waiting_for WHERE plan_id = ?", (plan.id,)))
            return
        people = [*plan.policy.approvers, *(["*"] if plan.policy.approver_group else [])]
        self.writes.append(
            _Write(
                "INSERT OR IGNORE INTO waiting_for (object_id, plan_id) SELECT value, ? FROM json_each(?)", (plan.id, json.dumps(people))
            )
        )

    def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)
        self._lease(plan)
        self._waiting(plan)
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
        self._waiting(saved)
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
        self.writes.append(
            _Write("UPDATE outbox SET state = 'dead', last_error = ?, claimed_by = NULL WHERE seq = ?", (last_error(error), seq))
        )


class UnitsOfWork(SqliteBase):
    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteUnitOfWork]:
        uow = SqliteUnitOfWork(self.leases)
        yield uow  # an exception in the block propagates from here: nothing is written
        if uow.writes:
            await asyncio.to_thread(self._apply, uow)
            self._committed(uow)

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
