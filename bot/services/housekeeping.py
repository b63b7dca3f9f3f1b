"""Start-up recovery and the expiry sweeper: plans nobody is looking after any more."""

from __future__ import annotations

import logging

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import EXECUTING_STATES, WAITING_STATES, Person, Plan, PlanState
from .deps import SYSTEM, Deps
from .results import result_text

log = logging.getLogger(__name__)


async def recover_interrupted(deps: Deps) -> list[Plan]:
    """Mark plans left approved or executing by a dead process INTERRUPTED and queue the notice to their threads
    (never waits on Teams: the outbox sends it)."""
    found = await deps.store.in_states({PlanState.APPROVED, *EXECUTING_STATES})
    return [p for p in [await _end(deps, plan, AuditEventName.PLAN_INTERRUPTED) for plan in found] if p is not None]


async def expire_due(deps: Deps) -> list[Plan]:
    """Expire waiting plans past their deadline and update their cards."""
    now = deps.clock.now()
    due = [p for p in await deps.store.in_states(WAITING_STATES) if now >= p.expires_at]
    return [p for p in [await _end(deps, plan, AuditEventName.PLAN_EXPIRED) for plan in due] if p is not None]


async def _end(deps: Deps, plan: Plan, how: AuditEventName) -> Plan | None:
    now = deps.clock.now()
    try:
        after = transitions.interrupt(plan, now) if how is AuditEventName.PLAN_INTERRUPTED else transitions.expire(plan, now)
        return await deps.commit(plan, after, SYSTEM, how, card=True, reply=result_text(after))
    except (ConcurrentUpdate, Refusal):
        return None  # someone acted on it in the meantime


async def pending_for(deps: Deps, person: Person) -> list[Plan]:
    """Every plan waiting for `person` now (domain/permissions.py): consent they can give, approver-group members
    included, and credentials they can lend; oldest first."""
    plans = await deps.store.in_states(WAITING_STATES)
    waiting = [p for p in plans if (await deps.permission(p, person, group_unknown_is_approver=False)).awaits_you]
    return sorted(waiting, key=lambda p: p.created_at)
