"""An in-memory store with the SQLite store's semantics, for fast service tests: units of work that apply all their
writes or none, compare-and-set on the plan's version, an append-only audit log and an outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.adapters.store.leases import ACTIVE_STATES
from bot.domain.audit import AuditEvent
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import Plan, PlanState, Thread
from bot.ports import ConversationRef, Lease, MessageKind, OutboxMessage


@dataclass
class FakeUnitOfWork:
    """Writes staged as functions over a copy of the store's state; applied together when the block ends."""

    changes: list[Any] = field(default_factory=list)

    def add(self, plan: Plan) -> Plan:
        plan = replace(plan, version=1)

        def apply(s: InMemoryStore) -> None:
            if plan.id in s.plans:
                raise ValueError(f"plan {plan.id} exists")
            s.plans[plan.id] = plan
            s.moved(None, plan)

        self.changes.append(apply)
        return plan

    def save(self, plan: Plan, expected_version: int) -> Plan:
        saved = replace(plan, version=expected_version + 1)

        def apply(s: InMemoryStore) -> None:
            current = s.plans.get(plan.id)
            if current is None or current.version != expected_version:
                raise ConcurrentUpdate(plan.id, expected_version)
            s.plans[plan.id] = saved
            s.moved(current, saved)

        self.changes.append(apply)
        return saved

    def record(self, event: AuditEvent) -> None:
        self.changes.append(lambda s: s.audit.append(replace(event, seq=len(s.audit) + 1)))

    def send(self, message: OutboxMessage) -> None:
        def apply(s: InMemoryStore) -> None:
            s.seq += 1
            s.outbox[s.seq] = replace(message, seq=s.seq)

        self.changes.append(apply)

    def alert_processed(self, key: str, outcome: dict[str, Any]) -> None:
        self.changes.append(lambda s: s.inbox.__setitem__(key, outcome))

    def delivered(self, seq: int) -> None:
        self.changes.append(lambda s: s.outbox.pop(seq, None))

    def coalesce(self, plan_id: str, up_to_version: int) -> None:
        def apply(s: InMemoryStore) -> None:
            for seq, m in list(s.outbox.items()):
                if m.plan_id == plan_id and m.kind is MessageKind.UPDATE_CARD and m.plan_version <= up_to_version:
                    del s.outbox[seq]

        self.changes.append(apply)

    def name_thread(self, ref: str, thread: Thread) -> None:
        self.changes.append(lambda s: s.threads.__setitem__(ref, thread))

    def dead_letter(self, seq: int, error: str) -> None:
        self.changes.append(lambda s: s.dead.__setitem__(seq, s.outbox.pop(seq)))


@dataclass
class InMemoryStore:
    plans: dict[str, Plan] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    dead: dict[int, OutboxMessage] = field(default_factory=dict)
    threads: dict[str, Thread] = field(default_factory=dict)
    inbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    refs: dict[tuple[str, str], ConversationRef] = field(default_factory=dict)
    seq: int = 0
    fail_on: str | None = None  # an audit event whose write fails (a fault injected between the writes of a unit)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[FakeUnitOfWork]:
        uow = FakeUnitOfWork()
        yield uow
        staged = replace(
            self,
            plans=dict(self.plans),
            audit=list(self.audit),
            outbox=dict(self.outbox),
            dead=dict(self.dead),
            threads=dict(self.threads),
            inbox=dict(self.inbox),
            leases=dict(self.leases),
        )
        for change in uow.changes:
            change(staged)
        if self.fail_on and any(e.event == self.fail_on for e in staged.audit[len(self.audit) :]):
            raise RuntimeError(f"injected failure writing {self.fail_on}")
        self.__dict__.update(staged.__dict__)  # all at once, after every write succeeded

    def moved(self, before: Plan | None, after: Plan) -> None:
        """Execution leases as the real stores keep them; this one process holds them for ever (it never dies)."""
        if after.state not in ACTIVE_STATES:
            self.leases.pop(after.id, None)
        elif before is None or before.state is not after.state:
            self.leases[after.id] = Lease(after.id, "in-memory", float("inf"))

    async def get(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    async def lease(self, plan_id: str) -> Lease | None:
        return self.leases.get(plan_id)

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        wanted = set(states)
        return sorted((p for p in self.plans.values() if p.state in wanted), key=lambda p: p.expires_at)

    async def for_incident(self, incident_id: str) -> list[Plan]:
        return [p for p in self.plans.values() if p.incident_id == incident_id]

    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        return [e for e in self.audit if (plan_id is None or e.plan_id == plan_id) and (since is None or e.at >= since)]

    # 1:1 chats (ConversationRefs): outside units of work, as in the real stores
    async def remember(self, ref: ConversationRef) -> None:
        self.refs[(ref.tenant_id, ref.object_id)] = ref

    async def forget(self, tenant_id: str, object_id: str) -> None:
        self.refs.pop((tenant_id, object_id), None)

    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None:
        return self.refs.get((tenant_id, object_id))

    def messages(self) -> list[OutboxMessage]:
        return [self.outbox[k] for k in sorted(self.outbox)]
