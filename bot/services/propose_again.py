"""Propose again: a plan that ended without doing everything becomes a fresh plan with the same actions.

Never a re-run of the old plan: the new one has its own id, its own consent round under the same policy, in the
same thread; the person who clicked is its requester, so the self-approval rule applies to them.
"""

from __future__ import annotations

from dataclasses import replace

from ..domain import messages
from ..domain.audit import AuditEventName
from ..domain.errors import Refusal, RefusalCode
from ..domain.operations import Unplannable
from ..domain.plan import Mode, Person
from ..domain.transitions import PROPOSE_AGAIN_STATES
from .decide_consent import Decision
from .deps import Deps
from .planning import prepare_again
from .propose_plan import PlanRequest, propose_plan


async def propose_again(deps: Deps, plan_id: str, person: Person, seen_hash: str) -> Decision:
    """Create the new plan from `plan_id`'s actions; refusals are audited and explained, never raised."""
    old = await deps.store.get(plan_id)
    try:
        if old is None:
            raise Refusal(RefusalCode.NOT_FOUND, messages.no_plan(plan_id))
        deps.check_tenant(person)
        if seen_hash != old.content_hash:
            raise Refusal(RefusalCode.STALE_CARD, messages.STALE_CARD)
        if old.state not in PROPOSE_AGAIN_STATES:
            raise Refusal(RefusalCode.WRONG_STATE, messages.cannot_propose_again(old))
        try:  # what the approvers see, and what is sent, is planned on today's state, not the old plan's
            actions = await prepare_again(deps, old)
        except Unplannable as u:
            raise Refusal(RefusalCode.BAD_REQUEST, f"{u.message}. Nothing was proposed.") from None
        new = await propose_plan(
            deps,
            PlanRequest(
                title=old.title,
                rationale=old.rationale,
                actions=actions,
                requested_by=person,
                policy=old.policy,
                thread=replace(old.thread, card_activity_id=None) if old.thread else None,
                mode=Mode.REVIEW,  # a person asked for it: always a consent round, even after an autonomous response
                source=old.source,
                incident_id=old.incident_id,
                follow_up=old.follow_up,  # its own schedule (a response plan's, or a caller's shorter one), afresh
                origin=old.origin,  # the same configuration governs who approves it (and who may not)
            ),
        )
    except Refusal as r:
        await deps.record(old, person, AuditEventName.PROPOSE_AGAIN_REFUSED, code=r.code.value, reason=r.message)
        return Decision(old, r.message, r)
    await deps.record(new, person, AuditEventName.PLAN_PROPOSED_AGAIN, previous_plan=plan_id)
    return Decision(new, messages.proposed_again(plan_id, new.id))
