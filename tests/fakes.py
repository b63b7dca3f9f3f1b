"""In-memory fakes of the ports (bot/ports.py), for service tests that run in milliseconds.

An in-memory store with the SQLite store's semantics (units of work that apply all their writes or none,
compare-and-set on the plan's version, an append-only audit log and an outbox), a clock that moves when told,
a recording notifier fed from the outbox, a scripted ARM runner, a credential broker whose user credentials are
released when their block ends, a task runner the test drains, a directory and Azure Monitor's alerts.
Nothing here talks to Teams or Azure: the simulators in sandbox/ do that for the integration tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.store.leases import ACTIVE_STATES
from bot.domain.audit import AuditEvent, AuditEventName
from bot.domain.errors import ConcurrentUpdate, CredentialProblem, DirectoryUnavailable
from bot.domain.incident import AlertCheck, AlertStatus
from bot.domain.plan import WAITING_STATES, Plan, PlannedAction, PlanState, ResourceRef, Thread
from bot.ports import ArmReading, ConversationRef, Lease, MessageKind, OutboxMessage, ReadStatus, RunResult, RunStatus, ThreadOpening
from bot.services.deps import Deps

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


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
        def apply(s: InMemoryStore) -> None:
            s.dead[seq] = s.outbox.pop(seq)
            s.dead_causes[seq] = error

        self.changes.append(apply)


@dataclass
class InMemoryStore:
    plans: dict[str, Plan] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    outbox: dict[int, OutboxMessage] = field(default_factory=dict)
    dead: dict[int, OutboxMessage] = field(default_factory=dict)
    threads: dict[str, Thread] = field(default_factory=dict)
    dead_causes: dict[int, str] = field(default_factory=dict)  # why each dead letter was given up
    inbox: dict[str, dict[str, Any]] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    refs: dict[tuple[str, str], ConversationRef] = field(default_factory=dict)
    seq: int = 0
    fail_on: str | None = None  # an audit event whose write fails (a fault injected between the writes of a unit)
    # runs once, just before the next unit of work applies its writes: a test lets a competitor write first
    before_commit: Callable[[], Awaitable[None]] | None = None
    conflicts: int = 0

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[FakeUnitOfWork]:
        uow = FakeUnitOfWork()
        yield uow
        hook, self.before_commit = self.before_commit, None
        if hook is not None:
            await hook()
        staged = replace(
            self,
            plans=dict(self.plans),
            audit=list(self.audit),
            outbox=dict(self.outbox),
            dead=dict(self.dead),
            dead_causes=dict(self.dead_causes),
            threads=dict(self.threads),
            inbox=dict(self.inbox),
            leases=dict(self.leases),
        )
        try:
            for change in uow.changes:
                change(staged)
        except ConcurrentUpdate:
            self.conflicts += 1
            raise
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

    async def cards_unsent(self) -> set[str]:
        return {m.plan_id for m in self.outbox.values() if m.kind is MessageKind.POST_CARD and m.plan_id}

    async def thread_opening(self, ref: str) -> ThreadOpening | None:
        for m in self.outbox.values():
            if m.thread_ref == ref:
                return ThreadOpening(m)
        for seq, m in self.dead.items():
            if m.thread_ref == ref:
                return ThreadOpening(m, self.dead_causes.get(seq, "given up"))
        return None

    async def waiting_for(self, object_id: str) -> list[Plan]:
        return [p for p in await self.in_states(WAITING_STATES) if p.policy.approver_group or object_id in p.policy.approvers]

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

    async def write(self, plan: Plan) -> Plan:
        """A competitor's write (another click, instance or card refresh): `plan` over the stored version."""
        async with self.unit_of_work() as uow:
            return uow.save(plan, expected_version=self.plans[plan.id].version)

    def names(self, plan_id: str | None = None) -> list[AuditEventName]:
        """The audit events recorded (for `plan_id`, if given), in order."""
        return [AuditEventName(e.event) for e in self.audit if plan_id is None or e.plan_id == plan_id]

    def last(self, name: AuditEventName) -> AuditEvent:
        return next(e for e in reversed(self.audit) if e.event == name)

    def texts(self, plan_id: str) -> list[str]:
        """What the outbox will say in the plan's thread (results, notices), in order."""
        return [m.text or "" for m in self.messages() if m.plan_id == plan_id and m.kind is MessageKind.TEXT]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@dataclass
class FakeCredential:
    """A credential the broker handed out; `closed` once released."""

    owner: str  # "agent" or the SSO token it was built from
    closed: bool = False

    async def close(self) -> None:
        self.closed = True


class FakeBroker:
    """CredentialBroker: the agent's credential, and users' credentials released when their block ends.

    `problem` makes the On-Behalf-Of check raise it (what Entra would refuse).
    """

    def __init__(self) -> None:
        self.agent_credential = FakeCredential("agent")
        self.issued: list[FakeCredential] = []
        self.problem: CredentialProblem | None = None

    def agent(self) -> FakeCredential:
        return self.agent_credential

    @asynccontextmanager
    async def for_user(self, sso_token: str) -> AsyncIterator[FakeCredential]:
        credential = FakeCredential(sso_token)
        self.issued.append(credential)
        try:
            yield credential
        finally:
            await credential.close()

    async def check(self, credential: object) -> None:
        if self.problem is not None:
            raise self.problem


Script = Callable[[PlannedAction, FakeCredential], RunResult | BaseException]


