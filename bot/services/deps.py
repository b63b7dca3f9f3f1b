"""What every use case needs, wired once by the bootstrap; plus the unit-of-work steps they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..domain import messages as domain_messages
from ..domain.approvers import ApproversInForce
from ..domain.audit import AuditEvent, AuditEventName
from ..domain.errors import DirectoryUnavailable, Refusal, RefusalCode
from ..domain.follow_up import FollowUp, RequesterNotice
from ..domain.nudges import approver_groups, credentials_expired, escalated_approvers, waiting_since
from ..domain.permissions import Permission, permission
from ..domain.plan import WAITING_STATES, Person, Plan, PlanState, Thread
from ..domain.scope import Scope
from ..ports import (
    ActionRunner,
    AlertsReader,
    AuditLog,
    Clock,
    CredentialBroker,
    Directory,
    PlanStore,
    RequesterCallbacks,
    TaskRunner,
    UnitOfWork,
)
from . import messages

SYSTEM = Person(object_id="system", name="the bot", tenant_id="")


@dataclass
class Deps:
    store: PlanStore
    audit: AuditLog
    runner: ActionRunner
    broker: CredentialBroker
    clock: Clock
    tasks: TaskRunner
    allowed_tenants: frozenset[str] = field(default_factory=frozenset)
    directory: Directory | None = None
    allowed_scopes: tuple[Scope, ...] = ()  # ALLOWED_SCOPES; empty refuses every VM
    home_subscription: str = ""  # DEFAULT_SUBSCRIPTION_ID: where chat commands look VMs up by name
    alerts: AlertsReader | None = None  # Azure Monitor's alerts; without it no alert is confirmed (no autonomy)
    follow_up: FollowUp = field(default_factory=FollowUp)  # reminders and escalation of new plans (configured)
    callbacks: RequesterCallbacks | None = None  # requesters told through their own channel (an agent's callback)
    plans_url: str = "/api/plans"  # where agents read plans (https://<BOT_DOMAIN>/api/plans): callback events' source
    # the approvers the configuration in force names for a plan (domain/approvers.py); None: the plan's own list only
    approvers_now: Callable[[Plan], ApproversInForce | None] = lambda plan: None

    def event(self, plan: Plan | None, actor: Person, event: AuditEventName, before: Plan | None = None, **detail: str) -> AuditEvent:
        """An audit event; `before` gives the from-state when the plan moved (and then the plan's source, and how long
        it waited or lived when it stopped waiting or ended: the facts approval metrics are made of)."""
        now = self.clock.now()
        return AuditEvent(
            at=now,
            plan_id=plan.id if plan else None,
            actor=actor.object_id,
            actor_name=actor.name,
            event=str(event),  # StrEnum: its value
            from_state=before.state.value if before else None,
            to_state=plan.state.value if plan and before else None,
            detail={**_timings(plan, before, now), **detail},
        )

    async def record(self, plan: Plan | None, actor: Person, event: AuditEventName, before: Plan | None = None, **detail: str) -> None:
        """Append one audit event on its own (a refusal: nothing else changes)."""
        async with self.store.unit_of_work() as uow:
            uow.record(self.event(plan, actor, event, before, **detail))

    async def commit(
        self,
        before: Plan,
        after: Plan,
        actor: Person,
        event: AuditEventName,
        *,
        card: bool = False,
        reply: str | None = None,
        **detail: str,
    ) -> Plan:
        """One transition as one unit of work: compare-and-set `after` over `before`, its audit event, and its messages
        (the card updated in place when `card`, `reply` in the thread). Raises ConcurrentUpdate if someone else won:
        then nothing is written."""
        async with self.store.unit_of_work() as uow:
            saved = uow.save(after, expected_version=before.version)
            uow.record(self.event(saved, actor, event, before, **detail))
            notify(uow, saved, card=card, reply=reply)
            tell_requester(uow, before, saved, self.callbacks)
            self.tell_agent(uow, before, saved)
        return saved

    async def commit_quietly(self, before: Plan, after: Plan) -> Plan:
        """A change that is not a transition worth auditing (progress on the card): the save and the card update."""
        async with self.store.unit_of_work() as uow:
            saved = uow.save(after, expected_version=before.version)
            notify(uow, saved, card=True)
        return saved

    def tell_agent(self, uow: UnitOfWork, before: Plan, after: Plan) -> None:
        """An agent that asked for callbacks is sent an event at every change of its plan's state."""
        if after.state is not before.state:
            for m in messages.callback(after, self.plans_url, self.clock.now()):
                uow.send(m)

    async def say(self, thread: Thread, text: str, reply_to: str | None = None) -> None:
        """A message in a conversation (an answer to a command: `reply_to` is the command's activity), via the outbox."""
        async with self.store.unit_of_work() as uow:
            uow.send(messages.say(thread, text, reply_to))

    def check_tenant(self, person: Person) -> None:
        """Refuse people from tenants this bot does not serve (guests from elsewhere, other organisations)."""
        if self.allowed_tenants and person.tenant_id not in self.allowed_tenants:
            raise Refusal(RefusalCode.OTHER_TENANT, "This bot only serves people of its own organisation's tenant.")

    async def is_approver(self, plan: Plan, person: Person, fresh: bool = True) -> bool:
        """Named by the plan (its policy's approvers or group, and once it escalated, the escalation's) and by the
        configuration in force now (the same, as configured today), and not one of the people the configuration excludes
        from this plan (the people behind its API caller). Group membership is asked of the directory now for every
        decision (approve, deny, grant, cancel). Refusal(DIRECTORY_UNAVAILABLE) when a group cannot be checked."""
        now = self.approvers_now(plan)
        rules = [(plan.policy.approvers | escalated_approvers(plan), approver_groups(plan))]
        if now is not None:
            if person.object_id.lower() in now.excluded:
                return False
            rules.append((now.approvers, now.groups))
        member: dict[str, bool] = {}  # a group named by both rules is asked once
        for listed, groups in rules:
            if person.object_id in listed:
                continue
            for group in groups:
                if group not in member:
                    member[group] = await self._in_group(person, group, fresh)
                if member[group]:
                    break
            else:
                return False
        return True

    async def _in_group(self, person: Person, group: str, fresh: bool) -> bool:
        if self.directory is None:
            return False
        try:
            return await self.directory.is_member(person.object_id, group, fresh=fresh)
        except DirectoryUnavailable as e:
            raise Refusal(RefusalCode.DIRECTORY_UNAVAILABLE, e.message) from None

    async def permission(self, plan: Plan, person: Person, group_unknown_is_approver: bool = True) -> Permission:
        """What `person` may do with `plan` now, for views (the card's buttons, `pending`): group answers may come
        from a cache. When the group cannot be checked the card counts the person as an approver, so the click
        (checked fresh) tells them why it cannot be decided; `pending` does not list the plan."""
        try:
            is_approver = await self.is_approver(plan, person, fresh=False)
        except Refusal:
            is_approver = group_unknown_is_approver
        return permission(plan, person.object_id, self.clock.now(), is_approver)

    async def may_see_buttons(self, plan: Plan, person: Person) -> bool:
        """The card shows `person` buttons when the plan waits for them (domain/permissions.py)."""
        return (await self.permission(plan, person)).awaits_you


