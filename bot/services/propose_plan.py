"""Propose a plan: store it, put it in front of the approvers (or approve it implicitly, autonomous)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.callbacks import Callback
from ..domain.consent import ConsentPolicy
from ..domain.follow_up import FollowUp
from ..domain.plan import Mode, Person, Plan, PlannedAction, PlanState, Source, Thread
from ..domain.scope import check_in_scope
from ..ports import UnitOfWork
from . import messages
from .deps import SYSTEM, Deps
from .run_plan import run_plan


@dataclass(frozen=True)
class PlanRequest:
    """Everything needed to propose a plan, from chat, the API or an incident."""

    title: str
    rationale: str
    actions: tuple[PlannedAction, ...]
    requested_by: Person
    policy: ConsentPolicy
    thread: Thread | None
    mode: Mode = Mode.REVIEW
    source: Source = Source.CHAT
    incident_id: str | None = None
    reply_to: str | None = None  # the chat command's activity: the card answers it
    asked_in: Thread | None = None  # where the requester asked, when `thread` is elsewhere (the approvals channel)
    notes: tuple[tuple[Thread, str], ...] = ()  # (to, text) about the card, sent once it is posted (CARD_LINK: its link)
    follow_up: FollowUp | None = None  # reminders and escalation; None: the configured ones (Deps.follow_up)
    callback: Callback | None = None  # an agent's: where each change of the plan's state is sent, signed
    plan_id: str | None = None  # the new plan's id when the caller derives it (an alert's plans: see handle_alert)
    origin: str | None = None  # the API caller's app id, or the response plan's name (Plan.origin)


def new_plan_id() -> str:
    return "p-" + secrets.token_hex(6)


async def propose_plan(deps: Deps, request: PlanRequest) -> Plan:
    """Create the plan and queue its card in one unit of work, then start it at once if consent is implicit.

    Raises Refusal (OUT_OF_SCOPE) before anything is stored when an action lies outside ALLOWED_SCOPES:
    every entry point checks earlier with the same rule, this is the last line.
    """
    async with deps.store.unit_of_work() as uow:
        plan = stage_proposal(deps, uow, request)
    start_if_approved(deps, plan)
    return plan


def stage_proposal(deps: Deps, uow: UnitOfWork, request: PlanRequest) -> Plan:
    """The writes of a proposal, in `uow`: the plan (already presented), its audit events and its card."""
    for action in request.actions:
        check_in_scope(action.resource, deps.allowed_scopes)
    now = deps.clock.now()
    plan = Plan(
        id=request.plan_id or new_plan_id(),
        title=request.title,
        rationale=request.rationale,
        actions=request.actions,
        requested_by=request.requested_by,
        policy=request.policy,
        created_at=now,
        expires_at=now + request.policy.expiry,
        mode=request.mode,
        source=request.source,
        thread=request.thread,
        incident_id=request.incident_id,
        asked_in=request.asked_in,
        follow_up=(request.follow_up or deps.follow_up).schedule(),
        callback=request.callback,
        origin=request.origin,
    )
    presented = transitions.present(plan, now)  # refuses autonomous outside an incident, before anything is stored
    uow.record(
        deps.event(
            plan,
            request.requested_by,
            AuditEventName.PLAN_PROPOSED,
            source=request.source.value,
            mode=request.mode.value,
            actions="; ".join(a.describe() for a in plan.actions),
        )
    )
    stored = uow.add(presented)
    uow.record(
        deps.event(
            stored,
            SYSTEM,
            AuditEventName.CONSENT_IMPLICIT if stored.state is PlanState.APPROVED else AuditEventName.CONSENT_REQUESTED,
            plan,
        )
    )
    reply_to = None if request.asked_in is not None else request.reply_to  # a card elsewhere answers no command
    for m in messages.post_card(stored, reply_to):
        uow.send(m)
    for to, text in request.notes:
        uow.send(messages.note(stored, to, text, request.reply_to if to == request.asked_in else None))
    return stored


def start_if_approved(deps: Deps, plan: Plan) -> None:
    """After the commit: an implicitly approved plan runs now."""
    if plan.state is PlanState.APPROVED:
        plan_id = plan.id
        deps.tasks.spawn(lambda: run_plan(deps, plan_id), name=f"run {plan_id}")