class ScriptedRunner:
    """ActionRunner: answers from a script, one entry per run (then succeeded); records (action, credential owner).

    A script entry is a RunResult, an exception to raise, or a function of (action, credential) returning either.
    `polls` are what Azure reports while each action runs: (time it takes, status), the clock moved for each.
    Reads answer from `resources` (ARM path -> JSON body, what a GET finds; anything else is not found), listings
    from `listings` (collection path -> items); `unreadable` makes Azure unable to answer either.
    """

    def __init__(self, *script: RunResult | BaseException | Script) -> None:
        self.script: deque[RunResult | BaseException | Script] = deque(script)
        self.polls: list[tuple[timedelta, str]] = []
        self.clock: FakeClock | None = None
        self.calls: list[tuple[PlannedAction, str]] = []
        self.resources: dict[str, Any] = {}
        self.listings: dict[str, list[dict[str, Any]]] = {}
        self.unreadable = False
        self.reads: list[str] = []

    def put(self, path: str, body: Any) -> None:
        """What a GET of `path` finds from now on (None: nothing)."""
        if body is None:
            self.resources.pop(path.lower(), None)
        else:
            self.resources[path.lower()] = body

    def power(self, ref: ResourceRef, state: str) -> None:
        """A VM in power state `state` (its instance view)."""
        self.put(f"{ref.id}/instanceView", {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{state}"}]})

    async def run(self, action: PlannedAction, credential: FakeCredential, progress: Callable[[str], Awaitable[None]]) -> RunResult:
        self.calls.append((action, credential.owner))
        await progress("in progress")
        for took, status in self.polls:
            if self.clock is not None:
                self.clock.advance(took)
            await progress(status)
        entry = self.script.popleft() if self.script else RunResult(RunStatus.SUCCEEDED, "done")
        answer = entry(action, credential) if callable(entry) else entry
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def read(self, path: str, api_version: str) -> ArmReading:
        self.reads.append(path)
        if self.unreadable:
            return ArmReading(ReadStatus.UNAVAILABLE, detail="the fake Azure is down")
        body = self.resources.get(path.lower())
        return ArmReading(ReadStatus.NOT_FOUND) if body is None else ArmReading(ReadStatus.FOUND, body)

    async def list(self, path: str, api_version: str) -> list[dict[str, Any]] | None:
        return None if self.unreadable else list(self.listings.get(path.lower(), []))


class DrainableTasks:
    """TaskRunner: spawned work waits in a queue until the test drains it (no event loop timing involved)."""

    def __init__(self) -> None:
        self.queue: deque[tuple[str, Callable[[], Awaitable[object]]]] = deque()
        self.done: list[str] = []
        self.failed: list[tuple[str, BaseException]] = []

    def spawn(self, work: Callable[[], Awaitable[object]], name: str) -> None:
        self.queue.append((name, work))

    async def drain(self, limit: int = 1000) -> list[str]:
        """Run queued work, including what it spawns, until none is left; returns the names run."""
        ran: list[str] = []
        while self.queue:
            if len(ran) >= limit:
                raise AssertionError(f"tasks keep spawning tasks: {[n for n, _ in self.queue][:10]}")
            name, work = self.queue.popleft()
            ran.append(name)
            try:
                await work()
            except Exception as e:  # the real runner logs a failed task; the test can read it here
                self.failed.append((name, e))
        self.done.extend(ran)
        return ran


class FakeDirectory:
    """Directory: group members by group id; `down` makes it unable to answer (never read as "not a member")."""

    def __init__(self, members: dict[str, set[str]] | None = None) -> None:
        self.members = members or {}
        self.down = False
        self.asked: list[tuple[str, str, bool]] = []

    async def is_member(self, object_id: str, group_id: str, fresh: bool = True) -> bool:
        self.asked.append((object_id, group_id, fresh))
        if self.down:
            raise DirectoryUnavailable("The approver group could not be checked (fake directory down). Try again later.")
        return object_id in self.members.get(group_id, set())

    def problem(self) -> str | None:
        return "down" if self.down else None


class FakeAlerts:
    """AlertsReader: Azure Monitor's record of alerts by id (unknown ids: NOT_FOUND)."""

    def __init__(self) -> None:
        self.alerts: dict[str, AlertCheck] = {}

    async def get(self, alert_id: str) -> AlertCheck:
        return self.alerts.get(alert_id, AlertCheck(AlertStatus.NOT_FOUND))


@dataclass
class World:
    """The services' dependencies as fakes, wired into one Deps."""

    store: InMemoryStore = field(default_factory=InMemoryStore)
    runner: ScriptedRunner = field(default_factory=lambda: ScriptedRunner())
    broker: FakeBroker = field(default_factory=FakeBroker)
    clock: FakeClock = field(default_factory=FakeClock)
    tasks: DrainableTasks = field(default_factory=DrainableTasks)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    alerts: FakeAlerts = field(default_factory=FakeAlerts)
    deps: Deps = field(init=False)

    def __post_init__(self) -> None:
        self.runner.clock = self.clock
        self.deps = Deps(
            store=self.store,
            audit=self.store,
            runner=self.runner,
            broker=self.broker,  # type: ignore[arg-type]
            clock=self.clock,
            tasks=self.tasks,
            allowed_tenants=frozenset({"t"}),
            directory=self.directory,
            alerts=self.alerts,
        )

    def plan(self, plan_id: str) -> Plan:
        return self.store.plans[plan_id]
