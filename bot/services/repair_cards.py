"""No plan without a way to decide it: waiting plans whose card never reached Teams are found and repaired.

A plan waiting for consent or credentials is decided on its card. If the card is not in Teams and not on its way
(its outbox message was given up, a dead letter, or was never written), nobody can decide the plan and it could only
expire unseen. The sweep (and the outbox, as soon as it gives a card up) repairs such a plan once: its card is posted
again, in a newly opened thread when the first one could not be opened, with a notice saying why. If that fails too,
the plan expires at once, saying why in its thread and to its requester where they asked.
Each repair is a compare-and-set on the plan: of several instances sweeping at once, one repairs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..domain import messages as texts
from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import WAITING_STATES, Plan
from ..ports import PENDING_THREAD
from . import messages
from .deps import SYSTEM, Deps
from .results import result_text

log = logging.getLogger(__name__)
REPOSTS = 1  # a card that never reached Teams is posted again once; failing again, its plan expires


@dataclass(frozen=True)
class CardRepairs:
    """One sweep's findings: the waiting plans without a card, and what was done to each."""

    found: int = 0
    reposted: tuple[Plan, ...] = ()
    expired: tuple[Plan, ...] = ()


async def cardless(deps: Deps) -> list[Plan]:
    """Plans waiting for consent or credentials whose card is neither in Teams nor waiting in the outbox."""
    waiting = [p for p in await deps.store.in_states(WAITING_STATES) if p.thread is not None and p.thread.card_activity_id is None]
    if not waiting:
        return []
    unsent = await deps.store.cards_unsent()  # read after the plans: a card sent meanwhile makes its repair lose the CAS
    return [p for p in waiting if p.id not in unsent]


async def repair_cards(deps: Deps) -> CardRepairs:
    """Find the waiting plans without a card and repair each (the sweeper calls this)."""
    found = await cardless(deps)
    done = [(plan, await repair_card(deps, plan)) for plan in found]
    return CardRepairs(
        len(found),
        tuple(p for _, p in done if p is not None and p.state in WAITING_STATES),
        tuple(p for _, p in done if p is not None and p.state not in WAITING_STATES),
    )


async def repair_card(deps: Deps, plan: Plan) -> Plan | None:
    """Post `plan`'s card again, or expire the plan if that was tried already; None if the plan moved meanwhile (it was
    decided, its card recorded, or another instance repaired it)."""
    try:
        reposts = [e for e in await deps.audit.events(plan.id) if e.event == AuditEventName.CARD_REPOSTED]
        if len(reposts) >= REPOSTS:
            after = transitions.withdraw(plan, deps.clock.now(), texts.CARD_NEVER_SHOWN)
            log.error("plan %s expired: its card never reached Teams, posted again or not", plan.id, extra={"plan_id": plan.id})
            return await deps.commit(plan, after, SYSTEM, AuditEventName.PLAN_EXPIRED, reply=result_text(after), reason="card never posted")
        return await _repost(deps, plan)
    except (ConcurrentUpdate, Refusal):
        return None


async def _repost(deps: Deps, plan: Plan) -> Plan:
    """The card again, with a notice; first a new thread (the same channel and incident card) when the plan's thread
    could not be opened."""
    assert plan.thread is not None
    why, after, reopening = "it was given up", plan, None
    if plan.thread.conversation_id.startswith(PENDING_THREAD):
        opening = await deps.store.thread_opening(plan.thread.conversation_id)
        if opening is not None and opening.failed is not None and opening.message.thread is not None and opening.message.card:
            why = f"its thread could not be opened: {opening.failed}"
            reopening, thread = messages.open_thread(opening.message.thread, opening.message.card, plan.id)
            after = replace(plan, thread=thread)
    log.warning("plan %s: its card never reached Teams (%s); posting it again", plan.id, why, extra={"plan_id": plan.id})
    async with deps.store.unit_of_work() as uow:
        if reopening is not None:
            uow.send(reopening)
        saved = uow.save(after, expected_version=plan.version)  # compare-and-set: one instance repairs it
        uow.record(deps.event(saved, SYSTEM, AuditEventName.CARD_REPOSTED, reason=why))
        for m in messages.post_card(saved):
            uow.send(m)
        for m in messages.reply(saved, texts.card_reposted(why)):
            uow.send(m)
    return saved
