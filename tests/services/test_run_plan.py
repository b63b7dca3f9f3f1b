"""Running a plan: the card follows what Azure reports, without spending Teams' rate limits on updates that say
nothing new."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.plan import PlanState
from bot.ports import MessageKind
from bot.services.decide_consent import decide_consent
from bot.services.run_plan import PROGRESS_EVERY
from tests.fakes import World
from tests.unit.factories import ALICE

from .conftest import propose

POLL = timedelta(seconds=PROGRESS_EVERY * 2)  # polls far enough apart that the pace alone would allow each update


def card_updates(world: World, plan_id: str) -> int:
    return sum(1 for m in world.store.messages() if m.plan_id == plan_id and m.kind is MessageKind.UPDATE_CARD)


async def run_with_polls(world: World, statuses: list[str]) -> str:
    world.runner.polls = [(POLL, status) for status in statuses]
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED
    return plan.id


async def test_the_same_status_at_every_poll_updates_the_card_once(world: World) -> None:
    quiet = await run_with_polls(world, ["Azure reports InProgress"])
    repeated = await run_with_polls(world, ["Azure reports InProgress"] * 20)
    assert card_updates(world, repeated) == card_updates(world, quiet)


async def test_each_new_status_updates_the_card(world: World) -> None:
    one = await run_with_polls(world, ["Azure reports InProgress"])
    two = await run_with_polls(world, ["Azure reports InProgress", "Azure reports Finalizing"])
    assert card_updates(world, two) == card_updates(world, one) + 1


async def test_statuses_closer_than_the_pace_are_not_all_shown(world: World) -> None:
    world.runner.polls = [(timedelta(seconds=PROGRESS_EVERY / 10), f"Azure reports step {i}") for i in range(10)]
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    paced = card_updates(world, plan.id)
    slow = await run_with_polls(world, [f"Azure reports step {i}" for i in range(10)])
    assert paced < card_updates(world, slow)
