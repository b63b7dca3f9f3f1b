"""In-memory fakes of the ports (bot/ports.py), for service tests that run in milliseconds.

They model the contracts the real adapters keep (the store's compare-and-set on version, the broker's
credential released when its block ends), and record what the services asked of them so a test can read it.
Nothing here talks to Teams or Azure: the simulators in sandbox/ do that for the integration tests.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.domain.audit import AuditEvent, AuditEventName
from bot.domain.errors import ConcurrentUpdate, CredentialProblem, DirectoryUnavailable
from bot.domain.incident import AlertCheck, AlertStatus
from bot.domain.plan import Plan, PlannedAction, PlanState, ResourceRef, Thread
from bot.ports import RunResult, RunStatus
from bot.services.deps import Deps

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class MemoryStore:
    """PlanStore: plans by id with versioned compare-and-set, and units of work that commit or roll back whole.

    `before_save` runs just before a save's compare-and-set: a test uses it to let a competitor write first.
    """

    def __init__(self) -> None:
        self.plans: dict[str, Plan] = {}
        self.deliveries: set[str] = set()
        self.saves = 0
        self.conflicts = 0
        self.before_save: Callable[[Plan], Awaitable[None]] | None = None

    async def add(self, plan: Plan) -> Plan:
        if plan.id in self.plans:
            raise ValueError(f"plan {plan.id} already exists")
        stored = replace(plan, version=1)
        self.plans[plan.id] = stored
        return stored

    async def get(self, plan_id: str) -> Plan | None:
        return self.plans.get(plan_id)

    async def save(self, plan: Plan, expected_version: int) -> Plan:
        hook, self.before_save = self.before_save, None  # once: the competitor writes, then the save is tried
        if hook is not None:
            await hook(plan)
        current = self.plans.get(plan.id)
        if current is None or current.version != expected_version:
            self.conflicts += 1
            raise ConcurrentUpdate(plan.id, expected_version)
        stored = replace(plan, version=expected_version + 1)
        self.plans[plan.id] = stored
        self.saves += 1
        return stored

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]:
        wanted = set(states)
        return [p for p in self.plans.values() if p.state in wanted]

    async def for_incident(self, incident_id: str) -> list[Plan]:
        return [p for p in self.plans.values() if p.incident_id == incident_id]

    async def first_delivery(self, key: str) -> bool:
        if key in self.deliveries:
            return False
        self.deliveries.add(key)
        return True

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MemoryStore]:
        """Everything written inside the block is kept together, or (on an exception) none of it."""
        plans, deliveries = dict(self.plans), set(self.deliveries)
        try:
            yield self
        except BaseException:
            self.plans, self.deliveries = plans, deliveries
            raise


class MemoryAudit:
    """AuditLog: the trail in a list."""

    def __init__(self) -> None:
        self.trail: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        self.trail.append(replace(event, seq=len(self.trail) + 1, detail=dict(event.detail)))

    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        return [e for e in self.trail if (plan_id is None or e.plan_id == plan_id) and (since is None or e.at >= since)]

    def names(self, plan_id: str | None = None) -> list[AuditEventName]:
        """The events recorded (for `plan_id`, if given), in order."""
        return [AuditEventName(e.event) for e in self.trail if plan_id is None or e.plan_id == plan_id]

    def last(self, name: AuditEventName) -> AuditEvent:
        return next(e for e in reversed(self.trail) if e.event == name)


@dataclass(frozen=True)
class Sent:
    """One thing posted to Teams: what, for which plan (or thread), the plan's state then, and the text."""

    what: str  # post_plan | update_card | reply | open_thread | say
    plan_id: str | None
    state: PlanState | None
    text: str = ""


class RecordingNotifier:
    """Notifier: records every post, update and reply; `fail` makes every call raise (Teams unreachable)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.fail = False
        self._threads = 0

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("Teams is unreachable (fake)")

    async def post_plan(self, plan: Plan) -> Thread:
        self._check()
        self.sent.append(Sent("post_plan", plan.id, plan.state))
        assert plan.thread is not None
        return replace(plan.thread, card_activity_id=f"card-{plan.id}")

    async def update_card(self, plan: Plan) -> None:
        self._check()
        self.sent.append(Sent("update_card", plan.id, plan.state))

    async def reply(self, plan: Plan, text: str) -> None:
        self._check()
        self.sent.append(Sent("reply", plan.id, plan.state, text))

    async def open_thread(self, channel: Thread, card: dict[str, object]) -> Thread:
        self._check()
        self._threads += 1
        self.sent.append(Sent("open_thread", None, None, str(card.get("title", ""))))
        return replace(channel, conversation_id=f"{channel.conversation_id};messageid={self._threads}")

    async def say(self, thread: Thread, text: str) -> None:
        self._check()
        self.sent.append(Sent("say", None, None, text))

    def replies(self, plan_id: str) -> list[str]:
        return [s.text for s in self.sent if s.what == "reply" and s.plan_id == plan_id]


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
    """

    def __init__(self, *script: RunResult | BaseException | Script) -> None:
        self.script: deque[RunResult | BaseException | Script] = deque(script)
        self.calls: list[tuple[PlannedAction, str]] = []
        self.vms: list[ResourceRef] = []
        self.power: dict[str, str] = {}

    async def run(self, action: PlannedAction, credential: FakeCredential, progress: Callable[[str], Awaitable[None]]) -> RunResult:
        self.calls.append((action, credential.owner))
        await progress("in progress")
        entry = self.script.popleft() if self.script else RunResult(RunStatus.SUCCEEDED, "done", power_state="running")
        answer = entry(action, credential) if callable(entry) else entry
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def power_state(self, resource: ResourceRef) -> str | None:
        return self.power.get(resource.id.lower())

    async def list_vms(self) -> list[ResourceRef]:
        return list(self.vms)


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

    store: MemoryStore = field(default_factory=MemoryStore)
    audit: MemoryAudit = field(default_factory=MemoryAudit)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    runner: ScriptedRunner = field(default_factory=ScriptedRunner)
    broker: FakeBroker = field(default_factory=FakeBroker)
    clock: FakeClock = field(default_factory=FakeClock)
    tasks: DrainableTasks = field(default_factory=DrainableTasks)
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    alerts: FakeAlerts = field(default_factory=FakeAlerts)
    deps: Deps = field(init=False)

    def __post_init__(self) -> None:
        self.deps = Deps(
            store=self.store,
            audit=self.audit,
            notifier=self.notifier,
            runner=self.runner,  # type: ignore[arg-type]
            broker=self.broker,
            clock=self.clock,
            tasks=self.tasks,  # type: ignore[arg-type]
            allowed_tenants=frozenset({"t"}),
            directory=self.directory,
            alerts=self.alerts,
        )

    def plan(self, plan_id: str) -> Plan:
        plan = self.store.plans[plan_id]
        return copy.copy(plan)
