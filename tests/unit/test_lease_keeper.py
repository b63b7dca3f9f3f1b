"""The heartbeat keeps renewing a plan this instance still runs, even when one renewal lost a race with this
instance's own commit (found by the real-process test with 200 plans: approved -> executing rewrote the lease while
a renewal was in flight, the renewal was refused, and the plan was later interrupted while it was running)."""

from __future__ import annotations

import asyncio

from bot.adapters.store.leases import LeaseKeeper
from bot.domain.plan import PlanState


async def test_a_renewal_refused_because_this_instance_just_moved_the_plan_on_keeps_the_lease() -> None:
    renewals: list[str] = []
    keeper: LeaseKeeper

    async def renew(plan_id: str, owner: str, until: float) -> bool:
        renewals.append(plan_id)
        if len(renewals) == 1:  # while this renewal is in flight, the plan's execution starts (the lease is rewritten)
            keeper.saved(plan_id, PlanState.EXECUTING)
            return False  # the ETag-conditional renewal is refused: the entity was written meanwhile
        return True

    keeper = LeaseKeeper("me", 0.03, renew)
    keeper.saved("p-1", PlanState.APPROVED)
    async with asyncio.timeout(5):
        while len(renewals) < 3:  # polling the heartbeat, with a deadline
            await asyncio.sleep(0.01)
    assert keeper.held == {"p-1"}  # still ours: renewed on every beat after the refused one
    keeper.close()


async def test_a_renewal_refused_because_the_plan_ended_or_was_taken_over_lets_the_lease_go() -> None:
    renewals: list[str] = []

    async def renew(plan_id: str, owner: str, until: float) -> bool:
        renewals.append(plan_id)
        return False  # another instance recovered it, or it ended

    keeper = LeaseKeeper("me", 0.03, renew)
    keeper.saved("p-1", PlanState.EXECUTING)
    async with asyncio.timeout(5):
        while keeper.held:
            await asyncio.sleep(0.01)
    assert renewals == ["p-1"]  # given up after the first refusal, never renewed again
    keeper.close()
