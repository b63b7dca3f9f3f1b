"""Who may approve a plan by the configuration in force now, at the click, not only the list copied into the plan.

A plan keeps the approvers it was proposed with (a caller may only have narrowed them; an escalation widens them);
the configuration can change while it waits. An approver removed from the configuration loses the right on plans
already waiting, and the people behind an API caller (its `excludedApprovers` in API_CALLERS_FILE) never approve that
caller's plans: a person who drives an agent and also holds an approver account would otherwise approve what they
asked for themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .callers import ApiCaller, find_caller
from .consent import ConsentPolicy
from .follow_up import Escalation
from .incident import ResponsePlan
from .plan import Plan, Source


@dataclass(frozen=True)
class ApproversInForce:
    """The approvers the configuration names for a plan now (listed, or in one of `groups`), and the people it
    excludes from it."""

    approvers: frozenset[str]
    groups: tuple[str, ...] = ()
    excluded: frozenset[str] = frozenset()


NOBODY = ApproversInForce(frozenset())


def approvers_in_force(
    plan: Plan,
    consent: ConsentPolicy,
    response_plans: Sequence[ResponsePlan],
    callers: Sequence[ApiCaller] | None,
    escalation: Escalation = Escalation(),
) -> ApproversInForce | None:
    """What the configuration says of `plan`'s approvers now, its escalation included once the plan escalated (the
    response plan's own, else `escalation`, ESCALATION_APPROVERS and ESCALATION_GROUP_ID); None when it cannot say (a
    plan stored before plans knew their origin): then the plan's own list alone decides, as it always did."""
    if plan.source is Source.INCIDENT:
        if plan.origin is None:
            return None
        rp = next((r for r in response_plans if r.name == plan.origin), None)
        if rp is None:
            return NOBODY  # the response plan was removed: nobody approves its waiting plans
        own = rp.follow_up.escalate_to if rp.follow_up is not None else escalation
        return _escalated(plan, ApproversInForce(rp.responders), own)
    configured = ApproversInForce(consent.approvers, (consent.approver_group,) if consent.approver_group else ())
    if plan.source is Source.API and plan.origin is not None:
        caller = find_caller(callers or (), plan.origin)
        if caller is None:
            return NOBODY  # the agent is no longer registered: its waiting plans are approved by nobody
        configured = ApproversInForce(configured.approvers, configured.groups, caller.excluded_approvers)
    return _escalated(plan, configured, escalation)


def _escalated(plan: Plan, base: ApproversInForce, escalation: Escalation) -> ApproversInForce:
    """`base` widened to the configured escalation once the plan escalated (escalation widens who approves)."""
    if plan.follow_up.escalated_at is None:
        return base
    groups = base.groups + ((escalation.group,) if escalation.group else ())
    return ApproversInForce(base.approvers | escalation.approvers, groups, base.excluded)