def _timings(plan: Plan | None, before: Plan | None, now: datetime) -> dict[str, str]:
    """The source of a plan that moved; how long it waited, when it stops waiting; how long it lived, when it ends."""
    if plan is None or before is None:
        return {}
    facts = {"source": plan.source.value}
    if before.state in WAITING_STATES and plan.state is not before.state:
        facts["waited_seconds"] = f"{(now - waiting_since(before)).total_seconds():.3f}"
    if plan.state.is_terminal and not before.state.is_terminal:
        facts["lifetime_seconds"] = f"{(now - plan.created_at).total_seconds():.3f}"
    return facts


def tell_requester(uow: UnitOfWork, before: Plan, after: Plan, callbacks: RequesterCallbacks | None = None) -> None:
    """A plan whose card is elsewhere than where it was asked: the requester is told there when it is decided, or when
    its credentials request expired. An expiry goes to the requester's own channel (an agent's callback) when it has
    one."""
    expired = after.state is PlanState.EXPIRED and before.state in WAITING_STATES
    if expired and callbacks is not None and callbacks.stage(uow, after, RequesterNotice.EXPIRED):
        return
    if after.asked_in is None:
        return
    decided = before.state is PlanState.AWAITING_CONSENT and after.state in (PlanState.APPROVED, PlanState.DENIED, PlanState.EXPIRED)
    # notes about the plan, not texts to a conversation: kept with the plan (one transaction on every store)
    if decided:
        uow.send(messages.note(after, after.asked_in, domain_messages.decision_for_requester(after)))
    elif expired:  # waited for credentials
        uow.send(messages.note(after, after.asked_in, credentials_expired(after)))
    elif after.state.is_terminal and not before.state.is_terminal:
        uow.send(messages.note(after, after.asked_in, domain_messages.outcome_for_requester(after)))


def notify(uow: UnitOfWork, plan: Plan, *, card: bool = False, reply: str | None = None) -> None:
    """Queue the plan's card update and its reply in `uow` (sent once it commits, in this order)."""
    if card:
        for m in messages.update_card(plan):
            uow.send(m)
    if reply is not None:
        for m in messages.reply(plan, reply):
            uow.send(m)
