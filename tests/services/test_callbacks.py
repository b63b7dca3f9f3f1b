"""An agent that asked for callbacks gets one event per change of its plan's state, written with the change."""

from __future__ import annotations

from bot.domain.callbacks import Callback
from bot.domain.consent import ConsentPolicy
from bot.domain.plan import Operation, PlannedAction, PlanState, Source
from bot.domain.plan_view import plan_summary
from bot.ports import MessageKind
from bot.services.decide_consent import decide_consent
from bot.services.propose_plan import PlanRequest, propose_plan
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, CAROL, POLICY, WEB01

from .conftest import THREAD, with_quorum

AGENT_APP = "11111111-2222-3333-4444-555555555555"


async def _propose(world: World, policy: ConsentPolicy = POLICY) -> str:
    request = PlanRequest(
        title="Restart web-01",
        rationale="asked by an agent",
        actions=(PlannedAction(Operation.RESTART, WEB01),),
        requested_by=CAROL,
        policy=policy,
        thread=THREAD,
        source=Source.API,
        callback=Callback("https://agent.example/hooks/p", AGENT_APP),
    )
    return (await propose_plan(world.deps, request)).id


def _events(world: World, plan_id: str) -> list[dict[str, object]]:
    return [m.payload["event"] for m in world.store.messages() if m.kind is MessageKind.CALLBACK and m.plan_id == plan_id]  # type: ignore[index]


async def test_each_change_of_state_after_the_proposal_is_one_event_with_that_states_data(world: World) -> None:
    world.deps.plans_url = "https://consent.contoso.example/api/plans"
    plan_id = await _propose(world)
    assert _events(world, plan_id) == []  # the proposal itself is the 202, not an event
    plan = world.plan(plan_id)
    await decide_consent(world.deps, plan_id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    events = _events(world, plan_id)
    assert [e["type"] for e in events] == [f"io.github.sre-consent-bot.plan.{s}" for s in ("approved", "executing", "succeeded")]
    assert [e["data"]["state"] for e in events] == ["approved", "executing", "succeeded"]  # type: ignore[index]
    assert events[-1]["data"] == plan_summary(world.plan(plan_id))
    assert {e["source"] for e in events} == {f"https://consent.contoso.example/api/plans/{plan_id}"}
    assert len({e["id"] for e in events}) == 3
    messages = [m for m in world.store.messages() if m.kind is MessageKind.CALLBACK]
    assert {m.key for m in messages} == {f"callback|{plan_id}"}  # one order per plan, apart from Teams'
    assert {m.payload["url"] for m in messages} == {"https://agent.example/hooks/p"}  # type: ignore[index]


async def test_a_change_that_keeps_the_state_sends_no_event(world: World) -> None:
    plan_id = await _propose(world, policy=with_quorum(2))
    plan = world.plan(plan_id)
    await decide_consent(world.deps, plan_id, ALICE, True, plan.content_hash)  # one approval of two: still waiting
    assert world.plan(plan_id).state is PlanState.AWAITING_CONSENT and _events(world, plan_id) == []
    await decide_consent(world.deps, plan_id, BOB, True, plan.content_hash)
    assert _events(world, plan_id)[0]["type"] == "io.github.sre-consent-bot.plan.approved"
