"""Approve or Deny a plan, as one compare-and-set that exactly one concurrent click wins."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import messages, transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal, RefusalCode
from ..domain.plan import Person, Plan, PlanState
from .deps import Deps
from .results import result_text
from .run_plan import run_plan

MAX_ATTEMPTS = 100  # each retry means another click won; a few dozen concurrent clicks settle well within this


@dataclass(frozen=True)
class Decision:
    """The outcome for the person who clicked: the plan as it now stands and what to tell them."""

    plan: Plan | None
    message: str
    refusal: Refusal | None = None
    needs_sign_in: bool = False  # credentials: no SSO token yet, ask Teams for one
    retry_sso: bool = False  # credentials: the token could not be exchanged, let Teams fall back to sign-in


async def decide_consent(
    deps: Deps, plan_id: str, person: Person, approve: bool, seen_hash: str, reason: str | None = None, read: Plan | None = None
) -> Decision:
    """Apply one click; refusals are audited and explained, never raised. `read`: the plan as just read by the caller,
    used for the first attempt (the compare-and-set catches a change since; each retry reads it again)."""
    for attempt in range(MAX_ATTEMPTS):
        plan = read if attempt == 0 and read is not None and read.id == plan_id else await deps.store.get(plan_id)
        try:
            if plan is None:
                raise Refusal(RefusalCode.NOT_FOUND, messages.no_plan(plan_id))
            deps.check_tenant(person)
            is_approver = await deps.is_approver(plan, person)
            now = deps.clock.now()
            after = (
                transitions.approve(plan, person, seen_hash, now, is_approver)
                if approve
                else transitions.deny(plan, person, seen_hash, now, is_approver, reason)
            )
        except Refusal as refusal:
            refused = AuditEventName.APPROVAL_REFUSED if approve else AuditEventName.DENIAL_REFUSED
            await deps.record(plan, person, refused, code=refusal.code.value, reason=refusal.message)
            return Decision(plan, refusal.message, refusal)
        try:
            event = AuditEventName.APPROVAL_GIVEN if approve else AuditEventName.PLAN_DENIED
            # the card changes for everyone and a denial is told in the thread, in the same unit of work; an approval
            # that completes the quorum leaves the card to the execution, which updates it as it starts
            saved = await deps.commit(
                plan,
                after,
                person,
                event,
                card=after.state is not PlanState.APPROVED,
                reply=result_text(after) if after.state is PlanState.DENIED else None,
                **({"reason": reason} if reason else {}),
            )
        except ConcurrentUpdate:
            continue  # someone else moved the plan first: decide again against what they left
        return _after_decision(deps, saved)
    raise RuntimeError(f"plan {plan_id}: no decision could be stored after {MAX_ATTEMPTS} attempts")


def _after_decision(deps: Deps, plan: Plan) -> Decision:
    if plan.state is PlanState.APPROVED:
        plan_id = plan.id
        deps.tasks.spawn(lambda: run_plan(deps, plan_id), name=f"run {plan_id}")
        return Decision(plan, messages.APPROVED)
    if plan.state is PlanState.DENIED:
        return Decision(plan, messages.DENIED)
    return Decision(plan, messages.approval_recorded(plan.approvals_missing))
