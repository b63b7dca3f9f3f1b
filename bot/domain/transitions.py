"""The state machine of DESIGN.md §2 as pure functions: each takes a Plan and returns the next one.

A function raises `Refusal` when the move is not allowed (wrong state, wrong person, stale card);
the store then makes the move a compare-and-set on the plan's version.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from . import messages
from .errors import Refusal, RefusalCode
from .permissions import PlanAction, Why, permission
from .plan import (
    EXECUTING_STATES,
    AccessDenied,
    ActionOutcome,
    Approval,
    Mode,
    Person,
    Plan,
    PlanState,
    Source,
)

S = PlanState
ALLOWED: dict[PlanState, frozenset[PlanState]] = {
    S.PROPOSED: frozenset({S.AWAITING_CONSENT, S.APPROVED}),
    S.AWAITING_CONSENT: frozenset({S.AWAITING_CONSENT, S.APPROVED, S.DENIED, S.EXPIRED}),
    S.APPROVED: frozenset({S.EXECUTING, S.EXPIRED, S.INTERRUPTED}),
    S.EXECUTING: frozenset({S.EXECUTING, S.SUCCEEDED, S.AWAITING_CREDENTIALS, S.FAILED, S.INTERRUPTED}),
    S.AWAITING_CREDENTIALS: frozenset({S.EXECUTING_AS_USER, S.CREDENTIALS_DENIED, S.EXPIRED}),
    S.EXECUTING_AS_USER: frozenset(
        {
            S.EXECUTING_AS_USER,
            S.SUCCEEDED,
            S.USER_NOT_AUTHORIZED,
            S.FAILED,
            S.INTERRUPTED,
            S.AWAITING_CREDENTIALS,  # refused again, while CREDENTIALS_ATTEMPTS remain: another approver may try
        }
    ),
}

# The states whose card offers "Propose again": a new plan with the same actions, and a new consent round
PROPOSE_AGAIN_STATES = frozenset(
    {
        S.USER_NOT_AUTHORIZED,
        S.DENIED,
        S.EXPIRED,
        S.CREDENTIALS_DENIED,
        S.INTERRUPTED,
        S.FAILED,
    }
)


def _move(plan: Plan, to: PlanState, **changes: object) -> Plan:
    if to not in ALLOWED.get(plan.state, frozenset()):
        raise Refusal(RefusalCode.WRONG_STATE, already_message(plan))
    return replace(plan, state=to, **changes)  # type: ignore[arg-type]


def already_message(plan: Plan) -> str:
    """What to tell someone whose click came too late."""
    return messages.already(plan)


def present(plan: Plan, now: datetime) -> Plan:
    """PROPOSED -> AWAITING_CONSENT (review) or straight to APPROVED (autonomous: implicit consent)."""
    if plan.mode is Mode.AUTONOMOUS:
        if plan.source is not Source.INCIDENT:
            raise Refusal(
                RefusalCode.AUTONOMOUS_NOT_ALLOWED,
                messages.AUTONOMOUS_NOT_ALLOWED,
            )
        return _move(plan, S.APPROVED)
    return _move(plan, S.AWAITING_CONSENT)


def _check_card(plan: Plan, seen_hash: str) -> None:
    """The click must carry the digest of the plan as stored: a plan is bound to what the approver saw."""
    if seen_hash != plan.content_hash:
        raise Refusal(
            RefusalCode.STALE_CARD,
            messages.STALE_CARD,
        )


def _refuse(plan: Plan, person: Person, now: datetime, is_approver: bool, action: PlanAction) -> None:
    """Raise the Refusal explaining why `permission` does not let `person` do `action` now, if it does not."""
    allowed = permission(plan, person.object_id, now, is_approver)
    if allowed.allows(action):
        return
    deciding = action in (PlanAction.APPROVE, PlanAction.DENY)
    waits = S.AWAITING_CONSENT if deciding else S.AWAITING_CREDENTIALS
    if plan.state is not waits or allowed.why is Why.NOT_WAITING:
        raise Refusal(RefusalCode.ALREADY_DECIDED, already_message(plan))
    if allowed.why is Why.EXPIRED:
        raise Refusal(RefusalCode.EXPIRED, messages.EXPIRED_CLICK if deciding else messages.CREDENTIALS_EXPIRED_CLICK)
    if allowed.why is Why.SELF_APPROVAL:
        raise Refusal(RefusalCode.SELF_APPROVAL, messages.SELF_APPROVAL)
    if allowed.why is Why.ALREADY_APPROVED_BY_YOU:
        raise Refusal(
            RefusalCode.ALREADY_APPROVED_BY_YOU,
            messages.already_approved_by_you(plan.approvals_missing),
        )
    refused = {PlanAction.GRANT: messages.NOT_A_GRANTOR, PlanAction.CANCEL: messages.NOT_A_CANCELLER}
    raise Refusal(RefusalCode.NOT_AN_APPROVER, refused.get(action, messages.NOT_AN_APPROVER))


def check_can_decide(
    plan: Plan, person: Person, seen_hash: str, now: datetime, is_approver: bool, action: PlanAction = PlanAction.DENY
) -> None:
    """Raise the Refusal that applies to `person` approving or denying `plan` now, if any."""
    _check_card(plan, seen_hash)
    _refuse(plan, person, now, is_approver, action)


def approve(plan: Plan, person: Person, seen_hash: str, now: datetime, is_approver: bool) -> Plan:
    """Add `person`'s approval; the plan becomes APPROVED once enough approvals are in."""
    check_can_decide(plan, person, seen_hash, now, is_approver, PlanAction.APPROVE)
    approvals = (*plan.approvals, Approval(person, now))
    done = len(approvals) >= plan.policy.approvals_required
    return _move(plan, S.APPROVED if done else S.AWAITING_CONSENT, approvals=approvals)


