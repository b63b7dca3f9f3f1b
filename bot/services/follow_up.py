"""Nobody forgets a plan: remind its approvers, escalate it, warn its requester before it expires (issue 26).

Run by the sweeper of every instance, after the expiry sweep. Each step is a transition of the plan
(domain/nudges.py): one unit of work holds the plan's compare-and-set, its audit event (`reminded`, `escalated`,
`expiry_warned`, naming who was told) and its messages (private notes with the link to the card, the escalation
channel's notice, the card update), so with several instances each step happens once: the instance that loses the
compare-and-set writes nothing, and finds the step recorded when it reads the plan again; so does a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..domain import nudges
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.follow_up import RequesterNotice
from ..domain.nudges import Step
from ..domain.plan import WAITING_STATES, Plan, PlanState, Thread
from ..ports import CARD_LINK, PrivateNotes, UnitOfWork
from . import messages
from .deps import SYSTEM, Deps, notify
from .links import linkable

log = logging.getLogger(__name__)
EVENTS = {Step.REMIND: AuditEventName.REMINDED, Step.ESCALATE: AuditEventName.ESCALATED, Step.WARN: AuditEventName.EXPIRY_WARNED}


@dataclass(frozen=True)
class Taken:
    """A step taken: the plan as saved, and who was told (object ids)."""

    plan: Plan
    step: Step
    told: tuple[str, ...]


@dataclass(frozen=True)
class _Words:
    """What a step says, and to whom, worked out before its unit of work (it asks the directory)."""

    notes: list[tuple[str, Thread, str]] = field(default_factory=list)  # (object id, 1:1 chat or channel, text)
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowUps:
    """The parts the steps need besides Deps: how to reach people privately, and the escalation channel."""

    notes: PrivateNotes | None = None
    channel: Thread | None = None  # ESCALATION_CHANNEL


async def follow_up_due(deps: Deps, parts: FollowUps) -> list[Taken]:
    """Take every step due now on every waiting plan; a plan someone else moved meanwhile waits for the next sweep."""
    taken: list[Taken] = []
    waiting = await deps.store.in_states(WAITING_STATES)
    if waiting:
        log.debug("follow-up sweep: %d plan(s) waiting", len(waiting))
    for plan in waiting:
        try:
            for step in nudges.due(plan, deps.clock.now()):
                done = await _take(deps, parts, plan, step)
                if done is None:
                    break
                taken.append(done)
                plan = done.plan
        except Exception:  # one plan's trouble (the store, the directory) never stops the others' reminders
            log.exception("follow-up of plan %s failed; tried again at the next sweep", plan.id, extra={"plan_id": plan.id})
    return taken


async def _take(deps: Deps, parts: FollowUps, plan: Plan, step: Step) -> Taken | None:
    now = deps.clock.now()
    try:
        after = nudges.take(plan, step, now)
    except Refusal:
        return None  # decided or expired meanwhile
    words = await WORDS[step](deps, parts, after, now)  # worded as the plan will be once the step is taken
    try:
        async with deps.store.unit_of_work() as uow:
            saved = uow.save(after, expected_version=plan.version)
            uow.record(deps.event(saved, SYSTEM, EVENTS[step], plan, **words.detail))
            for _, to, text in words.notes:
                uow.send(messages.note(saved, to, text))
            if step is Step.WARN:
                _tell_requester(deps, uow, saved, now)
            notify(uow, saved, card=step is not Step.WARN)  # the card shows reminders and escalation
    except ConcurrentUpdate:
        return None  # another instance (or a click) moved the plan first: nothing was written
    return Taken(saved, step, tuple(oid for oid, _, _ in words.notes if oid))


def _link(plan: Plan) -> str | None:
    """CARD_LINK (the outbox puts the card's deep link there once it is posted) where Teams has such links."""
    return CARD_LINK if linkable(plan.thread) else None


async def _decided(deps: Deps, plan: Plan) -> frozenset[str]:
    """Who already answered the current request: approvers of a plan waiting for consent; for credentials, those whose
    lent rights Azure refused since it began waiting."""
    if plan.state is PlanState.AWAITING_CONSENT:
        return frozenset(a.approver.object_id for a in plan.approvals)
    since = nudges.waiting_since(plan)
    events = await deps.audit.events(plan.id, since=since)
    return frozenset(e.actor for e in events if e.event == AuditEventName.CREDENTIALS_USED)


async def _private(
    parts: FollowUps, plan: Plan, people: frozenset[str], groups: tuple[str, ...], leave_out: frozenset[str]
) -> list[tuple[str, Thread]]:
    where = plan.thread or plan.asked_in
    if parts.notes is None or where is None:
        return []
    return await parts.notes.personal_threads(people, groups, leave_out, where.tenant_id, where.service_url)


async def _remind(deps: Deps, parts: FollowUps, plan: Plan, now: datetime) -> _Words:
    """Every approver the bot can reach, those who were told as the plan was posted too; not who already answered,
    nor the requester when they may not approve their own plan."""
    leave_out = await _decided(deps, plan)
    if plan.state is PlanState.AWAITING_CONSENT and not plan.policy.allow_self_approval:
        leave_out |= {plan.requested_by.object_id}
    text = nudges.reminder(plan, now, _link(plan))
    chats = await _private(parts, plan, nudges.approver_ids(plan), nudges.approver_groups(plan), leave_out)
    notes = [(oid, chat, text) for oid, chat in chats]
    return _Words(notes, {"to": ",".join(oid for oid, _, _ in notes)})


async def _escalate(deps: Deps, parts: FollowUps, plan: Plan, now: datetime) -> _Words:
    """The escalation approvers only (the first approvers are not messaged again), and the escalation channel."""
    to = plan.follow_up.escalate_to
    leave_out = plan.policy.approvers | await _decided(deps, plan) | {plan.requested_by.object_id}
    text = nudges.escalated_to_you(plan, now, _link(plan))
    chats = await _private(parts, plan, to.approvers, (to.group,) if to.group else (), frozenset(leave_out))
    notes = [(oid, chat, text) for oid, chat in chats]
    if parts.channel is not None:
        notes.append(("", parts.channel, nudges.escalation_notice(plan, now, _link(plan))))
    detail = {
        "to": ",".join(oid for oid, _, _ in notes if oid),
        "approvers": ",".join(sorted(to.approvers)),
        "group": to.group or "",
        "channel": parts.channel.conversation_id if parts.channel else "",
    }
    return _Words(notes, detail)


async def _warn(deps: Deps, parts: FollowUps, plan: Plan, now: datetime) -> _Words:
    return _Words(detail={"to": plan.requested_by.object_id})


def _tell_requester(deps: Deps, uow: UnitOfWork, plan: Plan, now: datetime) -> None:
    """The requester learns the plan is about to expire: through its own channel (an agent's callback) when it has
    one; else where it asked, with a link to the card when the card is elsewhere; else in the plan's thread."""
    if deps.callbacks is not None and deps.callbacks.stage(uow, plan, RequesterNotice.ABOUT_TO_EXPIRE):
        return
    if plan.asked_in is not None:
        uow.send(messages.note(plan, plan.asked_in, nudges.about_to_expire(plan, now, _link(plan))))
        return
    for m in messages.reply(plan, nudges.about_to_expire(plan, now)):
        uow.send(m)


WORDS: dict[Step, Callable[[Deps, FollowUps, Plan, datetime], Awaitable[_Words]]] = {
    Step.REMIND: _remind,
    Step.ESCALATE: _escalate,
    Step.WARN: _warn,
}
