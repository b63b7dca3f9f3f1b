"""Propose a plan: store it, put it in front of the approvers (or approve it implicitly, autonomous)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.consent import ConsentPolicy
from ..domain.plan import Mode, Person, Plan, PlannedAction, PlanState, Source, Thread
from ..domain.scope import check_in_scope
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
    power_states: dict[str, str] = field(default_factory=dict)


def new_plan_id() -> str:
    return "p-" + secrets.token_hex(6)


async def propose_plan(deps: Deps, request: PlanRequest) -> Plan:
    """Create the plan, post its card in the thread, and start it at once if consent is implicit.

    Raises Refusal (OUT_OF_SCOPE) before anything is stored when an action lies outside ALLOWED_SCOPES:
    every entry point checks earlier with the same rule, this is the last line.
    """
    for action in request.actions:
        check_in_scope(action.resource, deps.allowed_scopes)
    now = deps.clock.now()
    plan = Plan(
        id=new_plan_id(), title=request.title, rationale=request.rationale, actions=request.actions,
        requested_by=request.requested_by, policy=request.policy, created_at=now,
        expires_at=now + request.policy.expiry, mode=request.mode, source=request.source,
        thread=request.thread, incident_id=request.incident_id, power_states=dict(request.power_states),
    )
    presented = transitions.present(plan, now)  # refuses autonomous outside an incident, before anything is stored
    plan = await deps.store.add(plan)
    await deps.record(plan, request.requested_by, AuditEventName.PLAN_PROPOSED, source=request.source.value, mode=request.mode.value,
                      actions="; ".join(a.describe() for a in plan.actions))
    plan = await deps.commit(plan, replace(presented, version=plan.version), SYSTEM,
                             AuditEventName.CONSENT_IMPLICIT if presented.state is PlanState.APPROVED
                             else AuditEventName.CONSENT_REQUESTED)
    if plan.thread is not None:
        thread = await deps.notifier.post_plan(plan)
        plan = await deps.store.save(replace(plan, thread=thread), expected_version=plan.version)
    if plan.state is PlanState.APPROVED:
        plan_id = plan.id
        deps.tasks.spawn(lambda: run_plan(deps, plan_id), name=f"run {plan_id}")
    return plan