def deny(plan: Plan, person: Person, seen_hash: str, now: datetime, is_approver: bool, reason: str | None) -> Plan:
    """Any one approver's Deny ends the plan; nothing will run."""
    check_can_decide(plan, person, seen_hash, now, is_approver)
    return _move(plan, S.DENIED, decided_by=person, reason=reason, finished_at=now)


def start(plan: Plan, now: datetime) -> Plan:
    """APPROVED -> EXECUTING with the agent identity."""
    return _move(plan, S.EXECUTING, started_at=plan.started_at or now, progress="Starting")


def report_progress(plan: Plan, text: str) -> Plan:
    """Stay in the executing state, with a new progress line for the card."""
    if plan.state not in EXECUTING_STATES:
        raise Refusal(RefusalCode.WRONG_STATE, already_message(plan))
    return _move(plan, plan.state, progress=text)


def action_succeeded(plan: Plan, outcome: ActionOutcome) -> Plan:
    """Record one action's success; the plan SUCCEEDS when it was the last one."""
    next_action = plan.next_action + 1
    outcomes = (*plan.outcomes, outcome)
    if next_action >= len(plan.actions):
        return _move(plan, S.SUCCEEDED, next_action=next_action, outcomes=outcomes, finished_at=outcome.finished_at, progress=None)
    return _move(plan, plan.state, next_action=next_action, outcomes=outcomes)


def agent_refused(plan: Plan, denied: AccessDenied, outcome: ActionOutcome, now: datetime) -> Plan:
    """EXECUTING -> AWAITING_CREDENTIALS: the agent identity was refused (403)."""
    if plan.state is not S.EXECUTING:
        raise Refusal(RefusalCode.WRONG_STATE, already_message(plan))
    return _move(
        plan,
        S.AWAITING_CREDENTIALS,
        access_denied=denied,
        outcomes=(*plan.outcomes, outcome),
        expires_at=now + plan.policy.credentials_expiry,
        progress=None,
    )


def user_attempts(plan: Plan) -> int:
    """How many approvers have lent rights that Azure refused (every refusal after the agent's one)."""
    return max(0, sum(1 for o in plan.outcomes if o.status == "refused") - 1)


