"""The state the card showed is read again before anything is sent: if it no longer holds, nothing is written, the
thread says what changed, and Propose again plans anew on the state as it is."""

from __future__ import annotations

from typing import Any

from bot.domain.operations import by_key, parse_parameters
from bot.domain.plan import PlanState
from bot.domain.resources import ResourceRef
from bot.services.decide_consent import decide_consent
from bot.services.planning import prepare
from bot.services.propose_again import propose_again
from bot.services.propose_plan import PlanRequest, propose_plan
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, CAROL, POLICY, SUB

from .conftest import THREAD

PLAN = ResourceRef.parse(f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Web/serverfarms/shop-plan")


def plan_read(capacity: int) -> dict[str, Any]:
    return {"id": PLAN.id, "name": "shop-plan", "location": "westeurope", "sku": {"name": "P1v3", "capacity": capacity}}


async def scale_approved(world: World, to: int = 4) -> str:
    """carol's `scale plan shop-plan to <to>`, planned on a plan of 3 instances, approved by alice (not yet run)."""
    world.runner.put(PLAN.id, plan_read(3))
    spec = by_key("Microsoft.Web/serverfarms/scale")
    action = await prepare(world.deps, spec, PLAN, parse_parameters(spec.params, {"capacity": to}))
    plan = await propose_plan(
        world.deps, PlanRequest("Scale App Service plan shop-plan to 4 instances", "asked", (action,), CAROL, POLICY, THREAD)
    )
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    return plan.id


async def test_unchanged_state_sends_exactly_the_stored_request(world: World) -> None:
    plan_id = await scale_approved(world)
    await world.tasks.drain()
    plan = world.plan(plan_id)
    assert plan.state is PlanState.SUCCEEDED
    ((sent, who),) = world.runner.calls
    assert sent.request == plan.actions[0].request and who == "agent"
    assert sent.request.body["sku"]["capacity"] == 4


async def test_a_capacity_changed_out_of_band_is_named_and_nothing_is_sent(world: World) -> None:
    plan_id = await scale_approved(world)
    world.runner.put(PLAN.id, plan_read(5))  # someone scaled it meanwhile
    await world.tasks.drain()
    plan = world.plan(plan_id)
    assert plan.state is PlanState.FAILED
    assert world.runner.calls == []  # nothing was written
    (reply,) = world.store.texts(plan_id)
    assert "Nothing was written: App Service plan shop-plan: its instance count is 5 now, not 3 as the card showed" in reply
    assert "Propose again" in reply


async def test_state_that_cannot_be_read_again_is_not_taken_for_granted(world: World) -> None:
    plan_id = await scale_approved(world)
    world.runner.unreadable = True
    await world.tasks.drain()
    assert world.plan(plan_id).state is PlanState.FAILED and world.runner.calls == []
    assert "could not be read to confirm it is still as the card showed" in world.store.texts(plan_id)[0]


async def test_propose_again_plans_on_the_state_as_it_is_now(world: World) -> None:
    plan_id = await scale_approved(world)
    world.runner.put(PLAN.id, plan_read(5))
    await world.tasks.drain()
    old = world.plan(plan_id)
    decision = await propose_again(world.deps, plan_id, BOB, old.content_hash)
    assert decision.plan is not None and decision.plan.id != plan_id
    (action,) = decision.plan.actions
    assert action.before[0] == ("Instance count", "5") and action.after[0] == ("Instance count", "4")
    assert action.request.body["sku"]["capacity"] == 4 and action.parameters == (("capacity", 4),)


async def test_two_actions_on_one_resource_compare_only_the_first(world: World) -> None:
    """The second action's state is changed by the first on purpose: not a reason to stop."""
    world.runner.put(PLAN.id, plan_read(3))
    spec = by_key("Microsoft.Web/serverfarms/scale")
    first = await prepare(world.deps, spec, PLAN, (("capacity", 4),))
    second = await prepare(world.deps, spec, PLAN, (("capacity", 3),))

    def scaled(action: Any, credential: Any) -> Any:
        world.runner.put(PLAN.id, plan_read(action.params["capacity"]))
        from bot.ports import RunResult, RunStatus

        return RunResult(RunStatus.SUCCEEDED, "done")

    world.runner.script.extend([scaled, scaled])
    plan = await propose_plan(world.deps, PlanRequest("Scale twice", "asked", (first, second), CAROL, POLICY, THREAD))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED and len(world.runner.calls) == 2
