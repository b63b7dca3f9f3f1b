"""Who may approve a plan by the configuration in force now, at the click, not only the list copied into the plan.

A plan keeps the approvers it was proposed with (a caller may only have narrowed them); the configuration can change
while it waits. An approver removed from the configuration loses the right on plans already waiting, and the people
behind an API caller (its `excludedApprovers` in API_CALLERS_FILE) never approve that caller's plans: a person who
drives an agent and also holds an approver account would otherwise approve what they asked for themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .callers import ApiCaller, find_caller
from .consent import ConsentPolicy
from .incident import ResponsePlan
from .plan import Plan, Source


@dataclass(frozen=True)
class ApproversInForce:
    """The approvers the configuration names for a plan now (listed, or in `group`), and the people it excludes."""

    approvers: frozenset[str]
    group: str | None = None
    excluded: frozenset[str] = frozenset()


NOBODY = ApproversInForce(frozenset())


def approvers_in_force(
    plan: Plan, consent: ConsentPolicy, response_plans: Sequence[ResponsePlan], callers: Sequence[ApiCaller] | None
) -> ApproversInForce | None:
    """What the configuration says of `plan`'s approvers now; None when it cannot say (a plan stored before plans knew
    their origin): then the plan's own list alone decides, as it always did."""
    if plan.source is Source.INCIDENT:
        if plan.origin is None:
            return None
        rp = next((r for r in response_plans if r.name == plan.origin), None)
        return NOBODY if rp is None else ApproversInForce(rp.responders)  # a response plan gone: nobody approves
    configured = ApproversInForce(consent.approvers, consent.approver_group)
    if plan.source is Source.API and plan.origin is not None:
        caller = find_caller(callers or (), plan.origin)
        if caller is None:
            return NOBODY  # the agent is no longer registered: its waiting plans are approved by nobody
        return ApproversInForce(configured.approvers, configured.group, caller.excluded_approvers)
    return configured