def user_refused(plan: Plan, denied: AccessDenied, outcome: ActionOutcome, now: datetime) -> Plan:
    """EXECUTING_AS_USER -> USER_NOT_AUTHORIZED: the user lacks the rights too.

    While the policy's credentials_attempts are not used up and the request has not expired, the plan goes back to
    AWAITING_CREDENTIALS instead (same deadline), so another approver may lend theirs.
    """
    if plan.state is not S.EXECUTING_AS_USER:
        raise Refusal(RefusalCode.WRONG_STATE, already_message(plan))
    after = replace(plan, outcomes=(*plan.outcomes, outcome))
    if user_attempts(after) < plan.policy.credentials_attempts and now < plan.expires_at:
        return _move(plan, S.AWAITING_CREDENTIALS, access_denied=denied, outcomes=after.outcomes, credentials_by=None, progress=None)
    return _move(plan, S.USER_NOT_AUTHORIZED, access_denied=denied, outcomes=after.outcomes, finished_at=now, progress=None)


def action_failed(plan: Plan, outcome: ActionOutcome, now: datetime) -> Plan:
    """Any other error stops the plan; later actions do not run."""
    return _move(plan, S.FAILED, outcomes=(*plan.outcomes, outcome), reason=outcome.detail, finished_at=now, progress=None)


def _check_credentials_open(plan: Plan, now: datetime) -> None:
    if plan.state is not S.AWAITING_CREDENTIALS:
        raise Refusal(RefusalCode.ALREADY_DECIDED, already_message(plan))
    if now >= plan.expires_at:
        raise Refusal(RefusalCode.EXPIRED, messages.CREDENTIALS_EXPIRED_CLICK)


def check_can_answer_credentials(
    plan: Plan, person: Person, seen_hash: str, now: datetime, is_approver: bool, action: PlanAction = PlanAction.GRANT
) -> None:
    """Raise the Refusal that applies to `person` granting or cancelling `plan`'s credentials request now, if any."""
    _check_card(plan, seen_hash)
    _refuse(plan, person, now, is_approver, action)


def grant_credentials(plan: Plan, person: Person, now: datetime) -> Plan:
    """AWAITING_CREDENTIALS -> EXECUTING_AS_USER with `person`'s rights."""
    _check_credentials_open(plan, now)
    return _move(plan, S.EXECUTING_AS_USER, credentials_by=person, progress="Starting with your credentials")


def cancel_credentials(plan: Plan, person: Person, now: datetime, reason: str | None = None) -> Plan:
    """AWAITING_CREDENTIALS -> CREDENTIALS_DENIED: nothing more runs; who declined, and why, stay on the plan."""
    _check_credentials_open(plan, now)
    return _move(plan, S.CREDENTIALS_DENIED, decided_by=person, reason=reason, finished_at=now, progress=None)


def expire(plan: Plan, now: datetime) -> Plan:
    """A waiting plan past its expiry becomes EXPIRED."""
    if now < plan.expires_at:
        raise Refusal(RefusalCode.WRONG_STATE, "This plan has not expired yet.")
    return _move(plan, S.EXPIRED, finished_at=now, progress=None, reason=messages.expired_reason(plan.state is S.AWAITING_CREDENTIALS))


def withdraw(plan: Plan, now: datetime, reason: str) -> Plan:
    """A waiting plan whose cause went away (its alert was resolved) becomes EXPIRED at once, saying why."""
    if plan.state not in (S.AWAITING_CONSENT, S.AWAITING_CREDENTIALS):
        raise Refusal(RefusalCode.WRONG_STATE, already_message(plan))
    return _move(plan, S.EXPIRED, finished_at=now, progress=None, reason=reason)


def interrupt(plan: Plan, now: datetime) -> Plan:
    """Found approved or executing at start-up: the process died mid-way. Never re-run by itself."""
    return _move(plan, S.INTERRUPTED, finished_at=now, progress=None, reason=messages.INTERRUPTED_REASON)
