"""Who may do what with a plan now: the one rule the transitions, the card view and `pending` all ask.

Pure: the caller says whether the person is an approver (listed, or in the approver group as the directory
answered), because only the services can ask the directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .plan import Plan, PlanState


class PlanAction(StrEnum):
    """What a person can do to a plan from its card."""

    APPROVE = "approve"
    DENY = "deny"
    GRANT = "grant"  # lend their own rights after the agent identity was refused
    CANCEL = "cancel"  # decline the credentials request: nothing more runs


class Why(StrEnum):
    """Why a person may do what they may (or nothing)."""

    MAY_DECIDE = "may_decide"  # an approver, the plan waits for consent
    MAY_LEND_CREDENTIALS = "may_lend_credentials"  # an approver, the plan waits for credentials
    ALREADY_APPROVED_BY_YOU = "already_approved_by_you"  # may still deny; approving twice counts once
    NOT_WAITING = "not_waiting"  # the plan is not waiting for anyone (running, or ended)
    EXPIRED = "expired"
    SELF_APPROVAL = "self_approval"  # they asked for it, and the policy wants someone else
    NOT_AN_APPROVER = "not_an_approver"


@dataclass(frozen=True)
class Permission:
    actions: frozenset[PlanAction]
    why: Why

    def allows(self, action: PlanAction) -> bool:
        return action in self.actions

    @property
    def awaits_you(self) -> bool:
        """The plan waits for this person: it shows them buttons and is listed by `pending`."""
        return bool(self.actions & {PlanAction.APPROVE, PlanAction.GRANT})


_NOTHING = frozenset[PlanAction]()


def permission(plan: Plan, person_id: str, now: datetime, is_approver: bool) -> Permission:
    """What `person_id` may do with `plan` at `now`, and why; the checks run in the order people are told."""
    if plan.state not in (PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS):
        return Permission(_NOTHING, Why.NOT_WAITING)
    if now >= plan.expires_at:
        return Permission(_NOTHING, Why.EXPIRED)
    if plan.state is PlanState.AWAITING_CREDENTIALS:
        # whoever asked for the plan may lend rights too: the approval is already given; only approvers may
        if not is_approver:
            return Permission(_NOTHING, Why.NOT_AN_APPROVER)
        return Permission(frozenset({PlanAction.GRANT, PlanAction.CANCEL}), Why.MAY_LEND_CREDENTIALS)
    if person_id == plan.requested_by.object_id and not plan.policy.allow_self_approval:
        return Permission(_NOTHING, Why.SELF_APPROVAL)
    if not is_approver:
        return Permission(_NOTHING, Why.NOT_AN_APPROVER)
    if any(a.approver.object_id == person_id for a in plan.approvals):
        return Permission(frozenset({PlanAction.DENY}), Why.ALREADY_APPROVED_BY_YOU)
    return Permission(frozenset({PlanAction.APPROVE, PlanAction.DENY}), Why.MAY_DECIDE)
