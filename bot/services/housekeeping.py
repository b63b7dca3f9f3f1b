"""Start-up recovery and the expiry sweeper: plans nobody is looking after any more."""

from __future__ import annotations

import logging
import time

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import EXECUTING_STATES, WAITING_STATES, Person, Plan, PlanState
from ..ports import Lease
from .deps import SYSTEM, Deps
from .results import result_text

log = logging.getLogger(__name__)


async def recover_interrupted(deps: Deps) -> list[Plan]:
    """Mark plans left approved or executing by a dead instance INTERRUPTED and queue the notice to their threads
    (never waits on Teams: the outbox sends it). Never re-executes anything.

    Only plans whose execution lease has lapsed are taken: a plan another live instance is running (scale-out, the
    overlap of a slot swap or a rolling restart) keeps its lease fresh and is left alone. Run at start-up and by
    the sweeper, so a plan whose instance died is ended by whichever instance is still up."""
    found = await deps.store.in_states({PlanState.APPROVED, *EXECUTING_STATES})
    # leases are wall-clock times shared by every instance, not the plans' clock (which only decides expiries)
    now = time.time()
    lapsed = [plan for plan in found if not _held(await deps.store.lease(plan.id), now)]
    return [p for p in [await _end(deps, plan, AuditEventName.PLAN_INTERRUPTED) for plan in lapsed] if p is not None]


def _held(lease: Lease | None, now: float) -> bool:
    return lease is not None and lease.until > now


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
    plans = await deps.store.waiting_for(person.object_id)
    waiting = [p for p in plans if (await deps.permission(p, person, group_unknown_is_approver=False)).awaits_you]
    return sorted(waiting, key=lambda p: p.created_at)
