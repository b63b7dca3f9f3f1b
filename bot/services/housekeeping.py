"""Start-up recovery and the expiry sweeper: plans nobody is looking after any more."""

from __future__ import annotations

import logging

from ..domain import transitions
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import EXECUTING_STATES, WAITING_STATES, Plan, PlanState
from .deps import SYSTEM, Deps
from .results import result_text

log = logging.getLogger(__name__)


async def recover_interrupted(deps: Deps) -> list[Plan]:
    """Mark plans left approved or executing by a dead process INTERRUPTED and queue the notice to their threads
    (never waits on Teams: the outbox sends it)."""
    found = await deps.store.in_states({PlanState.APPROVED, *EXECUTING_STATES})
    return [p for p in [await _end(deps, plan, "interrupted") for plan in found] if p is not None]


async def expire_due(deps: Deps) -> list[Plan]:
    """Expire waiting plans past their deadline and update their cards."""
    now = deps.clock.now()
    due = [p for p in await deps.store.in_states(WAITING_STATES) if now >= p.expires_at]
    return [p for p in [await _end(deps, plan, "expired") for plan in due] if p is not None]


async def _end(deps: Deps, plan: Plan, how: str) -> Plan | None:
    now = deps.clock.now()
    try:
        after = transitions.interrupt(plan, now) if how == "interrupted" else transitions.expire(plan, now)
        return await deps.commit(plan, after, SYSTEM, f"plan_{how}", card=True, reply=result_text(after))
    except (ConcurrentUpdate, Refusal):
        return None  # someone acted on it in the meantime


async def pending_for(deps: Deps, object_id: str) -> list[Plan]:
    """Plans awaiting a decision that `object_id` may give and has not given yet."""
    plans = await deps.store.in_states({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})
    now = deps.clock.now()
    return [
        p for p in plans
        if p.expires_at > now and p.policy.names_approver(object_id)
        and object_id not in {a.approver.object_id for a in p.approvals}
    ]
